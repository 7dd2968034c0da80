"""A survey's own report as Word: ``GET /admin/surveys/{id}/report.docx?period=…&lang=vi|en``
(or ``?from=YYYY-MM-DD&to=YYYY-MM-DD``, as the dashboard takes days).

Viewers and admins. The period is the campaign's days by default (a survey
without days: this month), or any period the dashboard takes (reports/periods.py);
``lang=en`` gives the English version (the document is Vietnamese by default,
whatever the page's language: it is an official document). An unknown survey
is a 404 page, a period or language that means nothing a 422 page naming the
field; reads only (``app.state.reader``). The layout and the findings:
reports/campaign_docx.py.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sync.protocol import nfc
from sync.server.core.settings import known_surveys
from sync.server.reports import campaign_docx, periods
from sync.server.web.base import error_page, report_issuer, require_user, tr, user_scope

router = APIRouter(include_in_schema=False)


@router.get("/admin/surveys/{survey_id}/report.docx")
def survey_report(request: Request, survey_id: str):
    require_user(request)
    _ = tr(request)
    sid = nfc(survey_id)
    reader = request.app.state.reader
    with reader.connect() as conn:
        doc = known_surveys(conn).get(sid) if len(sid) <= 64 else None
        issuer = report_issuer(conn)
    if doc is None:
        return error_page(request, 404, _("Không có khảo sát mã «{id}».", id=sid[:64]))
    q = request.query_params
    lang = q.get("lang") or "vi"
    if lang not in campaign_docx.LANGUAGES:
        return error_page(request, 422, _("lang: chọn vi (tiếng Việt) hoặc en (tiếng Anh), không phải «{got}».",
                                          got=lang[:20]))
    raw = q.get("period")
    if not raw and (q.get("from") or q.get("to")):       # the dashboard's way: ?from=YYYY-MM-DD&to=YYYY-MM-DD
        if not (q.get("from") and q.get("to")):
            return error_page(request, 422, _("from, to: cho cả ngày bắt đầu và ngày kết thúc (YYYY-MM-DD)."))
        raw = f"{q['from']}..{q['to']}"
    try:
        period = periods.parse(raw) if raw else campaign_docx.default_period(doc)
    except periods.PeriodError as exc:
        return error_page(request, 422, _("period: {why}", why=str(exc)[:200]))
    data = campaign_docx.gather(reader, doc, period, lang, unit=user_scope(request).unit)
    body = campaign_docx.render(data, issuer, periods.today_vn())
    return Response(body, media_type=campaign_docx.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{campaign_docx.file_name(data)}"'})
