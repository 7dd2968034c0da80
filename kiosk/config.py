"""config.toml: load, check, and give one clear message naming a bad key.

Every key has a default except those that identify the kiosk. A wrong type
or value raises ConfigError("[section] key: what is wrong"), which the
command line prints without a traceback.
"""
from __future__ import annotations

import re
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kiosk import hours as _hours
from sync.protocol import (
    DEFAULT_REASONS,
    IDENT,
    LETTER_KINDS,
    SCALES,
    nfc,
    tz_from_offset,
)

HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class ConfigError(Exception):
    """A broken config: the message names the key and what is wrong."""


# (section, key) -> (type, default, check or None). A default of REQUIRED must be given.
REQUIRED = object()


def _hex64_or_empty(v):
    return v == "" or bool(HEX64.match(v)) or "must be 64 hexadecimal digits (or empty)"


def _positive(v):
    return v > 0 or "must be greater than 0"


def _non_negative(v):
    return v >= 0 or "must be 0 or more"


def _ident(v):
    return bool(IDENT.match(v)) or "must be 1-64 letters, digits, '.', '_' or '-'"


def _day_ranges(v):
    """[hours] <day>: a list of "07:30-11:30" ranges (kiosk.hours says what is wrong)."""
    try:
        _hours.parse_day(v)
    except _hours.HoursError as exc:
        return str(exc)
    return True


def _one_of(*choices):
    return lambda v: v in choices or f"must be one of {', '.join(map(str, choices))}"


SCHEMA: dict[str, dict[str, tuple[type | tuple, Any, Any]]] = {
    "kiosk": {
        "id": (str, REQUIRED, _ident),
        "unit_code": (str, REQUIRED, _ident),
        "desk_id": (str, REQUIRED, _ident),
        "db": (str, "kiosk.db", None),
        "key": (str, "", _hex64_or_empty),
        "utc_offset": (str, "+07:00", lambda v: bool(re.fullmatch(r"[+-]\d\d:\d\d", v)) or "must look like +07:00"),
    },
    "server": {
        "url": (str, "", lambda v: v == "" or v.startswith(("http://", "https://")) or "must start with http:// or https://"),
        "token": (str, "", None),
        "key": (str, "", _hex64_or_empty),
        "batch_size": (int, 500, lambda v: 1 <= v <= 5000 or "must be between 1 and 5000"),
        "timeout": ((int, float), 10, _positive),
        "interval": ((int, float), 15, _positive),
        "heartbeat_interval": ((int, float), 60, _positive),
        "max_backoff": ((int, float), 300, _positive),
    },
    "receipt": {
        "key": (str, "", _hex64_or_empty),
        "validity_days": (int, 30, _positive),
        "public_base_url": (str, "", None),
        "paper_mm": (int, 58, _one_of(58, 80)),
    },
    "printer": {
        "port": (str, "", None),
        "baudrate": (int, 9600, _positive),
        "profile": (str, "default", None),
        "timeout": ((int, float), 3, _positive),
        "check_status": (bool, True, None),
        "save_dir": (str, "", None),
    },
    "scanner": {
        "port": (str, "", None),
        "baudrate": (int, 9600, _positive),
    },
    "ui": {
        "language": (str, "vi", _one_of("vi", "en")),
        "fullscreen": (bool, True, None),
        "show_cursor": (bool, False, None),
        "width": (int, 1280, _positive),
        "height": (int, 800, _positive),
        "idle_timeout": ((int, float), 45, _positive),
        "thanks_timeout": ((int, float), 5, _positive),
        "rapid_repeat_seconds": ((int, float), 10, _non_negative),
        "touch_debounce_ms": (int, 250, _non_negative),
        "input_provider": (str, "mouse", _one_of("mouse", "mtdev", "hidinput", "probesysfs")),
        "input_device": (str, "", None),
        "staff_pin": (str, "", lambda v: v == "" or bool(re.fullmatch(r"\d{4,8}", v)) or "must be 4 to 8 digits"),
        "long_press_seconds": ((int, float), 3, _positive),
        "staff_idle_timeout": ((int, float), 120, _positive),
    },
    "letters": {
        "default": (str, "", _one_of("", *LETTER_KINDS)),
        "with_receipt": (bool, False, None),
        "after_rating": (bool, False, None),
        "by_procedure": (dict, {}, lambda v: all(k in ("", *LETTER_KINDS) for k in v.values())
                         or f"each letter must be {', '.join(LETTER_KINDS)} or empty"),
    },
    "survey": {
        "scale": (int, 3, _one_of(*sorted(SCALES))),
        "reasons": (list, list(DEFAULT_REASONS), None),
        "reasons_below_level": (int, 0, _non_negative),
        "comment": (bool, True, None),
    },
    # opening hours, local time: mon = ["07:30-11:30", "13:30-17:00"] … ; no day given = always open,
    # once one is given the days not given are closed (kiosk/hours.py)
    "hours": {day: (list, None, _day_ranges) for day in _hours.DAYS},
}


@dataclass
class Config:
    """The checked config: ``cfg.section["key"]``, with defaults filled in."""

    path: Path
    kiosk: dict = field(default_factory=dict)
    server: dict = field(default_factory=dict)
    receipt: dict = field(default_factory=dict)
    printer: dict = field(default_factory=dict)
    scanner: dict = field(default_factory=dict)
    ui: dict = field(default_factory=dict)
    survey: dict = field(default_factory=dict)
    letters: dict = field(default_factory=dict)
    hours: dict = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        """kiosk.db, relative paths taken from the config file's folder."""
        p = Path(self.kiosk["db"])
        return p if p.is_absolute() else self.path.parent / p

    @property
    def print_dir(self) -> Path | None:
        """[printer] save_dir (relative paths from the config file's folder), or None."""
        if not self.printer.get("save_dir"):
            return None
        p = Path(self.printer["save_dir"])
        return p if p.is_absolute() else self.path.parent / p

    @property
    def has_printer(self) -> bool:
        """A serial port, or a folder the prints go to as PNG files."""
        return bool(self.printer.get("port") or self.printer.get("save_dir"))

    @property
    def tz(self) -> timezone:
        """The kiosk's wall clock zone: [kiosk] utc_offset (Asia/Ho_Chi_Minh, +07:00)."""
        return tz_from_offset(self.kiosk.get("utc_offset") or "+07:00")

    def now(self) -> datetime:
        """What the kiosk's clocks read now, whatever the machine's TZ: see :func:`local_now`."""
        return local_now(self.kiosk.get("utc_offset") or "+07:00")

    def local(self, when: datetime | float | str) -> datetime:
        """``when`` (an aware datetime, Unix seconds or RFC 3339 text) at the kiosk's offset."""
        return to_local(when, self.kiosk.get("utc_offset") or "+07:00")

    @property
    def opening_hours(self) -> _hours.OpeningHours | None:
        """[hours] as kiosk.hours.OpeningHours, or None: no day given, always open."""
        return _hours.parse({d: v for d, v in (self.hours or {}).items() if v is not None})

    @property
    def kiosk_key(self) -> str:
        """The kiosk's HMAC key: [server] key (from enrolment), else [kiosk] key."""
        return (self.server["key"] or self.kiosk["key"]).lower()


#: Unix seconds now; the one wall clock every time the kiosk shows is read from
#: (tests replace it to stand at a chosen instant).
wall_clock = time.time


def local_now(utc_offset: str = "+07:00") -> datetime:
    """The kiosk's one local time: now at ``utc_offset``, to the second, whatever TZ the machine has.

    The header clock, receipts, letters and the staff panel all read this, as
    ratings do (sync.protocol.now_at_offset), so a receipt printed at 00:30
    in Hà Nội carries the same date as the rating it brings.
    """
    return datetime.fromtimestamp(int(wall_clock()), tz_from_offset(utc_offset))


def to_local(when: datetime | float | str, utc_offset: str = "+07:00") -> datetime:
    """An instant at ``utc_offset``: an aware datetime, Unix seconds, or RFC 3339 text (naive = UTC)."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if isinstance(when, (int, float)):
        return datetime.fromtimestamp(when, tz_from_offset(utc_offset))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(tz_from_offset(utc_offset))


def _type_name(t) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}
    if isinstance(t, tuple):
        return "a number"
    return names.get(t, t.__name__)


#: Keys whose value is a secret: an error names the key and what is wrong, never the value.
SECRET_KEYS = {("kiosk", "key"), ("server", "token"), ("server", "key"), ("receipt", "key"), ("ui", "staff_pin")}


def _shown(section: str, key: str, value) -> str:
    """The value as an error message shows it: repr, or for a secret only its type and length."""
    if (section, key) not in SECRET_KEYS:
        return repr(value)
    if isinstance(value, str):
        return f"{len(value)} characters (value not shown: it is a secret)"
    return f"{type(value).__name__} (value not shown: it is a secret)"


def check(data: dict, path: Path) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a TOML table")
    for section in data:
        if section not in SCHEMA:
            raise ConfigError(f"[{section}]: unknown section (known: {', '.join(SCHEMA)})")
    cfg = Config(path=path)
    for section, keys in SCHEMA.items():
        given = data.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"[{section}]: must be a table")
        for key in given:
            if key not in keys:
                raise ConfigError(f"[{section}] {key}: unknown key (known: {', '.join(keys)})")
        out = {}
        for key, (typ, default, rule) in keys.items():
            if key not in given:
                if default is REQUIRED:
                    raise ConfigError(f"[{section}] {key}: missing (required)")
                out[key] = default
                continue
            value = given[key]
            ok_type = isinstance(value, typ) and not (isinstance(value, bool) and typ is not bool and bool not in (typ if isinstance(typ, tuple) else (typ,)))
            if not ok_type:
                raise ConfigError(f"[{section}] {key}: must be {_type_name(typ)}, got {_shown(section, key, value)}")
            value = nfc(value)
            if rule is not None:
                verdict = rule(value)
                if verdict is not True:
                    raise ConfigError(f"[{section}] {key}: {verdict if isinstance(verdict, str) else 'invalid value'}, "
                                      f"got {_shown(section, key, value)}")
            out[key] = value
        setattr(cfg, section, out)
    for code in cfg.survey["reasons"]:
        if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9_]{1,40}", code):
            raise ConfigError(f"[survey] reasons: each reason must be a code like 'thai_do', got {code!r}")
    return cfg


def load(path: str | Path = "config.toml") -> Config:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return check(data, path.resolve())
