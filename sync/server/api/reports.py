"""The dashboard's figures as JSON, for scripts (admin or viewer API token).

The same statistics as the pages (reports/stats.py through the read-only
engine) and the same trend step (reports/periods.trend_step).

Surveys (0.5): ``surveys`` breaks the filter down per survey (each rating
judged by its own survey), ``timeliness`` gives the on-time rate per officer
and per procedure beside the satisfaction rate, and with ``survey=ID``
everything is of that survey's ratings and ``questions`` gives each
question's counts per level, answered, skipped and rate.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from sync.protocol import nfc
from sync.server.api.auth import current_user
from sync.server.core.scope import Scope
from sync.server.core.settings import known_surveys
from sync.server.reports import periods
from sync.server.reports import survey_results as sr
from sync.server.reports.stats import TREND_STEPS, Filter, town_stats

router = APIRouter(tags=["admin"])


def _figures_json(f) -> dict:
    return {"key": f.key, "total": f.total, "misuse": f.misuse, "valid": f.valid,
            "satisfied": f.satisfied, "rate": f.rate, "levels": {str(k): v for k, v in f.levels.items()}}


def _survey_json(f: sr.SurveyFigures) -> dict:
    return {"id": f.survey_id, "title": {"vi": f.title_vi, "en": f.title_en}, "by": f.by, "campaign": f.campaign,
            "total": f.total, "misuse": f.misuse, "valid": f.valid, "satisfied": f.satisfied, "rate": f.rate,
            "on_time": f.on_time, "late": f.late, "on_time_rate": f.on_time_rate}


def _question_json(q: sr.QuestionFigures) -> dict:
    return {"code": q.code, "text": {"vi": q.text_vi, "en": q.text_en}, "scale": q.scale,
            "levels": {str(k): v for k, v in q.levels.items()},
            "labels": {str(k): {"vi": vi, "en": en} for k, (vi, en) in q.labels.items()},
            "satisfied_levels": list(q.satisfied_levels), "answered": q.answered, "skipped": q.skipped,
            "satisfied": q.satisfied, "rate": q.rate}


def _timeliness_json(t: sr.TimelinessFigures) -> dict:
    return {"key": t.key, "name": t.name, "on_time": t.on_time, "late": t.late, "on_time_rate": t.on_time_rate,
            "valid": t.valid, "satisfied": t.satisfied, "rate": t.rate}


@router.get("/api/v1/reports/dashboard", summary="Satisfaction figures for a period (admin or viewer API token)")
def report_api(request: Request, period: str | None = None, unit: str | None = None, desk: str | None = None,
               officer: str | None = None, procedure: str | None = None, step: str | None = None,
               survey: str | None = None, user: dict = Depends(current_user)):
    """period: 2026 | 2026-11 | 2026-Q4 | 2026-H2 | 2026-11-01..2026-11-28 (default: this quarter).

    rate = satisfied ÷ valid × 100, one decimal; misuse-flagged ratings are in
    total and misuse but not in valid, levels or reasons. survey: a survey id
    (hl3, a campaign's id…): only its ratings, and ``questions`` per question.
    on_time_rate = on_time ÷ (on_time + late) × 100 (ratings from a receipt
    that carried the appointment date).
    """
    try:
        p = periods.parse(period) if period else periods.containing("quarter", periods.today_vn())
    except periods.PeriodError as exc:
        raise HTTPException(422, str(exc)) from None
    step = step or periods.trend_step(p)
    if step not in TREND_STEPS:
        raise HTTPException(422, "step: must be day, week or month")
    reader = request.app.state.reader
    doc = None
    if survey:
        survey = nfc(survey)
        with reader.connect() as conn:
            doc = known_surveys(conn).get(survey)
        if doc is None:
            raise HTTPException(422, f"survey: no survey with id {survey[:64]!r} on this server")
    scope = Scope.of(user)     # a commune's token: its unit's figures only (core/scope.py)
    if unit and not scope.allows(unit):
        raise HTTPException(403, f"unit: this token sees unit {scope.unit} only")
    unit = unit if scope.every_unit else scope.unit
    stats = town_stats(reader)
    flt = Filter(p, unit=unit, desk=desk, officer=officer, procedure=procedure, survey=survey or None)
    dash = stats.dashboard(flt, step, comments=0)
    extra = {"surveys": [_survey_json(f) for f in sr.survey_breakdown(reader, flt)],
             "timeliness": {d: [_timeliness_json(t) for t in sr.timeliness(reader, flt, d)]
                            for d in ("officer", "procedure")}}
    if doc is not None:
        extra["survey"] = survey
        extra["questions"] = [_question_json(q) for q in sr.question_results(reader, flt, doc)]
    return {"period": {"key": p.key, "label": p.label(), "start": p.start.isoformat(), "end": p.end.isoformat()},
            "overall": _figures_json(dash.overall),
            "by": {d: [_figures_json(f) for f in rows] for d, rows in dash.by.items()},
            "trend": {"step": step, "points": [_figures_json(f) for f in dash.trend]},
            "reasons": dash.reasons,
            # of the ratings naming each reason, the satisfied ones (praise); added in 0.3
            "reasons_satisfied": dash.reasons_satisfied,
            # per survey, on time per officer and procedure; with survey=, its questions (0.5)
            **extra}
