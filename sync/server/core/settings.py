"""Server settings (receipt key, survey) and the kiosk config document built from them."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from sync import protocol
from sync.server.core.db import desks, officers, procedures, settings, units
from sync.server.core.security import new_key_hex

DEFAULT_SURVEY = {
    "scale": 3,
    "reasons": list(protocol.DEFAULT_REASONS),
    # The officer-related survey questions behind the reason chips.
    "questions": [{"code": code, "vi": vi, "en": en} for code, (vi, en) in protocol.DEFAULT_REASONS.items()],
}


#: built once: every batch reads two or three settings (the rules, the survey)
_SETTING = select(settings.c.value).where(settings.c.key == bindparam("key"))


def get_setting(conn: Connection, key: str, default=None):
    value = conn.execute(_SETTING, {"key": key}).scalar()
    return default if value is None else json.loads(value)


def set_setting(conn: Connection, key: str, value) -> None:
    text = json.dumps(value, ensure_ascii=False)
    if conn.execute(select(settings.c.key).where(settings.c.key == key)).first() is None:
        conn.execute(settings.insert().values(key=key, value=text))
    else:
        conn.execute(settings.update().where(settings.c.key == key).values(value=text))


def receipt_key(conn: Connection) -> str | None:
    """The unit's receipt HMAC key (create_app makes sure there is one)."""
    return get_setting(conn, "receipt_key")


def ensure_receipt_key(conn: Connection) -> str:
    """The unit's receipt HMAC key, generated on first use."""
    key = get_setting(conn, "receipt_key")
    if not key:
        key = new_key_hex()
        set_setting(conn, "receipt_key", key)
    return key


# -- the public rating page (DESIGN.md "QR receipt"): <base>/r/<payload>.<sig> ------------------

PUBLIC_URL_KEY = "public_base_urls"      # one JSON object: unit code -> base URL
#: a receipt's QR text is at most protocol.RECEIPT_TOKEN_MAX (1024) characters and its payload and
#: signature take up to ~730: the base URL keeps within what a 58 mm receipt's QR still carries
PUBLIC_URL_MAX = 200


class BadPublicURL(ValueError):
    """A public base URL that a receipt cannot carry; the message says what is wrong."""


def valid_public_url(value) -> str:
    """The unit's public base URL trimmed (no trailing /), or BadPublicURL naming what is wrong.

    http:// or https://, a host, no space, no query (?) nor fragment (#), at
    most PUBLIC_URL_MAX characters (as sync.bundle.valid_server_url, shorter).
    """
    from urllib.parse import urlsplit
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise BadPublicURL("public URL: empty (give an address like https://danhgia.xa-abc.gov.vn)")
    if not text.lower().startswith(("http://", "https://")):
        raise BadPublicURL("public URL: must start with http:// or https://, e.g. https://danhgia.xa-abc.gov.vn")
    if len(text) > PUBLIC_URL_MAX:
        raise BadPublicURL(f"public URL: {len(text)} characters, at most {PUBLIC_URL_MAX} "
                           "(the receipt's QR code must stay readable)")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise BadPublicURL("public URL: must not contain spaces or control characters")
    if "?" in text or "#" in text:
        raise BadPublicURL("public URL: must not have a query (?…) or a fragment (#…)")
    try:
        parts = urlsplit(text)
        parts.port   # noqa: B018 - raises on a bad port
    except ValueError:
        raise BadPublicURL("public URL: not a valid address (check the host and port)") from None
    if not parts.hostname:
        raise BadPublicURL("public URL: has no host name")
    if parts.username is not None or parts.password is not None:
        raise BadPublicURL("public URL: must not carry a user name or password")
    return text.rstrip("/")


def public_base_urls(conn: Connection) -> dict[str, str]:
    """Every unit's public base URL (units without one are absent)."""
    held = get_setting(conn, PUBLIC_URL_KEY, {}) or {}
    return {k: v for k, v in held.items() if isinstance(k, str) and isinstance(v, str) and v} \
        if isinstance(held, dict) else {}


def public_base_url(conn: Connection, unit_code: str) -> str | None:
    """The unit's public base URL: its receipts' QR holds <url>/r/<payload>.<sig>; None: HL1.…"""
    return public_base_urls(conn).get(unit_code)


def set_public_base_url(conn: Connection, unit_code: str, url: str | None) -> str | None:
    """Set (valid_public_url) or, with None or "", clear the unit's public base URL; returns the URL kept."""
    held = public_base_urls(conn)
    if url is not None and str(url).strip():
        held[unit_code] = valid_public_url(url)
    else:
        held.pop(unit_code, None)
    set_setting(conn, PUBLIC_URL_KEY, held)
    return held.get(unit_code)


def survey(conn: Connection) -> dict:
    return {**DEFAULT_SURVEY, **get_setting(conn, "survey", {})}


def custom_surveys(conn: Connection) -> dict[str, dict]:
    """The surveys defined on this server (setting ``surveys``: id → document), built-in ones aside."""
    held = get_setting(conn, "surveys", {}) or {}
    if isinstance(held, list):
        held = {d.get("id"): d for d in held if isinstance(d, dict)}
    return {k: v for k, v in held.items() if isinstance(k, str) and protocol.find_survey(k, held) is not None
            and k not in protocol.BUILTIN_SURVEYS}


def known_surveys(conn: Connection) -> dict[str, dict]:
    """Every survey a rating may answer here: the built-in ones and the server's."""
    return {**custom_surveys(conn), **protocol.BUILTIN_SURVEYS}


def ended_early(conn: Connection) -> dict[str, str]:
    """Campaigns stopped before their ``to`` (core/surveys.end_now): id → the day they were stopped."""
    held = get_setting(conn, "survey_meta", {}) or {}
    if not isinstance(held, dict):
        return {}
    return {k: v["ended_on"] for k, v in held.items()
            if isinstance(v, dict) and isinstance(v.get("ended_on"), str)}


def default_survey_id(conn: Connection) -> str:
    """The unit's default survey: the ``default_survey`` setting, else the built-in one of the ``survey`` scale."""
    sid = get_setting(conn, "default_survey")
    if isinstance(sid, str) and protocol.find_survey(sid, custom_surveys(conn)) is not None:
        return sid
    try:
        return protocol.survey_for_scale(survey(conn)["scale"])
    except (ValueError, TypeError, KeyError):
        return protocol.DEFAULT_SURVEY_ID


def kiosk_config(conn: Connection, kiosk: dict, photo_url: str) -> dict:
    """What a kiosk needs to run: its unit's roster, the survey, the receipt key, its unit's public base URL.

    ``photo_url`` is a format string with ``{officer_id}``.
    """
    unit_code = kiosk["unit_code"]
    unit_rows = conn.execute(select(units).where(units.c.code == unit_code)).mappings().all()
    desk_rows = conn.execute(select(desks).where(desks.c.unit_code == unit_code).order_by(desks.c.id)).mappings().all()
    desk_ids = [d["id"] for d in desk_rows]
    # a deactivated officer (admin_ops.set_officer_active) leaves the kiosk's roster: the ETag changes
    officer_rows = conn.execute(select(officers).where(officers.c.desk_id.in_(desk_ids), officers.c.active)
                                .order_by(officers.c.id)).mappings().all() if desk_ids else []
    proc_rows = conn.execute(select(procedures).order_by(procedures.c.code)).mappings().all()
    sv = survey(conn)
    known = known_surveys(conn)
    default_sid = default_survey_id(conn)
    stopped = ended_early(conn)
    return {
        "kiosk_id": kiosk["id"],
        "unit_code": unit_code,
        "roster": {
            "units": [dict(u) for u in unit_rows],
            "desks": [dict(d) for d in desk_rows],
            "officers": [{
                "id": o["id"], "name": o["name"], "title": o["title"], "desk_id": o["desk_id"],
                "photo": photo_url.format(officer_id=o["id"]) if o["photo"] else None,
                "photo_sha256": o["photo_sha256"], "pin_hash": o["pin_hash"],
            } for o in officer_rows],
            "procedures": [dict(p) for p in proc_rows],
        },
        "scale": sv["scale"],
        "scale_labels": [{"level": lv, "vi": vi, "en": en, "satisfied": sat}
                         for lv, vi, en, sat in protocol.SCALES[sv["scale"]]],
        "reasons": [{"code": c, "vi": protocol.DEFAULT_REASONS.get(c, (c, c))[0],
                     "en": protocol.DEFAULT_REASONS.get(c, (c, c))[1]} for c in sv["reasons"]],
        "questions": sv["questions"],
        "receipt_key": receipt_key(conn),
        # the unit's public rating page: the kiosk prints <url>/r/<payload>.<sig> (None: HL1.…)
        "public_base_url": public_base_url(conn, unit_code),
        # protocol v2: the surveys a rating of this kiosk may answer, and the one to ask
        "default_survey": default_sid,
        "surveys": [known[default_sid]] + [doc for sid, doc in sorted(known.items())
                                           if sid != default_sid and sid not in protocol.BUILTIN_SURVEYS
                                           and sid not in stopped and _runs_for(doc, kiosk)],
    }


def _runs_for(doc: dict, kiosk: dict) -> bool:
    """A survey meant for this kiosk's unit (empty ``units``: everywhere) that has not ended (a campaign
    past its ``to``; one stopped early is left out by the caller)."""
    units = doc.get("units") or []
    if units and kiosk["unit_code"] not in units:
        return False
    end = doc.get("to")
    if isinstance(end, str):
        from sync.server.core.clock import VN_TZ, utcnow
        if end < utcnow().astimezone(VN_TZ).date().isoformat():
            return False
    return True


def etag_of(document: dict) -> str:
    return '"' + hashlib.sha256(protocol.canonical_json(document)).hexdigest()[:32] + '"'
