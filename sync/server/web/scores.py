"""The emulation score page (chấm điểm thi đua): ``/admin/scores?period=2026``.

Viewers read the scores of every unit and officer for a year or any period the dashboard
takes (reports/periods.py), with the points per criterion and why; admins also set the
province's criteria (a form, CSRF, checked field by field: reports/scoring.py). The Excel
table and the Word annex ("Phụ lục: Kết quả chấm điểm thi đua") download from here.

Reads through ``app.state.reader``; the criteria are saved in one write transaction.
A period, unit or format that means nothing is answered 422 with a message, never a 500.
"""
from __future__ import annotations

import io
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sync.protocol import nfc
from sync.server.core import db
from sync.server.reports import periods, report_docx, scoring
from sync.server.web.base import (
    checked_form,
    error_page,
    open_alert_count,
    period_choices,
    render,
    report_issuer,
    require_user,
    session_lang,
    stats_context,
    tr,
    translator,
    user_scope,
)

router = APIRouter(include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _choices(today, _) -> list[tuple[str, str]]:
    """Years first (the council scores a year), then the dashboard's recent periods."""
    years = [(periods.year(y).key, periods.year(y).label(_)) for y in (today.year, today.year - 1, today.year - 2)]
    return years + [c for c in period_choices(today, _) if c[0] not in dict(years)]


def _query(request: Request, _) -> tuple[periods.Period, str | None, list[str]]:
    """(period, unit, messages) of the query string; what means nothing is named in a message."""
    q = request.query_params
    notes = []
    today = periods.today_vn()
    raw = q.get("period")
    try:
        period = periods.parse(raw) if raw else periods.year(today.year)
    except periods.PeriodError as exc:
        notes.append(_("Kỳ chấm điểm không hợp lệ: {why}. Đang xem năm {y}.", why=str(exc)[:200], y=today.year))
        period = periods.year(today.year)
    unit = nfc(q.get("unit") or "").strip() or None
    if unit and len(unit) > 200:
        notes.append(_("Mã đơn vị quá dài: đã bỏ lọc theo đơn vị."))
        unit = None
    if unit:
        with request.app.state.reader.connect() as conn:
            known = conn.execute(select(db.units.c.code).where(db.units.c.code == unit)).first()
        if known is None:
            notes.append(_("Không có đơn vị mã «{code}»: đang xem mọi đơn vị.", code=unit[:40]))
            unit = None
    scope = user_scope(request)     # a commune's user: their unit's scores, never the others'
    if unit:
        scope.check(unit, "see another unit's scores")
    return period, unit if scope.every_unit else scope.unit, notes


def _sheet(request: Request, period, unit, lang):
    stats, names, _sv = stats_context(request)
    with request.app.state.reader.connect() as conn:
        result = scoring.sheet(stats, conn, period, periods.today_vn(), unit=unit, tr=translator(lang),
                               decimal="." if lang == "en" else ",")
    return result, names


def _page(request: Request, user: dict, period, unit, notes: list[str], status: int = 200,
          form: dict | None = None, form_error: dict | None = None, saved: bool = False):
    _ = tr(request)
    lang = session_lang(request)
    result, names = _sheet(request, period, unit, lang)
    decimal = "." if lang == "en" else ","
    qs = urlencode({"period": period.key, **({"unit": unit} if unit else {})})
    return render(request, "scores.html", status=422 if notes and status == 200 else status,
                  user=user, result=result, period=period, unit=unit, notes=notes, qs=qs,
                  choices=_choices(periods.today_vn(), _), names=names,
                  classes=scoring.CLASSES, not_enough=scoring.NOT_ENOUGH, criteria_names=scoring.CRITERIA,
                  fields=scoring.FORM_FIELDS, form=form or scoring.form_values(result.criteria, decimal),
                  form_error=form_error, saved=saved, is_default=scoring.is_default(result.criteria),
                  num=lambda v: scoring.fmt_number(v, decimal), rate=lambda v: scoring.fmt_rate(v, decimal),
                  open_alerts=open_alert_count(request))


@router.get("/admin/scores")
def scores_page(request: Request):
    user = require_user(request)
    _ = tr(request)
    period, unit, notes = _query(request, _)
    return _page(request, user, period, unit, notes, saved=request.query_params.get("saved") == "1")


@router.post("/admin/scores/criteria")
async def save_criteria(request: Request):
    """Save the province's criteria (admins): every field checked, the first bad one named."""
    user = require_user(request, "admin")
    user_scope(request).require_all("change the scoring criteria of every unit")
    form = await checked_form(request)
    _ = tr(request)
    try:
        period = periods.parse(form.get("period", "")) if form.get("period") else periods.year(periods.today_vn().year)
    except periods.PeriodError:
        period = periods.year(periods.today_vn().year)
    try:
        doc = scoring.check_criteria({}) if form.get("reset") else scoring.criteria_from_form(form)
    except scoring.CriteriaError as exc:
        label = scoring.FORM_FIELDS.get(exc.field, (exc.field, ""))[0]
        error = {"field": exc.field, "text": _("{field}: {why}", field=_(label), why=_(exc.message, **exc.kw))}
        typed = {name: str(form.get(name, ""))[:300] for name in scoring.FORM_FIELDS}
        return _page(request, user, period, None, [], status=422, form=typed, form_error=error)
    with request.app.state.engine.begin() as conn:
        scoring.save_criteria(conn, doc)
    return RedirectResponse(f"/admin/scores?{urlencode({'period': period.key, 'saved': '1'})}", status_code=303)


@router.get("/admin/scores/export")
def scores_export(request: Request, fmt: str = "xlsx"):
    """The scores as Excel (``fmt=xlsx``) or as the Word annex (``fmt=docx``)."""
    require_user(request)
    _ = tr(request)
    period, unit, notes = _query(request, _)
    if notes or fmt not in ("xlsx", "docx"):
        return error_page(request, 422, notes[0] if notes else _("Định dạng không hợp lệ: chọn xlsx hoặc docx."))
    base = f"hailong-{period.key.replace('..', '_')}-cham-diem-thi-dua"
    if fmt == "xlsx":
        result, _names = _sheet(request, period, unit, session_lang(request))
        buf = io.BytesIO()
        scoring.write_xlsx(result, buf, _)
        return Response(buf.getvalue(), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{base}.xlsx"'})
    # the annex is an official document: Vietnamese, whatever the page's language
    result, _names = _sheet(request, period, unit, "vi")
    with request.app.state.reader.connect() as conn:
        issuer = report_issuer(conn)
    body = report_docx.score_annex(result, issuer, periods.today_vn())
    return Response(body, media_type=DOCX, headers={"Content-Disposition": f'attachment; filename="{base}.docx"'})
