"""Opening hours (giờ làm việc): when the kiosk takes ratings. No Kivy.

config.toml's optional ``[hours]`` gives each day's ranges, local time at
``[kiosk] utc_offset``::

    [hours]
    mon = ["07:30-11:30", "13:30-17:00"]
    tue = ["07:30-11:30", "13:30-17:00"]
    …
    sat = ["07:30-11:30"]        # a Saturday morning; a day not given is closed

No ``[hours]`` (or an empty one) is always open, as before. Ranges are
half-open (``07:30-11:30``: open at 07:30, closed from 11:30), ``24:00`` may
end a day, and ``22:00-24:00`` Monday with ``00:00-06:00`` Tuesday is one
opening across midnight.

Outside the hours the app dims the citizen's screens and ignores their taps;
each ignored tap is counted in kiosk.db's meta (:func:`count_tap`), so the
count survives restarts (``taps_outside_hours`` of kiosk.health.summary).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the days as the kiosk says them (msgids of hailong.po: the UI passes them through its translator)
DAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
DAY = 24 * 60
WEEK = 7 * DAY
RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*")
#: kiosk.db meta key of the taps ignored outside the hours
TAPS_KEY = "taps_outside_hours"


class HoursError(ValueError):
    """A bad ``[hours]`` value: the message says what is wrong (config.py adds the key)."""


def parse_range(text) -> tuple[int, int]:
    """``"07:30-11:30"`` → (450, 690): minutes of the day, start < end ≤ 1440."""
    if not isinstance(text, str):
        raise HoursError(f"{text!r} is not a range like \"07:30-11:30\"")
    m = RANGE.fullmatch(text)
    if not m:
        raise HoursError(f"{text!r} is not a range like \"07:30-11:30\"")
    h1, m1, h2, m2 = map(int, m.groups())
    for h, mi in ((h1, m1), (h2, m2)):
        if mi > 59 or h > 24 or (h == 24 and mi):
            raise HoursError(f"{text!r}: {h:02d}:{mi:02d} is not a time of day (00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise HoursError(f"{text!r} does not end after it starts")
    return start, end


def parse_day(value) -> list[tuple[int, int]]:
    """A day's list of ranges, sorted; overlapping ranges are refused (a typo, most likely)."""
    if not isinstance(value, list):
        raise HoursError("must be a list of ranges like [\"07:30-11:30\", \"13:30-17:00\"]")
    ranges = sorted(parse_range(v) for v in value)
    for (s1, e1), (s2, e2) in zip(ranges, ranges[1:]):
        if s2 < e1:
            raise HoursError(f"ranges overlap: {_hm(s1)}-{_hm(e1)} and {_hm(s2)}-{_hm(e2)}")
    return ranges


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class OpeningHours:
    """Each weekday's ranges (Monday = 0), in minutes of the local day."""

    days: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def from_table(cls, table: dict) -> OpeningHours:
        """From ``[hours]`` (checked: HoursError naming the day)."""
        unknown = [k for k in table if k not in DAYS]
        if unknown:
            raise HoursError(f"{unknown[0]}: unknown day (known: {', '.join(DAYS)})")
        days = []
        for name in DAYS:
            try:
                days.append(tuple(parse_day(table.get(name, []))))
            except HoursError as exc:
                raise HoursError(f"{name}: {exc}") from None
        return cls(tuple(days))

    # -- the week as one line of minutes ---------------------------------------------

    def _intervals(self) -> list[tuple[int, int]]:
        """Open intervals in minutes of the week (Monday 00:00 = 0), merged; one may run past WEEK (wraps)."""
        spans = sorted((d * DAY + s, d * DAY + e) for d, ranges in enumerate(self.days) for s, e in ranges)
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        if len(merged) > 1 and merged[0][0] == 0 and merged[-1][1] == WEEK:   # Sunday night into Monday
            first = merged.pop(0)
            merged[-1][1] = WEEK + first[1]
        return [(s, e) for s, e in merged]

    @property
    def always_open(self) -> bool:
        iv = self._intervals()
        return len(iv) == 1 and iv[0][1] - iv[0][0] >= WEEK

    @property
    def never_open(self) -> bool:
        return not any(self.days)

    @staticmethod
    def _week_minute(now: datetime) -> float:
        return now.weekday() * DAY + now.hour * 60 + now.minute + (now.second + now.microsecond / 1e6) / 60

    def is_open(self, now: datetime) -> bool:
        """Open at ``now`` (a datetime at the kiosk's offset: cfg.now())."""
        w = self._week_minute(now)
        return any(s <= w < e or s <= w + WEEK < e for s, e in self._intervals())

    def next_change(self, now: datetime) -> datetime | None:
        """The next instant the kiosk opens or closes after ``now`` (same tzinfo), None when it never changes."""
        if self.never_open or self.always_open:
            return None
        base = now.replace(microsecond=0)       # boundaries fall on whole minutes: whole seconds from here
        w = now.weekday() * DAY * 60 + now.hour * 3600 + now.minute * 60 + now.second
        ahead = []
        for s, e in self._intervals():
            for b in (s, e):
                delta = (b % WEEK * 60 - w) % (WEEK * 60)
                ahead.append(delta if delta > 0 else WEEK * 60)
        return base + timedelta(seconds=min(ahead))

    # -- in words -------------------------------------------------------------------

    def describe(self, t=lambda s: s, sep: str = "; ") -> str:
        """``"Thứ Hai – Thứ Sáu 07:30–11:30, 13:30–17:00; Thứ Bảy 07:30–11:30"``; ``t`` translates day names."""
        parts = []
        i = 0
        while i < 7:
            j = i
            while j + 1 < 7 and self.days[j + 1] == self.days[i]:
                j += 1
            if self.days[i]:
                names = t(DAY_NAMES[i]) if i == j else f"{t(DAY_NAMES[i])} – {t(DAY_NAMES[j])}"
                parts.append(f"{names} " + ", ".join(f"{_hm(s)}–{_hm(e)}" for s, e in self.days[i]))
            i = j + 1
        return sep.join(parts)


def parse(table: dict | None) -> OpeningHours | None:
    """``[hours]`` → OpeningHours, or None (always open) when no day is given."""
    if not table:
        return None
    return OpeningHours.from_table(table)


# -- taps ignored outside the hours, kept in kiosk.db ----------------------------------------------

def taps_outside(store) -> int:
    """How many taps were ignored outside the hours (ever, on this kiosk.db)."""
    try:
        return max(0, int(store.get_meta(TAPS_KEY) or 0))
    except (TypeError, ValueError):
        return 0


def count_tap(store) -> int:
    """One more ignored tap, written to kiosk.db at once (UI thread only: the one writer of this key)."""
    n = taps_outside(store) + 1
    store.set_meta(TAPS_KEY, str(n))
    return n
