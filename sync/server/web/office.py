"""The office's paperwork: letters to citizens (Word files) and who issues the Word report.

A letter is made on request and not stored; what is recorded of it is what core/letters.record_letter
keeps (kind, officer, dossier, procedure, who, when, the SHA-256 of the .docx: never the citizen's
name). The page lists the letters issued lately, with "mark as sent". The issuer's settings are
saved through ``admin_ops.set_report_issuer``.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sync import protocol
from sync.server.core import admin_ops, db, letters
from sync.server.reports import letters_docx, periods
from sync.server.web import case_letters
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
    user_scope,
)

router = APIRouter(include_in_schema=False)


# --- report settings ----------------------------------------------------------------

@router.post("/admin/settings/report")
async def report_settings(request: Request):
    require_user(request, "admin")
    user_scope(request).require_all("change who issues the reports of every unit")
    form = await checked_form(request)
    values = {f: form.get(f, "") for f, _label in ISSUER_FIELDS}
    with request.app.state.engine.begin() as conn:
        admin_ops.set_report_issuer(conn, values)
    return RedirectResponse("/admin/roster?saved=report#report", status_code=303)


# --- letters --------------------------------------------------------------------------

#: the form's kinds: protocol.LETTER_KINDS (the apology keeps the page's old value "xin_loi_hen_lai",
#: which protocol.letter_kind reads too)
LETTER_KINDS = {("xin_loi_hen_lai" if k == protocol.LETTER_APOLOGY else k): names
                for k, names in protocol.LETTER_KINDS.items()}
#: the longest text a field takes (the form's maxlength): longer, or with control characters, is refused
MAX_FIELD = 200
LETTER_FIELDS = [("name", "Họ tên công dân"), ("dossier", "Mã hồ sơ"), ("procedure", "Thủ tục"),
                 ("officer", "Cán bộ phụ trách"), ("new_date", "Ngày hẹn mới (dd/mm/yyyy)")]


def _letters_page(request: Request, user: dict, status: int = 200, error: str | None = None,
                  typed: dict | None = None, bad: str | None = None):
    """The letters form; after a refused one, what was typed again, the wrong field named."""
    scope = user_scope(request)
    with request.app.state.reader.connect() as conn:
        found = names(conn, scope)
        # officers who left are not offered for a new letter
        found["officer"] = dict(conn.execute(select(db.officers.c.id, db.officers.c.name)
                                             .where(db.officers.c.active, scope.officers())
                                             .order_by(db.officers.c.name)).all())
        issued = case_letters.issued_letters(conn, scope=scope)
    lang = request.session.get("lang", "vi")
    kinds = {k: (vi if lang == "vi" else en) for k, (vi, en) in LETTER_KINDS.items()}
    return render(request, "letters.html", status=status, user=user, kinds=kinds, fields=LETTER_FIELDS,
                  names=found, open_alerts=open_alert_count(request), error=error, typed=typed or {}, bad=bad,
                  issued=issued, sent=request.query_params.get("sent"))


@router.get("/admin/letters")
def letters_page(request: Request):
    user = require_user(request)
    return _letters_page(request, user)


@router.post("/admin/letters")
async def letter_download(request: Request):
    """A POST only because the form carries a citizen's name: the letter is made and recorded, the name
    is not stored."""
    user = require_user(request)
    form = await checked_form(request)
    _ = tr(request)
    kind = form.get("kind", "")
    values = {f: form.get(f, "").strip() for f, _label in LETTER_FIELDS}
    error, bad = case_letters.first_refused(_, [(f, label, MAX_FIELD) for f, label in LETTER_FIELDS], values)
    if error:
        pass                                # named below, with what was typed
    elif kind not in LETTER_KINDS:
        error, bad = _("Loại thư: chọn một loại thư."), "kind"
    elif protocol.letter_kind(kind) == protocol.LETTER_APOLOGY or values["new_date"]:
        day = case_letters.parse_day(values["new_date"])
        if day:
            values["new_date"] = day
        else:
            error, bad = case_letters.not_a_day(_, "Ngày hẹn mới (dd/mm/yyyy)", values["new_date"]), "new_date"
    if error:
        return _letters_page(request, user, 422, error=error, typed={"kind": kind, **values}, bad=bad)
    scope = user_scope(request)
    with request.app.state.reader.connect() as conn:     # the document is made outside the write
        found, issuer = names(conn, scope), report_issuer(conn)
    body = letters_docx.letter(kind, values, issuer, periods.today_vn())
    # the form takes names (from lists, or typed): the codes they stand for, when they are the roster's
    officer = next((c for c, n in found["officer"].items() if n == values["officer"]), None)
    procedure = next((c for c, n in found["procedure"].items() if n == values["procedure"]), None)
    with request.app.state.engine.begin() as conn:
        letters.record_letter(conn, body, protocol.letter_kind(kind), user["username"], officer_id=officer,
                                   unit_code=letters.officer_unit(conn, officer) or scope.unit,
                                   dossier_code=values["dossier"], procedure_code=procedure)
    name = f"thu-{kind.replace('_', '-')}-{values['dossier'] or 'ho-so'}.docx"
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in name)
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/admin/letters/{letter_id}/sent")
async def letter_sent(request: Request, letter_id: str):
    """Mark a letter issued as sent (a case's letter logs it in the case too)."""
    user = require_user(request)
    await checked_form(request)
    _ = tr(request)
    lid = case_letters.parse_id(letter_id)
    with request.app.state.engine.begin() as conn:
        row = letters.mark_sent(conn, lid, user["username"], scope=user_scope(request)) if lid else None
    if row is None:
        return error_page(request, 404, _("Không có văn bản số {letter}.", letter=letter_id[:40]),
                          back="/admin/letters")
    return RedirectResponse(f"/admin/letters?sent={lid}#issued", status_code=303)
