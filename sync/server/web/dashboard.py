"""The figures: the dashboard, an officer's page, the citizens' comments, and the exports
(CSV, Excel, the Word report).

Reads only: the statistics come from the roll-up that ingest folds when a
batch commits, through ``app.state.reader``.

Surveys (issue 12): the filters hold a survey chooser; "Theo khảo sát"
gives each survey's ratings, satisfaction rate and on-time rate; with a
survey chosen, every figure is of its ratings, the levels carry its own
labels and each extra question shows its answers per level and its rate;
without one, the counts per level are shown per survey (each on its own
scale). "Đúng hẹn" sets the on-time rate per procedure and per officer
beside the satisfaction rate (reports/survey_results.py).
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy import select

from sync.server.core import cases as case_rules
from sync.server.core import db
from sync.server.core.settings import custom_surveys, default_survey_id
from sync.server.reports import charts, exports, periods, report_docx
from sync.server.reports import survey_results as sr
from sync.server.reports.stats import Figures, satisfied_levels
from sync.server.web.base import (
    alert_rule_values,
    csp_safe_svg,
    error_page,
    filter_from_query,
    filter_query,
    local_time,
    open_alert_count,
    period_choices,
    render,
    report_issuer,
    require_user,
    scale_labels,
    session_lang,
    stats_context,
    tr,
    user_scope,
)

router = APIRouter(include_in_schema=False)


#: comments per page of /admin/comments
COMMENTS_PER_PAGE = 50


def _level_words(stats, lang: str) -> dict:
    """The per-level labels, and the words that tell the satisfied total from the level "Hài lòng":
    which levels count as satisfied ("Rất hài lòng + Hài lòng"). A survey's own labels when the
    figures are of one survey (stats.for_survey)."""
    doc = stats.survey_doc
    if doc is not None:
        levels = {lv: stats.level_label(lv, english=lang == "en") for lv in stats.levels}
        chosen = [lv for lv in stats.levels if lv in set(doc.get("satisfied") or ())]
    else:
        levels = scale_labels(stats.scale, lang)
        chosen = satisfied_levels(stats.scale)
    return {"levels": levels, "satisfied_levels": " + ".join(levels[lv] for lv in chosen if lv in levels)}


def survey_figures(reader, stats, flt, lang: str = "vi") -> dict:
    """What the pages show of surveys: the breakdown, the chooser, the questions of the chosen
    survey (or each survey's counts per level when there are several), on time beside satisfaction.
    A few small GROUP BYs of the roll-up (benchmarks/dashboard_surveys_5m.py times them)."""
    rows = sr.survey_breakdown(reader, flt)
    everything = rows if not flt.survey else sr.survey_breakdown(reader, replace(flt, survey=None))
    with reader.connect() as conn:
        custom = custom_surveys(conn)
        default = default_survey_id(conn)
    ids = [f.survey_id for f in everything] + [default] + sorted(custom) + ([flt.survey] if flt.survey else [])
    choices = []
    for sid in dict.fromkeys(ids):
        doc = stats.surveys.get(sid)
        if doc is not None:
            choices.append((sid, sr.title_of(doc, lang, sid)))
    questions, headlines = None, []
    if flt.survey and stats.survey_doc is not None:
        questions = sr.question_results(reader, flt, stats.survey_doc)[1:]
    elif len(rows) > 1 or (rows and rows[0].survey_id != f"hl{stats.scale}"):
        # several surveys, or one that is not the town's built-in scale (an officer at a campaign's
        # desk): each survey's levels in its own words, not the default scale's
        for f in rows:
            doc = stats.surveys.get(f.survey_id)
            if doc is not None:
                headlines.append((f, sr.question_results(reader, flt, {**doc, "questions": []})[0]))
    dims = ("procedure",) if flt.officer else ("procedure", "officer")
    on_time = {d: [t for t in sr.timeliness(reader, flt, d) if t.dated] for d in dims}
    dated = sum(f.on_time + f.late for f in rows)
    return {"survey_rows": rows, "survey_choices": choices, "questions": questions, "headlines": headlines,
            "on_time": on_time, "dated": dated, "on_time_total": sum(f.on_time for f in rows),
            "on_time_rate": sr.on_time_rate(sum(f.on_time for f in rows), sum(f.late for f in rows)),
            "survey_qs": lambda sid: filter_query(replace(flt, survey=sid)),
            "chosen_survey": next((f for f in rows if f.survey_id == flt.survey), None)}


@lru_cache(maxsize=128)
def _trend_chart(points: tuple, labels: tuple[str, str, str], decimal: str) -> str:
    """The trend chart's SVG (matplotlib: ~0.3–0.8 s a drawing, more than every figure of a year
    from the roll-up), drawn once per distinct trend, labels and decimal mark."""
    trend = [Figures(key=k, total=t, misuse=m, valid=v, satisfied=s) for k, t, m, v, s in points]
    return csp_safe_svg(charts.trend_svg(trend, labels=labels, decimal=decimal))


def trend_chart(trend: list, labels: tuple[str, str, str], decimal: str) -> str:
    return _trend_chart(tuple((f.key, f.total, f.misuse, f.valid, f.satisfied) for f in trend), labels, decimal)


def _render_figures(request: Request, template: str, stats, flt, comments: int, **ctx) -> HTMLResponse:
    """A page of figures for ``flt`` (the dashboard, an officer): figures, trend chart, labels."""
    step = periods.trend_step(flt.period)
    if flt.survey:
        stats = stats.for_survey(flt.survey)
    dash = stats.dashboard(flt, step, comments=comments)
    lang = session_lang(request)
    _ = tr(request)
    # a period that means nothing: the page of the current quarter, saying why, as a 422
    status = 422 if ctx.get("error") else 200
    today = periods.today_vn()
    return render(request, template, status=status, flt=flt, dash=dash, step=step,
                  choices=period_choices(today, _),
                  chart=Markup(trend_chart(dash.trend, (_("Tỷ lệ hài lòng (%)"), _("Số đánh giá hợp lệ"),
                                                        _("Chưa có đánh giá trong kỳ")), "." if lang == "en" else ",")),
                  **_level_words(stats, lang),
                  reason_labels={c: (en if lang == "en" else vi) for c, (vi, en) in stats.reasons.items()},
                  comment_total=stats.comment_count(flt), until=periods.data_until(flt.period, today),
                  fmt_time=local_time,
                  filter_qs=filter_query(flt), open_alerts=open_alert_count(request),
                  low_below=float(alert_rule_values(request)["officer_rate_below"]),
                  **survey_figures(request.app.state.reader, stats, flt, lang), **ctx)


@router.get("/admin")
def dashboard(request: Request):
    user = require_user(request)
    stats, names, _sv = stats_context(request)
    flt, error = filter_from_query(request)
    return _render_figures(request, "dashboard.html", stats, flt, comments=15, user=user, error=error,
                           names=names)


@router.get("/admin/officers/{officer_id}")
def officer_page(request: Request, officer_id: str):
    user = require_user(request)
    stats, names, _sv = stats_context(request)
    flt, error = filter_from_query(request)
    flt.officer = officer_id
    scope = user_scope(request)
    with request.app.state.reader.connect() as conn:
        officer = conn.execute(select(db.officers).where(db.officers.c.id == officer_id)).mappings().first()
        mine = scope.allows_officer(conn, officer_id)
        # the officer's cases, open ones first (overdue, then by due date), then the closed
        n_cases, cases = case_rules.list_cases(conn, officer=officer_id, limit=50, scope=scope)
    # another unit's officer is, to a commune's user, no officer (the name is not theirs to see)
    if not mine or (officer is None and officer_id not in names["officer"]):
        _ = tr(request)
        return error_page(request, 404, _("Không có cán bộ mã {code}.", code=officer_id), user=user)
    return _render_figures(request, "officer.html", stats, flt, comments=30, user=user, error=error,
                           names=names, officer=dict(officer) if officer else {"id": officer_id, "name": officer_id},
                           cases=cases, n_cases=n_cases, case_kinds=case_rules.KIND_LABELS,
                           case_statuses=case_rules.STATUS_LABELS)


@router.get("/admin/comments")
def comments_page(request: Request):
    """Every comment of the dashboard's filter (period, unit, desk, officer, procedure), newest
    first, a page at a time. Reads only; the text is escaped like every value on the pages."""
    user = require_user(request)
    stats, names, _sv = stats_context(request)
    flt, error = filter_from_query(request)
    lang = session_lang(request)
    _ = tr(request)
    total = stats.comment_count(flt, exact=True)
    pages = max(1, -(-total // COMMENTS_PER_PAGE))
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    page = min(max(page, 1), pages)
    rows = stats.comments(flt, COMMENTS_PER_PAGE, (page - 1) * COMMENTS_PER_PAGE)
    today = periods.today_vn()
    return render(request, "comments.html", status=422 if error else 200, user=user, error=error,
                  flt=flt, names=names, rows=rows, total=total, page=page, pages=pages,
                  first=(page - 1) * COMMENTS_PER_PAGE + 1 if rows else 0,
                  last=(page - 1) * COMMENTS_PER_PAGE + len(rows),
                  choices=period_choices(today, _), until=periods.data_until(flt.period, today),
                  levels=scale_labels(stats.scale, lang), fmt_time=local_time,
                  reason_labels={c: (en if lang == "en" else vi) for c, (vi, en) in stats.reasons.items()},
                  filter_qs=filter_query(flt), open_alerts=open_alert_count(request))


@router.get("/admin/export")
def export(request: Request, fmt: str = "csv"):
    require_user(request)
    flt, error = filter_from_query(request)
    if error or fmt not in ("csv", "xlsx", "docx"):
        _ = tr(request)
        return error_page(request, 422, error or _("Định dạng xuất không hợp lệ: chọn csv, xlsx hoặc docx."))
    stats, names, sv = stats_context(request)
    base = f"hailong-{flt.period.key.replace('..', '_')}"
    if fmt == "docx":
        data = report_docx.gather(stats, flt, names)
        with request.app.state.reader.connect() as conn:
            issuer = report_issuer(conn)
        body = report_docx.report(data, issuer, periods.today_vn())
        # an officer's report (the officer page's link keeps officer=…) is named after the officer
        return Response(body, media_type="application/vnd.openxmlformats-officedocument."
                        "wordprocessingml.document",
                        headers={"Content-Disposition": f'attachment; filename="{report_docx.file_name(data)}"'})
    # a year of a busy town is hundreds of MB: spill to disk, not to memory
    buf = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    exports.export(request.app.state.reader, flt, fmt, buf, scale=sv["scale"])
    media = ("text/csv; charset=utf-8" if fmt == "csv"
             else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    buf.seek(0)

    def chunks():
        with buf:
            yield from iter(lambda: buf.read(256 * 1024), b"")
    return StreamingResponse(chunks(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{base}.{fmt}"'})
