"""The office's paperwork: letters to citizens (Word files) and who issues the Word report.

A letter is made on request and not stored (nothing is written); the
issuer's settings are saved through ``admin_ops.set_report_issuer``.
"""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync.server.core import admin_ops
from sync.server.reports import letters_docx, periods
from sync.server.web.base import (
    ISSUER_FIELDS,
    checked_form,
    error_page,
    names,
    open_alert_count,
    render,
    report_issuer,
    require_user,
    tr,
)

router = APIRouter(include_in_schema=False)


# --- report settings ----------------------------------------------------------------

@router.post("/admin/settings/report")
async def report_settings(request: Request):
    require_user(request, "admin")
    form = await checked_form(request)
    values = {f: form.get(f, "") for f, _label in ISSUER_FIELDS}
    with request.app.state.engine.begin() as conn:
        admin_ops.set_report_issuer(conn, values)
    return RedirectResponse("/admin/roster?saved=report#report", status_code=303)


# --- letters --------------------------------------------------------------------------

LETTER_KINDS = {"cam_on": "Thư cảm ơn", "xin_loi_hen_lai": "Thư xin lỗi và hẹn lại"}
LETTER_FIELDS = [("name", "Họ tên công dân"), ("dossier", "Mã hồ sơ"), ("procedure", "Thủ tục"),
                 ("officer", "Cán bộ phụ trách"), ("new_date", "Ngày hẹn mới (dd/mm/yyyy)")]


@router.get("/admin/letters")
def letters_page(request: Request):
    user = require_user(request)
    with request.app.state.reader.connect() as conn:
        found = names(conn)
    return render(request, "letters.html", user=user, kinds=LETTER_KINDS, fields=LETTER_FIELDS, names=found,
                  open_alerts=open_alert_count(request))


@router.post("/admin/letters")
async def letter_download(request: Request):
    """A POST only because the form carries a citizen's name: the letter is made, not stored."""
    require_user(request)
    form = await checked_form(request)
    _ = tr(request)
    kind = form.get("kind", "")
    values = {f: form.get(f, "").strip()[:200] for f, _label in LETTER_FIELDS}
    error = None
    if kind not in LETTER_KINDS:
        error = _("Chọn loại thư.")
    elif kind == "xin_loi_hen_lai":
        try:
            values["new_date"] = datetime.strptime(values["new_date"], "%d/%m/%Y").strftime("%d/%m/%Y")
        except ValueError:
            error = _("Ngày hẹn mới phải có dạng ngày/tháng/năm, ví dụ 05/12/2026.")
    if error:
        return error_page(request, 422, error)
    with request.app.state.reader.connect() as conn:
        issuer = report_issuer(conn)
    body = letters_docx.letter(kind, values, issuer, periods.today_vn())
    name = f"thu-{kind.replace('_', '-')}-{values['dossier'] or 'ho-so'}.docx"
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in name)
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
