"""Working days on the Vietnamese calendar: the clock case due dates are counted in.

A working day is Monday to Friday that is not a public holiday. The public
holidays come from the ``holidays`` library (``holidays.Vietnam``: Tết
Dương lịch, the lunar Tết Nguyên Đán, Giỗ Tổ Hùng Vương, 30/4, 1/5, Quốc
khánh, and the days off the Government swaps in for them). What the
library cannot know — a province's own day off, or a Saturday worked in
exchange for a bridge day — comes from the ``workdays`` setting::

    {"days_off": ["2026-08-31"], "working_days": ["2026-08-22"]}

``days_off`` are taken off (even on a weekday); ``working_days`` are worked
(even on a Saturday or a holiday). Dates are local (Asia/Ho_Chi_Minh) ISO
dates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import holidays
from sqlalchemy.engine import Connection

from sync.server.core.settings import get_setting

SETTING = "workdays"


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.Vietnam(years=year, language="vi").keys())


def prepare(today: date | None = None) -> None:
    """Compute this year's and next year's holidays ahead (the lunar calendar takes a quarter of a
    second per year): the background task calls it at start, so the first case a batch opens does
    not hold the writer lock for it."""
    year = (today or date.today()).year
    for y in (year, year + 1):
        _public_holidays(y)


def holiday_name(day: date) -> str | None:
    """The Vietnamese name of the public holiday on ``day``, if it is one."""
    return holidays.Vietnam(years=day.year, language="vi").get(day)


def _dates(values) -> frozenset[date]:
    out = set()
    for value in values or ():
        try:
            out.add(date.fromisoformat(str(value)))
        except ValueError:
            continue   # a mistyped day in the settings is ignored, not fatal
    return frozenset(out)


@dataclass(frozen=True)
class Calendar:
    """Which days are worked: weekdays that are not holidays, with the settings' exceptions."""
    days_off: frozenset[date] = field(default_factory=frozenset)
    working_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, value: dict | None) -> Calendar:
        value = value if isinstance(value, dict) else {}
        return cls(_dates(value.get("days_off")), _dates(value.get("working_days")))

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.days_off or day.weekday() >= 5:
            return False
        return day not in _public_holidays(day.year)


def calendar(conn_or_settings: Connection | dict | Calendar | None = None) -> Calendar:
    """The calendar of a town.db (its ``workdays`` setting), of a settings dict, or the plain one."""
    if isinstance(conn_or_settings, Calendar):
        return conn_or_settings
    if conn_or_settings is None or isinstance(conn_or_settings, dict):
        return Calendar.from_settings(conn_or_settings)
    return Calendar.from_settings(get_setting(conn_or_settings, SETTING, {}))


def is_working_day(day: date, conn_or_settings=None) -> bool:
    return calendar(conn_or_settings).is_working_day(day)


def add_working_days(start: date, n: int, conn_or_settings=None) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted; n=0: start).

    A case opened on Friday 13/02/2026 with 3 working days is due on
    Wednesday 25/02/2026: the weekend and the five days of Tết are skipped.
    """
    cal = calendar(conn_or_settings)
    day = start
    left = max(0, int(n))
    while left:
        day += timedelta(days=1)
        if cal.is_working_day(day):
            left -= 1
    return day


def working_days_between(start: date, end: date, conn_or_settings=None) -> int:
    """How many working days lie after ``start`` up to and including ``end`` (negative if end < start)."""
    cal = calendar(conn_or_settings)
    if end < start:
        return -working_days_between(end, start, cal)
    n, day = 0, start
    while day < end:
        day += timedelta(days=1)
        n += cal.is_working_day(day)
    return n
