"""Letters issued: what is recorded of each letter produced (never its addressee's name).

A letter is made on request (reports/letters_docx.py) and not stored. What is kept is a
``letters_issued`` row — kind, case, officer, unit, dossier, procedure, who and when, the
SHA-256 of the .docx — and, for a case's letter, a ``letter`` event in the case's log; "mark as
sent" sets ``sent_at`` once and logs it. The pages (web/case_letters.py, web/office.py) record
through these functions; the scores and the evidence pack read the rows.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import insert, select, update

from sync import protocol
from sync.server.core import cases, clock, db
from sync.server.core.scope import EVERY_UNIT, Scope

#: the name of a kind in the case's log and the letters' lists (the protocol's words otherwise)
KIND_NAMES = {protocol.LETTER_APOLOGY: "Văn bản xin lỗi"}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind) or protocol.LETTER_KINDS.get(kind, (kind, kind))[0]


def record_letter(conn, body: bytes, kind: str, by: str | None, *, case_id: int | None = None,
                  officer_id: str | None = None, unit_code: str | None = None, dossier_code: str | None = None,
                  procedure_code: str | None = None, now: datetime | None = None) -> int:
    """Record a letter produced (never its addressee's name): its row, and the case's log entry."""
    now = now or clock.utcnow()
    sha = hashlib.sha256(body).hexdigest()
    letter_id = conn.execute(insert(db.letters_issued).values(
        kind=kind, case_id=case_id, officer_id=officer_id or None, unit_code=unit_code or None,
        dossier_code=dossier_code or None, procedure_code=procedure_code or None,
        issued_at=clock.iso(now), issued_by=by, sha256=sha)).inserted_primary_key[0]
    if case_id is not None:
        text = f"{kind_name(kind)} hồ sơ {dossier_code}" if dossier_code else kind_name(kind)
        cases.record_event(conn, case_id, "letter", by=by, text=text, now=now,
                           params={"letter_id": letter_id, "letter_kind": kind, "sha256": sha})
    return letter_id


def mark_sent(conn, letter_id: int, by: str | None, now: datetime | None = None,
              scope: Scope = EVERY_UNIT) -> dict | None:
    """Mark a letter sent (once: a second time keeps the first time); None when there is no such letter
    (or it is another unit's than ``scope``'s)."""
    row = conn.execute(select(db.letters_issued).where(db.letters_issued.c.id == letter_id,
                                                       scope.letters())).mappings().first()
    if row is None:
        return None
    if row["sent_at"]:
        return dict(row)
    now = now or clock.utcnow()
    conn.execute(update(db.letters_issued).where(db.letters_issued.c.id == letter_id)
                 .values(sent_at=clock.iso(now)))
    if row["case_id"] is not None:
        what = kind_name(row["kind"]) + (f" hồ sơ {row['dossier_code']}" if row["dossier_code"] else "")
        cases.record_event(conn, row["case_id"], "letter", by=by, text=f"Đã gửi {what[:1].lower() + what[1:]}",
                           params={"letter_id": letter_id, "sent": True}, now=now)
    return {**dict(row), "sent_at": clock.iso(now)}


def officer_unit(conn, officer_id: str | None) -> str | None:
    """The unit of an officer's desk (what a letter made without a case is counted under)."""
    return cases.officer_unit(conn, officer_id)
