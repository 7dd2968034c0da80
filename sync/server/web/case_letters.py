"""Letters from a case: the apology letter for a case's dossier, and the record that it was sent (issue 11).

A case whose ratings carry a dossier code offers, per dossier, the apology (văn bản xin lỗi,
letters_docx.case_apology) addressed to that dossier's applicant. hailong holds no applicant's
name: the letter leaves a dotted line for the desk to fill by hand, or takes the name typed on
the form for that one download. The typed name goes into the .docx only — never into a table
(letters_issued, case_events), a log line or a URL (the form is a POST; only its errors echo it
back, in the answer itself).

Every letter produced is recorded (core/letters.py ``record_letter``): a ``letters_issued`` row
with the SHA-256 of the .docx, and, for a case's letter, a ``letter`` event in the case's log;
"mark as sent" (``mark_sent``) sets ``sent_at`` and logs that too. The letters page
(web/office.py) records its letters through the same two functions.

The case page (web/cases.py, case.html) includes ``_case_letters.html``; that fragment reads the
case's letters through the template global ``case_letters`` registered here.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import and_, select

from sync import protocol
from sync.server.core import cases, db
from sync.server.core.letters import kind_name, mark_sent, officer_unit, record_letter
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.reports import letters_docx, periods
from sync.server.reports.report_docx import slug
from sync.server.web.base import (
    checked_form,
    error_page,
    local_time,
    names,
    render,
    report_issuer,
    require_user,
    templates,
    tr,
    user_scope,
)

router = APIRouter(include_in_schema=False)

#: the longest name, reason or date the forms take (a name of 10 000 characters is refused, not cut)
MAX_NAME = 120
MAX_REASON = 300
#: the reason the apology gives by default, per case kind (the desk may rewrite it)
DEFAULT_REASONS = {
    "nhung_nhieu": "cán bộ tiếp nhận có biểu hiện gây phiền hà, nhũng nhiễu trong quá trình giải quyết hồ sơ",
    "low_rate": "thái độ phục vụ, hướng dẫn của cán bộ tiếp nhận chưa đúng mực",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


# --- reading and recording ------------------------------------------------------------------

def case_dossiers(case: dict) -> list[dict]:
    """The dossiers of a case's ratings (core/cases.get_case), each once, oldest first: the letters it
    can produce."""
    seen, out = set(), []
    for d in sorted(case.get("dossiers") or [], key=lambda d: (d.get("created_at") or "", d.get("rating_id") or "")):
        if d.get("dossier_code") and d["dossier_code"] not in seen:
            seen.add(d["dossier_code"])
            out.append(d)
    return out


def issued_letters(conn, case_id: int | None = None, limit: int = 50, scope: Scope = EVERY_UNIT) -> list[dict]:
    """Letters issued (newest first), of one case or of all (of ``scope``'s units); with the names the
    lists show."""
    q = select(db.letters_issued).where(scope.letters()).order_by(db.letters_issued.c.id.desc()).limit(limit)
    if case_id is not None:
        q = q.where(db.letters_issued.c.case_id == case_id)
    found = names(conn)
    out = []
    for row in conn.execute(q).mappings().all():
        row = dict(row)
        row["kind_name"] = kind_name(row["kind"])
        row["officer_name"] = found["officer"].get(row["officer_id"] or "", row["officer_id"] or "—")
        row["procedure_name"] = found["procedure"].get(row["procedure_code"] or "", row["procedure_code"] or "—")
        row["issued_text"], row["sent_text"] = local_time(row["issued_at"]), local_time(row["sent_at"])
        out.append(row)
    return out


def _fragment_data(request: Request, case: dict) -> dict:
    """What ``_case_letters.html`` lists of the case it is given (core/cases.get_case): its dossiers with
    their procedures' names, and the letters issued for it."""
    try:
        case_id = int(case["id"])
    except (KeyError, TypeError, ValueError):
        return {"issued": [], "dossiers": [], "show": False}
    with request.app.state.reader.connect() as conn:
        found = names(conn)
        dossiers = [{**d, "procedure_name": found["procedure"].get(d.get("procedure_code") or "",
                                                                    d.get("procedure_code") or "—")}
                    for d in case_dossiers(case)]
        issued = issued_letters(conn, case_id)
    # a kiosk's case (silent, tampering) has no applicant to write to: no section unless letters were made
    show = bool(dossiers or issued or case.get("kind") in cases.OFFICER_KINDS)
    return {"issued": issued, "dossiers": dossiers, "show": show}


templates.env.globals["case_letters"] = _fragment_data


# --- checking what was typed ----------------------------------------------------------------

def parse_day(text: str) -> str | None:
    """"5/12/2026" -> "05/12/2026"; None when it is no real day."""
    try:
        return datetime.strptime(text, "%d/%m/%Y").strftime("%d/%m/%Y")
    except ValueError:
        return None


def not_a_day(_, label: str, value: str) -> str:
    """What a form says of a date that parse_day cannot read."""
    return _("{field}: {value} không phải một ngày có thật; ghi ngày/tháng/năm, ví dụ 05/12/2026.",
             field=_(label), value=value or "…")


def check_text(_, label: str, value: str, limit: int) -> str | None:
    """Why a typed text cannot go into a letter (too long, control characters), else None."""
    if len(value) > limit:
        return _("{field}: quá dài ({n} ký tự); tối đa {limit} ký tự.", field=_(label), n=len(value), limit=limit)
    if _CONTROL.search(value) or any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return _("{field}: có ký tự điều khiển không in được; hãy gõ lại.", field=_(label))
    return None


def first_refused(_, fields: list[tuple[str, str, int]], values: dict) -> tuple[str | None, str | None]:
    """(message, field) of the first of ``fields`` (name, label, limit) whose value check_text refuses,
    else (None, None); the refused value in ``values`` becomes what the form shows again: cut to the
    limit, without its control characters."""
    for f, label, limit in fields:
        error = check_text(_, label, values[f], limit)
        if error:
            values[f] = _CONTROL.sub("", values[f])[:limit]
            return error, f
    return None, None


def parse_id(raw: str) -> int | None:
    """A row id from a path (digits only, short): None for anything else."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


def _find(request: Request, raw_id: str, dossier: str):
    """(case, dossier row, None) or (None, None, error page): an unknown case, a dossier not in it."""
    _ = tr(request)
    case_id = parse_id(raw_id)
    with request.app.state.reader.connect() as conn:
        case = cases.get_case(conn, case_id, user_scope(request)) if case_id is not None else None
        if case is None:     # another unit's case is, to a commune's user, no case
            return None, None, error_page(request, 404, _("Không có vụ việc số {id}.", id=raw_id[:40]),
                                          back="/admin/cases")
        row = next((d for d in case_dossiers(case) if d["dossier_code"] == dossier), None)
    if row is None:
        return None, None, error_page(
            request, 404, _("Hồ sơ {dossier} không thuộc vụ việc số {id}.", dossier=dossier[:80] or "…", id=case_id),
            back=f"/admin/cases/{case_id}")
    return case, row, None


FORM_FIELDS = [("name", "Họ tên công dân", MAX_NAME), ("received", "Ngày tiếp nhận hồ sơ (dd/mm/yyyy)", 10),
               ("reason", "Lý do", MAX_REASON), ("new_date", "Ngày hẹn trả kết quả mới (dd/mm/yyyy)", 10)]


def _form_page(request: Request, user: dict, case: dict, dossier: dict, status: int = 200,
               typed: dict | None = None, error: str | None = None, bad: str | None = None):
    with request.app.state.reader.connect() as conn:
        found = names(conn)
    typed = typed if typed is not None else {"reason": DEFAULT_REASONS.get(case["kind"], "")}
    return render(request, "case_letter.html", status=status, user=user, case=case, dossier=dossier,
                  procedure=found["procedure"].get(dossier["procedure_code"] or "", dossier["procedure_code"] or "—"),
                  officer=found["officer"].get(dossier["officer_id"] or "", dossier["officer_id"] or "—"),
                  fields=FORM_FIELDS, typed=typed, error=error, bad=bad)


# --- routes -----------------------------------------------------------------------------------

@router.get("/admin/cases/{case_id}/letter")
def letter_form(request: Request, case_id: str, dossier: str = ""):
    """The apology's form for one dossier of the case (the name is typed here, or left blank)."""
    user = require_user(request)
    case, row, refused = _find(request, case_id, dossier)
    return refused or _form_page(request, user, case, row)


@router.post("/admin/cases/{case_id}/letter")
async def letter_download(request: Request, case_id: str):
    """The apology as Word, recorded; the name typed goes into the document only."""
    user = require_user(request)
    form = await checked_form(request)
    _ = tr(request)
    case, row, refused = _find(request, case_id, form.get("dossier", ""))
    if refused:
        return refused
    values = {f: form.get(f, "").strip() for f, _label, _limit in FORM_FIELDS}
    error, bad = first_refused(_, FORM_FIELDS, values)
    for f, label, _limit in FORM_FIELDS:
        if not error and f in ("received", "new_date") and values[f]:
            day = parse_day(values[f])
            if day is None:
                error, bad = not_a_day(_, label, values[f]), f
            values[f] = day or values[f]
    if error:
        return _form_page(request, user, case, row, 422, typed=values, error=error, bad=bad)
    with request.app.state.reader.connect() as conn:     # the document is made outside the write
        found, issuer = names(conn), report_issuer(conn)
    fields = {**values, "dossier": row["dossier_code"],
              "procedure": found["procedure"].get(row["procedure_code"] or "", row["procedure_code"] or ""),
              "officer": found["officer"].get(row["officer_id"] or "", row["officer_id"] or "")}
    body = letters_docx.case_apology(fields, issuer, periods.today_vn())
    with request.app.state.engine.begin() as conn:
        record_letter(conn, body, protocol.LETTER_APOLOGY, user["username"], case_id=case["id"],
                      officer_id=row["officer_id"],
                      unit_code=case["unit_code"] or officer_unit(conn, row["officer_id"]),
                      dossier_code=row["dossier_code"], procedure_code=row["procedure_code"])
    name = f"van-ban-xin-loi-vu-viec-{case['id']}-{slug(row['dossier_code'])}.docx"
    return Response(body, media_type=letters_docx.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/admin/cases/{case_id}/letters/{letter_id}/sent")
async def case_letter_sent(request: Request, case_id: str, letter_id: str):
    user = require_user(request)
    await checked_form(request)
    _ = tr(request)
    cid, lid = parse_id(case_id), parse_id(letter_id)
    with request.app.state.engine.begin() as conn:
        row = conn.execute(select(db.letters_issued.c.id).where(and_(
            db.letters_issued.c.id == lid, db.letters_issued.c.case_id == cid))).first() if cid and lid else None
        if row is not None:
            row = mark_sent(conn, lid, user["username"], scope=user_scope(request))
    if row is None:
        return error_page(request, 404, _("Không có văn bản số {letter} của vụ việc số {id}.",
                                          letter=letter_id[:40], id=case_id[:40]), back="/admin/cases")
    return RedirectResponse(f"/admin/cases/{cid}?letter_sent={lid}#letters", status_code=303)
