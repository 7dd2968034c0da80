"""QR receipts: issuing one for a dossier, and checking one scanned at the kiosk.

Pure logic over the kiosk store and sync/protocol.py (no Kivy, no devices).
The token format and signature are DESIGN.md's "QR receipt"; what is policy
(validity, unit, officer, "rates once") is decided here.

Refusal messages come as Vietnamese and English pairs so the screen can show
either; a refusal never carries the scanned text into the security log (a
citizen may scan some other QR code, e.g. of their ID card).
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable

from sync import protocol

#: How far in the future an issue time may lie (clock drift between the
#: printing machine and the kiosk; a Raspberry Pi has no real-time clock).
FUTURE_TOLERANCE_S = 600
DOSSIER_MAX = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: The furthest appointment date a receipt takes, in days after its issue day: a
#: one-stop dossier is settled within weeks (and the receipt stays valid
#: ``validity_days`` after the appointment, so a far date would keep it alive for long).
APPOINTMENT_MAX_DAYS = 366
#: how an appointment date may be written: 2026-12-05, or 05/12/2026 (5/12/2026, 05-12-2026, 05.12.2026)
_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_VN_DAY = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})")


class ReceiptIssueError(ValueError):
    """A receipt cannot be issued: the message says what to fix."""


class AppointmentError(ReceiptIssueError):
    """An appointment date a receipt cannot carry.

    ``kind``: ``format`` (not a date), ``past`` (before the issue day) or
    ``far`` (more than APPOINTMENT_MAX_DAYS after it); ``text`` the value as
    given (printable, at most 40 characters), ``day`` the date when it parsed,
    ``today`` the issue day. The command line and the staff panel word it in
    their own language.
    """

    def __init__(self, kind: str, text: str, day: date | None = None, today: date | None = None):
        self.kind, self.text, self.day, self.today = kind, text, day, today
        words = {"format": "not a date: write it as 2026-12-05 or 05/12/2026",
                 "past": f"before the receipt's issue day {today:%d/%m/%Y}" if today else "before the issue day",
                 "far": f"more than {APPOINTMENT_MAX_DAYS} days after the issue day"}
        super().__init__(f"appointment date {text!r}: {words[kind]}")


def shown_text(text: str, limit: int = 40) -> str:
    """A hostile value as it may be shown back: printable characters only, at most ``limit``."""
    text = protocol.nfc(str(text))
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def parse_appointment(value: str | date | None) -> date | None:
    """The appointment date (ngày hẹn trả kết quả) as an admin writes it, or None for none.

    2026-12-05 or 05/12/2026 (the day first, as Vietnamese write it; / . or -
    between). A date that does not exist (31/02/2026) or any other text raises
    AppointmentError ``format``. Whether the date may go on a receipt is
    :func:`check_appointment`'s.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    iso, vn = _ISO_DAY.fullmatch(text), _VN_DAY.fullmatch(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if vn:
            return date(int(vn[3]), int(vn[2]), int(vn[1]))
    except ValueError:
        pass
    raise AppointmentError("format", shown_text(text))


def check_appointment(day: date, issued_on: date) -> date:
    """``day`` if a receipt issued on ``issued_on`` (the kiosk's local day) may carry it, else AppointmentError."""
    if day < issued_on:
        raise AppointmentError("past", f"{day:%d/%m/%Y}", day, issued_on)
    if (day - issued_on).days > APPOINTMENT_MAX_DAYS:
        raise AppointmentError("far", f"{day:%d/%m/%Y}", day, issued_on)
    return day


valid_until = protocol.valid_until   # the rule lives in sync/protocol.py: the phone page checks it too


def _offset(utc_offset: str | timezone | None) -> timezone:
    return utc_offset if isinstance(utc_offset, timezone) else protocol.tz_from_offset(utc_offset or "+07:00")


@dataclass
class Issued:
    """A receipt just issued: what the QR holds and what the paper shows."""

    token: str
    fields: dict
    receipt_id: str
    issued_at: datetime
    officer: dict
    procedure: dict | None
    #: the last moment the kiosk accepts it (valid_until), at the kiosk's offset
    valid_until: datetime | None = None
    #: the dossier's appointment date (ngày hẹn trả kết quả) the receipt carries as ``a``, or None
    appointment: date | None = None




# -- the key -------------------------------------------------------------------

def _key_from_meta(value: str | None) -> str:
    """The sync agent stores the server's receipt key as plain hex or JSON."""
    if not value:
        return ""
    value = value.strip()
    try:
        data = json.loads(value)
    except ValueError:
        return value
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for name in ("key", "receipt_key"):
            if isinstance(data.get(name), str):
                return data[name]
    return ""


def receipt_key(cfg, store) -> str:
    """[receipt] key from config.toml, else the one the server delivered (store meta)."""
    key = (cfg.receipt.get("key") or "") if cfg is not None else ""
    if not key and store is not None:
        key = _key_from_meta(store.get_meta("receipt_key"))
    key = key.strip().lower()
    if key and not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ReceiptIssueError("receipt key: must be 64 hexadecimal digits")
    return key


#: the longest public base URL a receipt carries (the server's settings.PUBLIC_URL_MAX): with the
#: payload and signature the QR text stays within protocol.RECEIPT_TOKEN_MAX and readable at 58 mm
PUBLIC_URL_MAX = 200
_PUBLIC_URL = re.compile(r"https?://[^\s?#/@]+(/[^\s?#]*)?", re.I)


def _usable_url(value) -> str | None:
    """A base URL a receipt may carry (http(s), a host, no space, query or fragment), else None."""
    if not isinstance(value, str):
        return None
    value = value.strip().rstrip("/")
    if not value or len(value) > PUBLIC_URL_MAX or not _PUBLIC_URL.fullmatch(value) \
            or not value.isprintable():
        return None
    return value


def public_base_url(cfg, store) -> str | None:
    """Where the receipt's QR points a phone: [receipt] public_base_url of config.toml, else the unit's
    public base URL the server sent (meta ``server_public_base_url``); None: the QR holds HL1.…

    A value a receipt cannot carry (not http(s), too long) is left aside: the receipt is still
    printed, in the HL1 form the kiosk scans.
    """
    url = _usable_url((cfg.receipt.get("public_base_url") or "") if cfg is not None else "")
    if url is None and store is not None:
        held = store.get_meta("server_public_base_url")
        try:
            url = _usable_url(json.loads(held)) if held else None
        except ValueError:
            url = _usable_url(held)
    return url


# -- issuing -------------------------------------------------------------------

def clean_dossier(code: str) -> str:
    code = protocol.nfc((code or "").strip())
    if not code:
        raise ReceiptIssueError("dossier code: must not be empty")
    if len(code) > DOSSIER_MAX or _CONTROL.search(code):
        raise ReceiptIssueError(f"dossier code: at most {DOSSIER_MAX} printable characters")
    return code


def issue(cfg, store, officer_id: str, dossier_code: str, procedure_code: str | None = None,
          now: datetime | None = None, appointment: str | date | None = None) -> Issued:
    """Sign a receipt for ``dossier_code`` handled by ``officer_id`` at this desk.

    ``appointment``: the dossier's appointment date (a date, "2026-12-05" or
    "05/12/2026"), carried as ``a`` ("YYYY-MM-DD"); not before the issue's
    local day nor more than APPOINTMENT_MAX_DAYS after it (AppointmentError).

    Raises ReceiptIssueError for an officer missing from the roster, an
    empty dossier code or a missing receipt key.
    """
    key = receipt_key(cfg, store)
    if not key:
        raise ReceiptIssueError(
            "no receipt key: set [receipt] key in config.toml or sync once with the town server")
    officer_id = protocol.nfc((officer_id or "").strip())
    officer = store.officer(officer_id) if officer_id else None
    if officer is None:
        hint = "" if store.officers() else " (the roster is empty: sync once with the town server)"
        raise ReceiptIssueError(f"officer {officer_id!r}: not in the roster{hint}")
    dossier_code = clean_dossier(dossier_code)
    procedure = None
    if procedure_code:
        procedure_code = protocol.nfc(procedure_code.strip())
        procedure = next((p for p in store.procedures() if p["code"] == procedure_code), None)
    now = cfg.local(now) if now is not None else cfg.now()     # the kiosk's one local time
    day = parse_appointment(appointment)
    if day is not None:
        check_appointment(day, now.date())
    fields = protocol.receipt_fields(cfg.kiosk["unit_code"], cfg.kiosk["desk_id"], officer_id,
                                     dossier_code, procedure_code or None, int(now.timestamp()))
    if day is not None:
        fields["a"] = day.isoformat()
    token = protocol.make_receipt_token(fields, key, public_base_url(cfg, store))
    payload = protocol.b64url(protocol.canonical_json(fields))
    until = cfg.local(receipt_valid_until(cfg, fields))
    return Issued(token, fields, protocol.receipt_id(payload), now, officer, procedure, until, day)


def receipt_valid_until(cfg, fields: dict) -> int:
    """The last Unix second this kiosk accepts the receipt of ``fields`` (its issue time, its ``a``)."""
    return valid_until(fields["t"], cfg.receipt["validity_days"], fields.get("a"),
                       cfg.kiosk.get("utc_offset") or "+07:00")


# -- verifying -----------------------------------------------------------------

@dataclass
class Accepted:
    officer_id: str
    officer: dict
    dossier_code: str
    procedure_code: str | None
    receipt_id: str
    desk_id: str
    issued_at: int
    #: the dossier's appointment date ("YYYY-MM-DD", the receipt's ``a``), or None
    appointment: str | None = None
    ok: bool = field(default=True, init=False)


@dataclass
class Refused:
    kind: str
    message_vi: str
    message_en: str
    ok: bool = field(default=False, init=False)

    def message(self, language: str = "vi") -> str:
        return self.message_en if language == "en" else self.message_vi


MESSAGES = {
    "malformed": (
        "Mã QR này không phải phiếu đánh giá của Bộ phận Một cửa. "
        "Xin Ông/Bà quét mã QR in trên phiếu do cán bộ trao.",
        "This QR code is not a rating receipt of the one-stop desk. "
        "Please scan the QR code printed on the receipt the officer gave you."),
    "forged": (
        "Không xác thực được phiếu này (mã đã bị sửa hoặc không do đơn vị cấp). "
        "Xin Ông/Bà liên hệ cán bộ tại quầy.",
        "This receipt could not be verified (altered or not issued by this office). "
        "Please ask the officer at the desk."),
    "expired": (
        "Phiếu này đã quá hạn đánh giá ({days} ngày). "
        "Ông/Bà vẫn có thể đánh giá trực tiếp trên máy.",
        "This receipt is past its {days}-day rating period. "
        "You can still rate directly on this kiosk."),
    "future": (
        "Ngày giờ trên phiếu không hợp lệ. Xin Ông/Bà liên hệ cán bộ tại quầy.",
        "The date on this receipt is not valid. Please ask the officer at the desk."),
    "other_unit": (
        "Phiếu này do đơn vị khác cấp, không đánh giá được tại máy này.",
        "This receipt was issued by another office and cannot be rated on this kiosk."),
    "unknown_officer": (
        "Không tìm thấy cán bộ ghi trên phiếu. Xin Ông/Bà liên hệ cán bộ tại quầy.",
        "The officer named on this receipt is not on this kiosk's list. "
        "Please ask the officer at the desk."),
    "expired_appointment": (
        ("Phiếu này đã quá hạn đánh giá ({days} ngày sau ngày hẹn trả kết quả {day}). "
         "Ông/Bà vẫn có thể đánh giá trực tiếp trên máy."),
        ("This receipt is past its rating period ({days} days after the appointment date {day}). "
         "You can still rate directly on this kiosk.")),
    "already_rated": (
        "Hồ sơ này đã được đánh giá. Xin cảm ơn Ông/Bà!",
        "This dossier has already been rated. Thank you!"),
}


class ReceiptVerifier:
    """Checks scanned tokens offline against the kiosk's key, unit and roster.

    ``clock`` returns Unix seconds (time.time by default). Every refusal but
    "already_rated" is counted in the store's security events.
    """

    def __init__(self, store, receipt_key: str, unit_code: str, validity_days: int = 30,
                 clock: Callable[[], float] = time.time, future_tolerance: int = FUTURE_TOLERANCE_S,
                 utc_offset: str = "+07:00"):
        self.store = store
        self.receipt_key = (receipt_key or "").lower()
        self.unit_code = unit_code
        self.validity_days = validity_days
        self.clock = clock
        self.future_tolerance = future_tolerance
        #: the kiosk's offset: an appointment date's day ends at local midnight
        self.utc_offset = utc_offset

    @classmethod
    def from_config(cls, cfg, store, **kw) -> "ReceiptVerifier":
        kw.setdefault("utc_offset", cfg.kiosk.get("utc_offset") or "+07:00")
        return cls(store, receipt_key(cfg, store), cfg.kiosk["unit_code"],
                   cfg.receipt["validity_days"], **kw)

    def _refuse(self, kind: str, detail: str | None, count: bool = True, message: str | None = None,
                **fmt) -> Refused:
        vi, en = MESSAGES[message or kind]
        if count:
            self.store.record_event(kind, detail)
        return Refused(kind, vi.format(**fmt), en.format(**fmt))

    def check(self, token_text: str) -> Accepted | Refused:
        if not isinstance(token_text, str) or not token_text.strip():
            return self._refuse("malformed", "empty scan")
        if not self.receipt_key:
            # Without a key nothing can be verified: say so as "forged" would mislead.
            return self._refuse("malformed", "kiosk has no receipt key yet")
        try:
            fields, rid = protocol.parse_receipt_token(token_text, self.receipt_key)
        except protocol.ReceiptError as exc:
            kind = exc.kind if exc.kind in MESSAGES else "malformed"
            return self._refuse(kind, str(exc))
        except (ValueError, UnicodeError):
            return self._refuse("malformed", "undecodable scan")
        if fields["u"] != self.unit_code:
            return self._refuse("other_unit", f"receipt {rid} of unit {fields['u']}")
        now = self.clock()
        age = now - fields["t"]
        appointment = fields.get("a")
        if now > valid_until(fields["t"], self.validity_days, appointment, self.utc_offset):
            if appointment:
                return self._refuse("expired", f"receipt {rid} issued {int(age // 86400)} days ago, "
                                    f"appointment {appointment}", message="expired_appointment",
                                    days=self.validity_days, day=f"{date.fromisoformat(appointment):%d/%m/%Y}")
            return self._refuse("expired", f"receipt {rid} issued {int(age // 86400)} days ago",
                                days=self.validity_days)
        if -age > self.future_tolerance:
            return self._refuse("expired", f"receipt {rid} issued {int(-age)} s in the future",
                                message="future")
        officer = self.store.officer(fields["o"])
        if officer is None:
            return self._refuse("unknown_officer", f"receipt {rid} names officer {fields['o']}")
        if self.store.receipt_used(rid):
            return self._refuse("already_rated", None, count=False)
        return Accepted(fields["o"], officer, fields["h"], fields.get("p"), rid, fields["d"], fields["t"],
                        appointment)


# -- the paper -------------------------------------------------------------------

def receipt_image(cfg, store, issued: Issued):
    """Render ``issued`` for this kiosk's paper, with names from the roster."""
    from kiosk import render

    unit = store.unit(cfg.kiosk["unit_code"]) or {}
    desk = store.desk(cfg.kiosk["desk_id"]) or {}
    procedure = issued.procedure["name"] if issued.procedure else issued.fields.get("p")
    return render.render_receipt(
        token=issued.token, unit_name=unit.get("name") or cfg.kiosk["unit_code"],
        desk_name=desk.get("name") or cfg.kiosk["desk_id"], officer_name=issued.officer["name"],
        officer_title=issued.officer.get("title"), dossier_code=issued.fields["h"],
        procedure_name=procedure, issued_at=cfg.local(issued.issued_at),
        valid_until=cfg.local(receipt_valid_until(cfg, issued.fields)),
        appointment=date.fromisoformat(issued.fields["a"]) if issued.fields.get("a") else None,
        paper_mm=cfg.receipt["paper_mm"])
