"""The server's clock and the local time zone every report and alert is read in.

Times are stored as RFC 3339 text: the server's own (received_at, alerts)
in UTC with milliseconds, the kiosks' as they sent them (+07:00). The local
calendar (days, months, quarters) is Vietnam's, taken from tzdata.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """A moment as the server stores it: RFC 3339 with milliseconds."""
    return dt.isoformat(timespec="milliseconds")


def parse_stored(value: str | None) -> datetime | None:
    """A stored time back as an aware datetime (naive = UTC); None when absent or unreadable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def local_text(value: str | datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored time as an admin reads it (local, day first); "—" when there is none."""
    dt = value if isinstance(value, datetime) else parse_stored(value)
    if dt is None:
        return "—" if not value else str(value)
    return dt.astimezone(VN_TZ).strftime(fmt)


def local_month(dt: datetime) -> str:
    """YYYY-MM of a moment on the local calendar: the month alerts are grouped by."""
    return dt.astimezone(VN_TZ).strftime("%Y-%m")
