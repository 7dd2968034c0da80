"""The phone page's ratings: each unit's own chain ``WEB-<unit_code>``, kept and sealed by the server.

DESIGN.md (public interfaces): a rating sent from the phone page (``GET /r/<payload>.<sig>``, the QR's URL
form) has source ``phone`` and joins a chain the server keeps for the unit, in the same record format,
sealed with a key of the server. So the chain is a kiosk like any other to everything downstream — the
pull, the reports, the evidence pack, the backups' chain check, the public log: a row in ``kiosks``
(``WEB-13321``) whose key only the server holds and whose token nobody was ever given. It is stored
through the kiosks' own path (core/storing.store_batch → core/ingest), as a batch of one.

What is the phone page's own rule lives here: which receipt may rate (:func:`check_receipt`: the town's
receipt key, the kiosk's validity rule, a unit and officer of this town, not rated yet — on a kiosk or a
phone) and the record it makes (:func:`phone_record`).
"""
from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from sync import protocol
from sync.server.core import ingest
from sync.server.core.clock import VN_TZ, iso, utcnow
from sync.server.core.db import desks, kiosks, officers, procedures, ratings, units
from sync.server.core.security import token_hash
from sync.server.core.settings import receipt_key

WEB_PREFIX = "WEB-"
#: how many days a receipt rates after it was issued (the kiosk's [receipt] validity_days default)
VALIDITY_DAYS = 30
#: a receipt dated this far in the future is refused (a kiosk's clock ahead), as on the kiosk
FUTURE_TOLERANCE_S = 600


def web_kiosk_id(unit_code: str) -> str:
    return WEB_PREFIX + unit_code


def is_web_chain(kiosk_id: str | None) -> bool:
    return isinstance(kiosk_id, str) and kiosk_id.upper().startswith(WEB_PREFIX)


def ensure_web_kiosk(conn: Connection, unit_code: str) -> None:
    """The unit's ``WEB-`` chain as a kiosks row, made on its first phone rating (a writable connection).

    Its key is the server's; its token is a random one hashed and thrown away: nothing can sync as it.
    """
    kid = web_kiosk_id(unit_code)
    if conn.execute(select(kiosks.c.id).where(kiosks.c.id == kid)).first() is None:
        conn.execute(kiosks.insert().values(
            id=kid, unit_code=unit_code, token_hash=token_hash("unusable-" + secrets.token_hex(32)),
            key_hex=secrets.token_hex(32), revoked=False, enrolled_at=iso(utcnow()), acked_through=0))


class Refused(Exception):
    """A receipt the phone page does not rate. ``kind``: malformed, forged, expired, future, other_unit,
    unknown_officer, already_rated, no_key."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail or kind)
        self.kind = kind


@dataclass
class Receipt:
    """A receipt that may rate: its fields, id and the names the page shows."""

    fields: dict
    receipt_id: str
    unit: dict
    desk: dict | None
    officer: dict
    procedure: dict | None

    @property
    def appointment(self) -> str | None:
        return self.fields.get("a")


def check_receipt(conn: Connection, token: str, now: datetime | None = None,
                  validity_days: int = VALIDITY_DAYS) -> Receipt:
    """The receipt of ``token`` (``<payload>.<sig>``, or the whole scanned text) if it may rate now; Refused."""
    key = receipt_key(conn)
    if not key:
        raise Refused("no_key", "this server has no receipt key yet")
    try:
        fields, rid = protocol.parse_receipt_token(
            token if token.startswith(protocol.RECEIPT_PREFIX) or "/r/" in token else "/r/" + token, key)
    except protocol.ReceiptError as exc:
        raise Refused(exc.kind if exc.kind in ("malformed", "forged") else "malformed", str(exc)) from None
    now_s = int((now or utcnow()).timestamp())
    if now_s > protocol.valid_until(fields["t"], validity_days, fields.get("a"), "+07:00"):
        raise Refused("expired", f"receipt {rid} issued {(now_s - fields['t']) // 86400} days ago")
    if fields["t"] - now_s > FUTURE_TOLERANCE_S:
        raise Refused("future", f"receipt {rid} dated {fields['t'] - now_s} s ahead")
    unit = conn.execute(select(units).where(units.c.code == fields["u"])).mappings().first()
    if unit is None:
        raise Refused("other_unit", f"receipt {rid} of unit {fields['u']}, not of this town")
    officer = conn.execute(select(officers.c.id, officers.c.name, officers.c.title, officers.c.photo)
                           .where(officers.c.id == fields["o"])).mappings().first()
    if officer is None:
        raise Refused("unknown_officer", f"receipt {rid} names officer {fields['o']}")
    if rated(conn, rid):
        raise Refused("already_rated", f"receipt {rid} has rated")
    desk = conn.execute(select(desks.c.id, desks.c.name).where(desks.c.id == fields["d"])).mappings().first()
    procedure = None
    if fields.get("p"):
        procedure = conn.execute(select(procedures.c.code, procedures.c.name)
                                 .where(procedures.c.code == fields["p"])).mappings().first()
    return Receipt(fields, rid, dict(unit), dict(desk) if desk else None, dict(officer),
                   dict(procedure) if procedure else None)


def rated(conn: Connection, rid: str) -> bool:
    """A rating of this receipt is held (a kiosk's or a phone's): a receipt rates once in the town."""
    return conn.execute(select(ratings.c.pk).where(ratings.c.receipt_id == rid).limit(1)).first() is not None


def phone_batch(conn: Connection, receipt: Receipt, survey: dict, known: dict, level: int, reasons: list[str],
                answers: dict, comment: str | None, rating_id: str, now: datetime | None = None) -> dict:
    """The batch of one: the next record of the unit's chain for this receipt, sealed, parsed by the kiosks'
    own parser (the same checks, NFC). Called by core/storing.store_batch inside the transaction, under the
    chain's lock, so the seq and prev_hash it reads are the chain's last. ``rating_id``: the record's id,
    chosen before (the batch's idempotency key is the same: a retried send stores it once)."""
    kid = web_kiosk_id(receipt.fields["u"])
    key_hex = conn.execute(select(kiosks.c.key_hex).where(kiosks.c.id == kid)).scalar_one()
    last = conn.execute(select(ratings.c.seq, ratings.c.hash).where(ratings.c.kiosk_id == kid)
                        .order_by(ratings.c.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, protocol.ZERO_HASH)
    local = (now or utcnow()).astimezone(VN_TZ)
    timely = protocol.timeliness_flag(receipt.appointment, local.date())
    record = {
        "id": rating_id, "kiosk_id": kid, "seq": seq, "created_at": local.isoformat(timespec="seconds"),
        "unit_code": receipt.fields["u"], "desk_id": receipt.fields["d"], "officer_id": receipt.fields["o"],
        "dossier_code": receipt.fields["h"], "procedure_code": receipt.fields.get("p"),
        "receipt_id": receipt.receipt_id, "level": level, "reasons": reasons, "comment": comment or None,
        "source": "phone", "flags": [timely] if timely else [], "survey": survey["id"], "answers": answers,
    }
    body = {"kiosk_id": kid, "sent_at": local.isoformat(timespec="seconds"),
            "ratings": [protocol.seal(record, prev, key_hex)]}
    return ingest.parse_batch(json.dumps(body, ensure_ascii=False).encode("utf-8"), 1, surveys=known)


def new_rating_id() -> str:
    return str(uuid.uuid4())


def phone_count(conn: Connection) -> dict[str, int]:
    """unit code → ratings held in its phone chain (the kiosks page's line)."""
    rows = conn.execute(select(ratings.c.kiosk_id, func.count()).where(ratings.c.kiosk_id.like(WEB_PREFIX + "%"))
                        .group_by(ratings.c.kiosk_id)).all()
    return {kid[len(WEB_PREFIX):]: n for kid, n in rows}
