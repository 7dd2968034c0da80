"""The dashboard's figures as JSON, for scripts (admin or viewer API token).

The same statistics as the pages (reports/stats.py through the read-only
engine) and the same trend step (reports/periods.trend_step).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from sync.server.api.auth import current_user
from sync.server.reports import periods
from sync.server.reports.stats import TREND_STEPS, Filter, town_stats

router = APIRouter(tags=["admin"])


def _figures_json(f) -> dict:
    return {"key": f.key, "total": f.total, "misuse": f.misuse, "valid": f.valid,
            "satisfied": f.satisfied, "rate": f.rate, "levels": {str(k): v for k, v in f.levels.items()}}


@router.get("/api/v1/reports/dashboard", summary="Satisfaction figures for a period (admin or viewer API token)")
def report_api(request: Request, period: str | None = None, unit: str | None = None, desk: str | None = None,
               officer: str | None = None, procedure: str | None = None, step: str | None = None,
               user: dict = Depends(current_user)):
    """period: 2026 | 2026-11 | 2026-Q4 | 2026-H2 | 2026-11-01..2026-11-28 (default: this quarter).

    rate = satisfied ÷ valid × 100, one decimal; misuse-flagged ratings are in
    total and misuse but not in valid, levels or reasons.
    """
    try:
        p = periods.parse(period) if period else periods.containing("quarter", periods.today_vn())
    except periods.PeriodError as exc:
        raise HTTPException(422, str(exc)) from None
    step = step or periods.trend_step(p)
    if step not in TREND_STEPS:
        raise HTTPException(422, "step: must be day, week or month")
    stats = town_stats(request.app.state.reader)
    flt = Filter(p, unit=unit, desk=desk, officer=officer, procedure=procedure)
    dash = stats.dashboard(flt, step, comments=0)
    return {"period": {"key": p.key, "label": p.label(), "start": p.start.isoformat(), "end": p.end.isoformat()},
            "overall": _figures_json(dash.overall),
            "by": {d: [_figures_json(f) for f in rows] for d, rows in dash.by.items()},
            "trend": {"step": step, "points": [_figures_json(f) for f in dash.trend]},
            "reasons": dash.reasons,
            # of the ratings naming each reason, the satisfied ones (praise); added in 0.3
            "reasons_satisfied": dash.reasons_satisfied}
