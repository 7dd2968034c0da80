"""What `hailong admin` does, as functions on an open connection (testable, reusable by web pages).

Each raises :class:`AdminError` with a message for the person at the
terminal when the input is wrong; nothing is half-written (one transaction).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from sync.protocol import IDENT, LETTER_KINDS, PIN_DIGITS, hash_pin, letter_kind, nfc
from sync.server.core import alerts as alert_rules
from sync.server.core.clock import iso, utcnow
from sync.server.core.db import (
    alerts,
    api_tokens,
    desks,
    kiosks,
    officers,
    procedures,
    units,
    users,
)
from sync.server.core.notify import BadAddress, valid_email
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.security import hash_password, new_key_hex, new_token, token_hash
from sync.server.core.settings import get_setting, set_setting

ROLES = ("admin", "viewer")


class AdminError(Exception):
    """Bad input for an admin command: the message says what and where."""


def _ident(value: str, what: str) -> str:
    if not isinstance(value, str) or not IDENT.match(value):
        raise AdminError(f"{what}: must be 1-64 letters, digits, '.', '_' or '-', got {value!r}")
    return value


class Missing(AdminError):
    """A unit or desk named does not exist (``what``: "unit" or "desk"; ``code``)."""

    def __init__(self, what: str, code: str, message: str | None = None):
        super().__init__(message or f"no {what} {code!r}")
        self.what, self.code = what, code


class Exists(AdminError):
    """What is to be created exists already."""


def enrol_kiosk(conn: Connection, kiosk_id: str, unit_code: str, require_unit: bool = False) -> dict:
    """A new kiosk's credentials {kiosk_id, token, key} (shown once; only the token's hash is kept).

    require_unit: refuse a unit the roster does not hold (the pages do; the
    command line may enrol before the roster is imported).
    """
    _ident(kiosk_id, "kiosk id")
    if kiosk_id.upper().startswith("WEB-"):   # core/web_chain.py: the server's own chain of a unit's phone ratings
        raise AdminError(f"kiosk id {kiosk_id}: ids starting with WEB- are the phone page's chains; choose another")
    if require_unit and not conn.execute(select(units.c.code).where(units.c.code == unit_code)).first():
        raise Missing("unit", unit_code)
    _ident(unit_code, "unit code")
    if conn.execute(select(kiosks.c.id).where(kiosks.c.id == kiosk_id)).first():
        raise Exists(f"kiosk {kiosk_id} is already enrolled (revoke-kiosk, then enrol it under a new id)")
    token, key = new_token("hk"), new_key_hex()
    conn.execute(kiosks.insert().values(id=kiosk_id, unit_code=unit_code, token_hash=token_hash(token),
                                        key_hex=key, revoked=False, enrolled_at=iso(utcnow()),
                                        acked_through=0))
    return {"kiosk_id": kiosk_id, "token": token, "key": key}


def revoke_kiosk(conn: Connection, kiosk_id: str) -> None:
    if not conn.execute(kiosks.update().where(kiosks.c.id == kiosk_id).values(revoked=True)).rowcount:
        raise AdminError(f"no kiosk {kiosk_id!r}")


def _password_ok(password: str) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise AdminError("password: at least 8 characters")
    if len(password) > 1024:
        raise AdminError("password: at most 1024 characters")
    return password


def create_user(conn: Connection, username: str, role: str, password: str, email: str | None = None,
                unit_code: str | None = None) -> None:
    """A user of the pages and the API; ``email``: told of its unit's new alerts and cases
    (core/notify.py); ``unit_code``: the one unit it sees and manages (None: every unit)."""
    username = nfc(username.strip())
    if not username or len(username) > 100:
        raise AdminError("username: must be 1-100 characters")
    if role not in ROLES:
        raise AdminError(f"role: must be one of {', '.join(ROLES)}")
    _password_ok(password)
    email, unit_code = _email_ok(email), _user_unit_ok(conn, unit_code)
    if conn.execute(select(users.c.username).where(users.c.username == username)).first():
        raise AdminError(f"user {username} already exists")
    conn.execute(users.insert().values(username=username, role=role, password_hash=hash_password(password),
                                       created_at=iso(utcnow()), email=email, unit_code=unit_code))
    end_sessions(conn, username)    # a fresh stamp: no cookie of an earlier account of this name opens it


def _email_ok(email: str | None) -> str | None:
    """None for no address (or an empty one), else the address checked (core/notify.valid_email)."""
    if email is None or not email.strip():
        return None
    try:
        return valid_email(email)
    except BadAddress as exc:
        raise AdminError(str(exc)) from None


def _user_unit_ok(conn: Connection, unit_code: str | None) -> str | None:
    """None (every unit), or a unit of the roster (any well-formed code while the town has no unit yet)."""
    if unit_code is None or not unit_code.strip():
        return None
    unit_code = _ident(unit_code.strip(), "unit code")
    if conn.execute(select(units.c.code).limit(1)).first() and not conn.execute(
            select(units.c.code).where(units.c.code == unit_code)).first():
        raise Missing("unit", unit_code)
    return unit_code


def set_user_contact(conn: Connection, username: str, email: str | None = None, unit_code: str | None = None,
                     *, set_email: bool = True, set_unit: bool = False) -> dict:
    """Change a user's e-mail address (empty: none) and/or unit (empty: every unit); returns both as kept.
    A change of unit ends the user's sessions (what they may see changed)."""
    username = _existing_user(conn, username)
    values = {}
    if set_email:
        values["email"] = _email_ok(email)
    if set_unit:
        values["unit_code"] = _user_unit_ok(conn, unit_code)
    before = conn.execute(select(users.c.unit_code).where(users.c.username == username)).scalar()
    if values:
        conn.execute(users.update().where(users.c.username == username).values(**values))
    if set_unit and values["unit_code"] != before:
        end_sessions(conn, username)
    row = conn.execute(select(users.c.email, users.c.unit_code).where(users.c.username == username)).one()
    return {"email": row.email, "unit_code": row.unit_code}


# --- sessions of the admin pages ------------------------------------------------
#
# A page session (web/base.py) is a signed cookie holding the username and
# the user's *session stamp*: a digest of the users row (name, role,
# password hash, created_at) and of a random per-user nonce kept in the
# settings table. Every request recomputes the stamp from the database and
# compares: signing out (a new nonce), a password change, a role change or
# removing the user changes it, so every session of that user ends at once,
# a cookie copied before included. An account deleted and created again gets
# a new salted password hash, created_at and nonce: old cookies do not open it.
# No table or column of its own (the settings table holds the nonces).

def _nonce_key(username: str) -> str:
    return "session_nonce:" + hashlib.sha256(username.encode("utf-8")).hexdigest()[:40]


def session_stamp(conn: Connection, username: str) -> str | None:
    """The current session stamp of a user; None when there is no such user."""
    row = conn.execute(select(users.c.username, users.c.role, users.c.password_hash, users.c.created_at)
                       .where(users.c.username == username)).first()
    if row is None:
        return None
    nonce = get_setting(conn, _nonce_key(row.username), "") or ""
    text = "\0".join([row.username, row.role, row.password_hash, row.created_at or "", nonce])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def end_sessions(conn: Connection, username: str) -> None:
    """End every page session of a user now (sign-out, password or role change, removal)."""
    set_setting(conn, _nonce_key(username), secrets.token_urlsafe(18))


def _existing_user(conn: Connection, username: str) -> str:
    username = nfc((username or "").strip())
    if not conn.execute(select(users.c.username).where(users.c.username == username)).first():
        raise NotFound(f"no user {username!r}")
    return username


def set_password(conn: Connection, username: str, password: str) -> None:
    """A new password for a user; every session of the user ends (API tokens are kept)."""
    username = _existing_user(conn, username)
    _password_ok(password)
    conn.execute(users.update().where(users.c.username == username)
                 .values(password_hash=hash_password(password)))
    end_sessions(conn, username)


def set_role(conn: Connection, username: str, role: str) -> bool:
    """Change a user's role; every session of the user ends. False when the role was already that."""
    username = _existing_user(conn, username)
    if role not in ROLES:
        raise AdminError(f"role: must be one of {', '.join(ROLES)}")
    changed = conn.execute(users.update().where(users.c.username == username, users.c.role != role)
                           .values(role=role)).rowcount
    end_sessions(conn, username)
    return bool(changed)


def delete_user(conn: Connection, username: str) -> int:
    """Remove a user, their API tokens and sessions; returns how many API tokens went with them."""
    username = _existing_user(conn, username)
    tokens = conn.execute(delete(api_tokens).where(api_tokens.c.username == username)).rowcount
    conn.execute(delete(users).where(users.c.username == username))
    end_sessions(conn, username)
    return tokens


def create_token(conn: Connection, username: str) -> str:
    if not conn.execute(select(users.c.username).where(users.c.username == username)).first():
        raise AdminError(f"no user {username!r} (create-user first)")
    token = new_token("ha")
    conn.execute(api_tokens.insert().values(token_hash=token_hash(token), username=username,
                                            created_at=iso(utcnow()), revoked=False))
    return token


class NotFound(AdminError):
    """The token or user to act on does not exist (`hailong admin` exits with status 2)."""


def revoke_token(conn: Connection, token: str | None = None, username: str | None = None) -> int:
    """Revoke one admin API token, or every live token of a user; returns how many were revoked now.

    0 means there was nothing left to revoke (already revoked): not an error.
    """
    if (token is None) == (username is None):
        raise AdminError("give either --token or --username")
    if token is not None:
        digest = token_hash(token.strip())
        row = conn.execute(select(api_tokens.c.revoked).where(api_tokens.c.token_hash == digest)).first()
        if row is None:
            if conn.execute(select(kiosks.c.id).where(kiosks.c.token_hash == digest)).first():
                raise NotFound("that is a kiosk token, not an API token: use revoke-kiosk --kiosk-id …")
            raise NotFound("no such API token (check it was copied whole)")
        where = api_tokens.c.token_hash == digest
    else:
        username = nfc(username.strip())
        if not conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise NotFound(f"no user {username!r}")
        where = api_tokens.c.username == username
    return conn.execute(api_tokens.update().where(where, api_tokens.c.revoked.is_(False))
                        .values(revoked=True)).rowcount


def set_receipt_key(conn: Connection, key: str | None) -> str:
    key = (key or new_key_hex()).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise AdminError("receipt key: must be 64 hexadecimal digits")
    set_setting(conn, "receipt_key", key)
    return key


def add_survey(conn: Connection, document, make_default: bool = False, by: str | None = None,
               based_on: str | None = None, replace: bool = False) -> str:
    """Add a survey (DESIGN.md "Surveys"): strictly checked, kept in the ``surveys`` setting; returns its id.

    The rules are core/surveys.py's: the same id again with the same content is
    a no-op; with other content it is refused (a survey's meaning travels with
    every rating that answered it; ``replace`` allows it while no rating has),
    and so is a built-in id. ``make_default``: the town's kiosks ask it from
    their next config.
    """
    from sync.server.core import surveys
    try:
        return surveys.add(conn, document, by=by, based_on=based_on, replace=replace, make_default=make_default)
    except surveys.SurveyError as exc:
        raise AdminError(surveys.english(exc)) from None


def list_alerts(conn: Connection, include_resolved: bool = False) -> list[dict]:
    """Alerts (open ones by default), oldest first; ``params`` as an object (core/alerts.describe)."""
    query = select(alerts).order_by(alerts.c.id)
    if not include_resolved:
        query = query.where(alerts.c.resolved_at.is_(None))
    return [alert_rules.as_record(r) for r in conn.execute(query).mappings()]


def resolve_alert(conn: Connection, alert_id: int, by: str, note: str | None = None,
                  scope: Scope = EVERY_UNIT) -> None:
    """An admin closes an alert (e.g. a chain break explained), saying who and why.

    The alert's ``open_key`` is cleared with it (core/alerts.resolve), so the
    next cause of the same kind starts a new alert.
    """
    if isinstance(alert_id, bool) or not isinstance(alert_id, int) or not 1 <= alert_id < 2 ** 63:
        raise AdminError(f"no alert {alert_id}")
    row = conn.execute(select(alerts.c.resolved_at).where(alerts.c.id == alert_id, scope.alerts())).first()
    if row is None:     # another unit's alert is, to this user, no alert
        raise AdminError(f"no alert {alert_id}")
    if row.resolved_at is not None or not alert_rules.resolve(
            conn, alerts.c.id == alert_id, nfc(note) if note else None, by=nfc(by)):
        raise AdminError(f"alert {alert_id} is already resolved")


#: At most this many groups acknowledged by one request.
MAX_GROUPS = 200


def resolve_alert_groups(conn: Connection, keys: list[str], by: str, note: str | None = None,
                         scope: Scope = EVERY_UNIT) -> int:
    """An admin closes whole groups of alerts at once (the alerts page's checkboxes): every open alert
    of each group (core/alerts.group_key: [upto|]kind|month|subject, no alert newer than upto) with
    who and one note. Returns how many alerts were closed; AdminError when no group was given or
    none of their alerts is open."""
    groups = [g for g in (alert_rules.parse_group_key(k) for k in keys[:MAX_GROUPS]) if g]
    if not groups:
        raise AdminError("no alert group chosen")
    closed = alert_rules.resolve_groups(conn, groups, nfc(note) if note else None, nfc(by), scope=scope)
    if not closed:
        raise AdminError("these alerts are already resolved")
    return closed


class BadField(AdminError):
    """One field of a settings form is wrong: ``field`` names it, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


#: field -> (integer?, lowest, highest, lowest included?, what the message says is allowed)
ALERT_RULE_RANGES = {
    "officer_rate_below": (False, 0.0, 100.0, True, "a percentage from 0 to 100"),
    "officer_min_ratings": (True, 1, 100_000, True, "a whole number from 1 to 100000"),
    "kiosk_silent_hours": (False, 0.0, 24.0 * 365, False, "a number of hours more than 0, at most 8760 (a year)"),
}


def _rule_number(field: str, value) -> float | int:
    """A finite number in the field's range (text as typed: "12,5" is 12.5), else BadField."""
    integer, low, high, low_in, allowed = ALERT_RULE_RANGES[field]
    if isinstance(value, bool):
        raise BadField(field, f"must be {allowed}")
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if not re.fullmatch(r"[+-]?([0-9]{1,12}(\.[0-9]{0,12})?|\.[0-9]{1,12})", text):
            raise BadField(field, f"must be {allowed}")
        number = float(text)
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise BadField(field, f"must be {allowed}")
    if not math.isfinite(number) or number > high or number < low or (number == low and not low_in):
        raise BadField(field, f"must be {allowed}")
    if integer:
        if number != int(number):
            raise BadField(field, f"must be {allowed}")
        return int(number)
    return number


def set_alert_rules(conn: Connection, officer_rate_below, officer_min_ratings, kiosk_silent_hours) -> dict:
    """Set the alert thresholds (the ``alert_rules`` setting); returns what was stored.

    Each value is a number or the text typed in the form; a value that is not
    a finite number in its range (``inf``, ``nan``, ``1e11``, ``-1``) raises
    :class:`BadField` naming the field.
    """
    new = {"officer_rate_below": _rule_number("officer_rate_below", officer_rate_below),
           "officer_min_ratings": _rule_number("officer_min_ratings", officer_min_ratings),
           "kiosk_silent_hours": _rule_number("kiosk_silent_hours", kiosk_silent_hours)}
    set_setting(conn, "alert_rules", new)
    return new


#: The fields of the ``report_issuer`` setting (reports/report_docx.Issuer reads them).
REPORT_ISSUER_FIELDS = ("parent", "body", "body_full", "place", "symbol", "signer_on_behalf",
                        "signer_title", "signer_name")


def set_report_issuer(conn: Connection, values: dict) -> dict:
    """Set who issues the Word report (every field; a missing one is stored empty); returns what was stored."""
    unknown = sorted(set(values) - set(REPORT_ISSUER_FIELDS))
    if unknown:
        raise AdminError(f"report issuer: unknown field(s) {', '.join(unknown)}")
    new = {f: nfc(str(values.get(f) or "").strip())[:200] for f in REPORT_ISSUER_FIELDS}
    set_setting(conn, "report_issuer", new)
    return new


# --- roster rows, one at a time ------------------------------------------------

#: kind -> (table, key column, [(field, required)]): what one row of each roster list holds.
ROSTER_LISTS = {
    "units": (units, "code", (("code", True), ("name", True), ("address", False))),
    "desks": (desks, "id", (("id", True), ("unit_code", True), ("name", True))),
    "officers": (officers, "id", (("id", True), ("name", True), ("title", False), ("desk_id", False))),
    "procedures": (procedures, "code", (("code", True), ("name", True), ("letter", False))),
}
ROSTER_MAX_CHARS = 200


class BadFields(AdminError):
    """Required fields missing, or fields too long (their names, missing ones first)."""

    def __init__(self, missing: list[str], too_long: list[str]):
        super().__init__(f"missing: {', '.join(missing) or '-'}; "
                         f"longer than {ROSTER_MAX_CHARS} characters: {', '.join(too_long) or '-'}")
        self.fields = missing + too_long


class RosterError(AdminError):
    """A roster problem worded once, in the server's catalogue: ``text`` is the Vietnamese msgid
    with {params}; a param that is a :class:`Word` (or a RosterError, a phrase) is translated too.
    ``say(_)`` words it for a reader (a page's translator); ``str()`` is the English (CLI, logs)."""

    def __init__(self, text: str, **params):
        self.text, self.params = text, params
        super().__init__(self.say(_english()))

    def say(self, _) -> str:
        return _(self.text, **{k: v.say(_) if isinstance(v, RosterError) else _(v) if isinstance(v, Word) else v
                               for k, v in self.params.items()})


class Word(str):
    """A word of a roster message that is translated with it (a list's or a field's name)."""


def _english():
    from sync.cli_i18n import Translator
    return Translator("en", domain="hailong_server")


#: the words of the roster's fields in messages (the file's column name follows in brackets)
FIELD_WORDS = {"code": Word("mã"), "id": Word("mã"), "name": Word("tên"), "address": Word("địa chỉ"),
               "title": Word("chức danh"), "unit_code": Word("mã đơn vị"), "desk_id": Word("mã quầy"),
               "pin": Word("mã PIN"), "pin_hash": Word("mã PIN"), "photo": Word("ảnh"),
               "letter": Word("thư kèm theo"), "desk_name": Word("tên quầy"), "unit_name": Word("tên đơn vị")}
LIST_WORDS = {"units": Word("đơn vị"), "desks": Word("quầy"), "officers": Word("cán bộ"),
              "procedures": Word("thủ tục")}


def _field(key: str) -> RosterError:
    return RosterError("cột {word} ({key})", word=FIELD_WORDS.get(key, Word(key)), key=key)


class NoRosterFile(RosterError, NotFound):
    """The roster file named does not exist (``hailong admin`` exits with status 2)."""


class BadPin(RosterError):
    """A PIN not of PIN_DIGITS digits."""


def valid_pin(pin) -> str:
    """The officer PIN rule, the one of the pages, the roster import and the CLI: exactly
    protocol.PIN_DIGITS digits (what the kiosk's staff panel asks for); returns it stripped."""
    pin = str(pin if pin is not None else "").strip()
    if not re.fullmatch(rf"\d{{{PIN_DIGITS}}}", pin):
        raise BadPin("Mã PIN phải gồm đúng {n} chữ số.", n=PIN_DIGITS)
    return pin


def _officer(conn: Connection, officer_id: str):
    row = conn.execute(select(officers).where(officers.c.id == officer_id)).mappings().first()
    if row is None:
        raise NotFound(f"no officer {officer_id!r}")
    return row


def set_officer_pin(conn: Connection, officer_id: str, pin: str) -> None:
    """Set or reset an officer's PIN (check_pin's rule): only its hash is stored, and the kiosks
    of the officer's unit get it with their next config."""
    pin = valid_pin(pin)
    _officer(conn, officer_id)
    conn.execute(officers.update().where(officers.c.id == officer_id).values(pin_hash=hash_pin(pin)))


def set_officer_active(conn: Connection, officer_id: str, active: bool) -> bool:
    """Deactivate (an officer who left) or reactivate an officer; returns whether it changed.

    A deactivated officer stays in history, reports and exports, and ratings that still arrive
    for them are stored; they leave the kiosks' roster (settings.kiosk_config) and the lists
    offered for new assignments."""
    row = _officer(conn, officer_id)
    if bool(row["active"]) == bool(active):
        return False
    conn.execute(officers.update().where(officers.c.id == officer_id).values(active=bool(active)))
    return True


def roster_in_scope(conn: Connection, scope: Scope, units_: dict, desks_: dict, officers_: dict,
                    procedures_: dict) -> None:
    """Refuse (scope.OutOfScope) roster rows a commune's admin may not write: another unit, a desk
    or officer now of another unit, an officer with no desk of theirs, the procedures (every unit's).

    ``desks_`` may hold desks written with the officers (a roster file), so their officers are in scope.
    """
    if scope.every_unit:
        return
    if procedures_:
        scope.require_all("change the procedures of every unit")
    for code in units_:
        scope.check(code, f"change unit {code}")
    mine = {d for d, row in desks_.items() if row.get("unit_code") == scope.unit}
    for did, row in desks_.items():
        scope.check(row.get("unit_code"), f"put desk {did} in another unit")
        now = conn.execute(select(desks.c.unit_code).where(desks.c.id == did)).scalar()
        scope.check(now if now is not None else scope.unit, f"change desk {did} of another unit")
    def ours(desk: str | None) -> bool:
        return bool(desk) and (desk in mine or scope.allows_desk(conn, desk))

    for oid, row in officers_.items():
        if not ours(row.get("desk_id")):
            scope.refuse(f"put officer {oid} at a desk of another unit (or at none)")
        now = conn.execute(select(officers.c.desk_id).where(officers.c.id == oid)).first()
        if now is not None and not ours(now[0]):
            scope.refuse(f"change officer {oid} of another unit")


def save_roster_row(conn: Connection, kind: str, values: dict, scope: Scope = EVERY_UNIT) -> str:
    """Add or update one row of a roster list (its key names it); returns "added" or "updated".
    A commune's admin (``scope``) writes their unit's rows only (roster_in_scope)."""
    if kind not in ROSTER_LISTS:
        raise NotFound(f"no roster list {kind!r} (one of {', '.join(ROSTER_LISTS)})")
    table, key, fields = ROSTER_LISTS[kind]
    row = {f: (nfc(str(values.get(f) or "")).strip() or None) for f, _req in fields}
    missing = [f for f, req in fields if req and not row[f]]
    too_long = [f for f, _req in fields if row[f] and len(row[f]) > ROSTER_MAX_CHARS]
    if missing or too_long:
        raise BadFields(missing, too_long)
    if kind == "desks" and not conn.execute(select(units.c.code).where(units.c.code == row["unit_code"])).first():
        raise Missing("unit", row["unit_code"])
    if kind == "officers" and row["desk_id"] and not conn.execute(
            select(desks.c.id).where(desks.c.id == row["desk_id"])).first():
        raise Missing("desk", row["desk_id"])
    if kind == "procedures" and row["letter"]:
        if letter_kind(row["letter"]) is None:
            raise Missing("letter", row["letter"])
        row["letter"] = letter_kind(row["letter"])
    roster_in_scope(conn, scope, *({row[key]: row} if k == kind else {}
                                   for k in ("units", "desks", "officers", "procedures")))
    if conn.execute(select(table.c[key]).where(table.c[key] == row[key])).first():
        conn.execute(table.update().where(table.c[key] == row[key]).values(**row))
        return "updated"
    conn.execute(table.insert().values(**row))
    return "added"


# --- officer photos ------------------------------------------------------------

def set_officer_photo(conn: Connection, officer_id: str, data: bytes, suffix: str, media_dir: str | Path) -> str:
    """Store ``data`` (a checked PNG or JPEG) as the officer's photo; returns its file name.

    The file is written first under a temporary name and moved into place
    inside the caller's transaction, so a failure leaves the old photo. A
    photo of another suffix that the new one replaces is removed after the
    move (the caller commits right after).
    """
    if suffix not in (".png", ".jpg"):
        raise AdminError(f"photo: must be .png or .jpg, got {suffix!r}")
    _ident(officer_id, "officer id")
    old = conn.execute(select(officers.c.photo).where(officers.c.id == officer_id)).first()
    if old is None:
        raise NotFound(f"no officer {officer_id!r}")
    media = Path(media_dir)
    media.mkdir(parents=True, exist_ok=True)
    name = f"{officer_id}{suffix}"               # the name import_roster gives a photo
    with tempfile.NamedTemporaryFile(dir=media, prefix=".upload-", delete=False) as tmp:
        tmp.write(data)
    try:
        conn.execute(officers.update().where(officers.c.id == officer_id).values(
            photo=name, photo_sha256=hashlib.sha256(data).hexdigest()))
        os.replace(tmp.name, media / name)       # a failure here rolls the update back
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    if old.photo and old.photo != name and "/" not in old.photo:
        (media / old.photo).unlink(missing_ok=True)     # e.g. the .jpg a new .png replaces
    return name


# --- roster import ----------------------------------------------------------

def _read_table_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(fh)]


def _read_xlsx(path: Path) -> dict[str, list[dict]]:
    from openpyxl import load_workbook
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise RosterError("{file}: không phải tệp Excel đọc được ({why}).", file=str(path),
                          why=exc.__class__.__name__) from None
    tables = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        if not rows:
            continue
        head = [str(h).strip() if h is not None else "" for h in rows[0]]
        tables[sheet.title.strip().lower()] = [
            {h: ("" if v is None else str(v).strip()) for h, v in zip(head, row) if h}
            for row in rows[1:] if any(v not in (None, "") for v in row)]
    if len(tables) == 1 and "officers" not in tables:
        tables = {"officers": next(iter(tables.values()))}
    return tables


def read_roster(path: str | Path) -> dict:
    """A roster file → {"units", "desks", "officers", "procedures"} (NFC).

    JSON: like assets/demo/roster.json. Excel: sheets named units, desks,
    officers, procedures (a single sheet is the officers). CSV: officers, one
    a row (id, name, title, desk_id, photo, pin), optional desk_name,
    unit_code and unit_name columns creating the desks and units.
    """
    path = Path(path)
    if not path.is_file():
        raise NoRosterFile("{path}: không có tệp này.", path=str(path))
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RosterError("{file}: không phải JSON hợp lệ ({why}).", file=str(path), why=str(exc)) from None
        if not isinstance(data, dict):
            raise RosterError("{file}: phải chứa một đối tượng JSON có units, desks, officers, procedures.",
                              file=str(path))
    elif suffix == ".xlsx":
        data = _read_xlsx(path)
    elif suffix == ".csv":
        try:
            rows = _read_table_csv(path)
        except UnicodeDecodeError:
            raise RosterError("{file}: không phải văn bản UTF-8 (hãy lưu tệp CSV dạng UTF-8).",
                              file=str(path)) from None
        data = {"officers": rows, "desks": [], "units": []}
        for row in rows:
            if row.get("desk_id") and row.get("desk_name"):
                data["desks"].append({"id": row["desk_id"], "name": row["desk_name"],
                                      "unit_code": row.get("unit_code", "")})
            if row.get("unit_code") and row.get("unit_name"):
                data["units"].append({"code": row["unit_code"], "name": row["unit_name"]})
    else:
        raise RosterError("{file}: không rõ dạng tệp danh mục (dùng .json, .csv hoặc .xlsx).", file=str(path))
    return nfc(data)


def _rows(data: dict, name: str, path: Path) -> list[dict]:
    rows = data.get(name, []) or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise RosterError("{file}: {name} phải là một danh sách các đối tượng.", file=str(path), name=name)
    return rows


def _where(path: Path, name: str, i: int) -> RosterError:
    """The phrase naming row ``i`` (from 1) of list ``name`` of the file: its line in a CSV or
    Excel sheet (the header is line 1), its place in a JSON list."""
    if path.suffix.lower() == ".json":
        return RosterError("{file}, danh sách {list}, mục thứ {n}", file=path.name, list=LIST_WORDS[name], n=i)
    return RosterError("{file}, danh sách {list}, dòng {n}", file=path.name, list=LIST_WORDS[name], n=i + 1)


def _need(row: dict, key: str, where) -> str:
    value = row.get(key)
    if value in (None, ""):
        raise RosterError("{where}: thiếu {field}.", where=where, field=_field(key))
    return str(value)


def _roster_ident(value: str, key: str, where) -> str:
    if not IDENT.match(value):
        raise RosterError("{where}: {field} chỉ gồm 1–64 chữ cái không dấu, chữ số, '.', '_' hoặc '-' "
                          "(nhận được {got}).", where=where, field=_field(key), got=repr(value))
    return value


class PhotosNotAllowed(RosterError):
    """A roster file uploaded without its photos names some (photos come one by one there)."""


def import_roster(conn: Connection, path: str | Path, media_dir: str | Path, uploaded: bool = False,
                  scope: Scope = EVERY_UNIT) -> dict:
    """Upsert units, desks, officers (PINs hashed, photos copied) and procedures; returns counts.

    uploaded: the file came through the pages, alone: one that names a photo
    is refused (PhotosNotAllowed) and officers keep the photos they have.
    scope: a commune's admin imports their unit's rows only; a file with any other is refused whole.
    """
    path = Path(path)
    data = read_roster(path)
    listed = data.get("officers")
    if uploaded and isinstance(listed, list) and any(isinstance(o, dict) and o.get("photo") for o in listed):
        raise PhotosNotAllowed("Tệp {name} có cột ảnh (photo), mà ảnh không gửi kèm được qua trang này: hãy bỏ "
                               "cột ảnh, hoặc nhập bằng lệnh hailong admin import-roster trên máy chủ.", name=path.name)
    media = Path(media_dir)
    unit_rows = {}
    for i, u in enumerate(_rows(data, "units", path), 1):
        where = _where(path, "units", i)
        code = _roster_ident(_need(u, "code", where), "code", where)
        unit_rows[code] = {"code": code, "name": _need(u, "name", where), "address": u.get("address") or None}
    desk_rows = {}
    for i, d in enumerate(_rows(data, "desks", path), 1):
        where = _where(path, "desks", i)
        did = _roster_ident(_need(d, "id", where), "id", where)
        desk_rows[did] = {"id": did, "unit_code": _need(d, "unit_code", where), "name": _need(d, "name", where)}
    known_desks = set(desk_rows) | {r[0] for r in conn.execute(select(desks.c.id))}
    officer_rows, photos = {}, {}
    for i, o in enumerate(_rows(data, "officers", path), 1):
        where = _where(path, "officers", i)
        oid = _roster_ident(_need(o, "id", where), "id", where)
        desk_id = o.get("desk_id") or None
        if desk_id and desk_id not in known_desks:
            raise RosterError("{where} (cán bộ {officer}): {field}: quầy {desk} không có trong danh mục.",
                              where=where, officer=oid, field=_field("desk_id"), desk=desk_id)
        pin = str(o.get("pin") or "").strip()
        if pin:
            try:
                pin = valid_pin(pin)
            except BadPin as exc:
                raise RosterError("{where} (cán bộ {officer}): {field}: {problem}", where=where, officer=oid,
                                  field=_field("pin"), problem=exc) from None
        pin_hash = hash_pin(pin) if pin else (o.get("pin_hash") or None)
        row = {"id": oid, "name": _need(o, "name", where), "title": o.get("title") or None,
               "desk_id": desk_id, "photo": None, "photo_sha256": None, "pin_hash": pin_hash}
        if o.get("photo"):
            src = Path(o["photo"])
            src = src if src.is_absolute() else path.parent / src
            if not src.is_file():
                raise RosterError("{where} (cán bộ {officer}): {field}: không thấy tệp {photo}.", where=where,
                                  officer=oid, field=_field("photo"), photo=o["photo"])
            photos[oid] = src
            row["photo"] = f"{oid}{src.suffix.lower() or '.png'}"
            row["photo_sha256"] = hashlib.sha256(src.read_bytes()).hexdigest()
        if uploaded:                    # no photo named: leave the officer's own
            del row["photo"], row["photo_sha256"]
        officer_rows[oid] = row
    proc_rows = {}
    for i, p in enumerate(_rows(data, "procedures", path), 1):
        where = _where(path, "procedures", i)
        code = _need(p, "code", where)
        letter = p.get("letter") or None
        if letter and letter_kind(letter) is None:
            raise RosterError("{where} (thủ tục {code}): {field}: không có loại thư {letter} (một trong {kinds}).",
                              where=where, code=code, field=_field("letter"), letter=letter,
                              kinds=", ".join(LETTER_KINDS))
        proc_rows[code] = {"code": code, "name": _need(p, "name", where),
                           "letter": letter_kind(letter) if letter else None}

    roster_in_scope(conn, scope, unit_rows, desk_rows, officer_rows, proc_rows)
    for table, key, rows in ((units, "code", unit_rows), (desks, "id", desk_rows),
                             (officers, "id", officer_rows), (procedures, "code", proc_rows)):
        for k, row in rows.items():
            if conn.execute(select(table.c[key]).where(table.c[key] == k)).first():
                conn.execute(table.update().where(table.c[key] == k).values(**row))
            else:
                conn.execute(table.insert().values(**row))
    media.mkdir(parents=True, exist_ok=True)
    for oid, src in photos.items():
        shutil.copyfile(src, media / officer_rows[oid]["photo"])
    return {"units": len(unit_rows), "desks": len(desk_rows), "officers": len(officer_rows),
            "procedures": len(proc_rows), "photos": len(photos)}
