"""Reporting periods → half-open [start, end) ranges in Vietnam's time zone.

Reports run on the calendar of the administration: a month, a quarter
(Quý I–IV), six months (6 tháng đầu năm / cuối năm), a year, or a custom
span of days (both ends included, as an admin types them). Vietnam has no
daylight saving, but the zone is still taken from tzdata, not hard-coded.

A period is written in URLs and on the command line as ``2026``, ``2026-11``,
``2026-Q4``, ``2026-H2`` or ``2026-11-01..2026-11-28``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sync.server.core.clock import VN_TZ

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.I)
_HALF = re.compile(r"^(\d{4})-H([12])$", re.I)
_CUSTOM = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class PeriodError(ValueError):
    """A period the admin typed that means nothing; the message says why."""


#: The years a period may cover: hailong's ratings start in the 2020s, and a date
#: past 9999 cannot even be written (``9999-12-31..`` would end in year 10000).
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _year_ok(y: int) -> int:
    if not FIRST_YEAR <= y <= LAST_YEAR:
        raise PeriodError(f"năm phải từ {FIRST_YEAR} đến {LAST_YEAR}, không phải {y}")
    return y


@dataclass(frozen=True)
class Period:
    kind: str          # "month" | "quarter" | "half" | "year" | "custom"
    first_day: date    # first day included
    end_day: date      # first day NOT included
    key: str           # the period as written in URLs: "2026-Q4"

    @property
    def start(self) -> datetime:
        """Midnight at the start of first_day, Asia/Ho_Chi_Minh."""
        return datetime.combine(self.first_day, datetime.min.time(), VN_TZ)

    @property
    def end(self) -> datetime:
        """Midnight at the start of end_day, Asia/Ho_Chi_Minh (excluded)."""
        return datetime.combine(self.end_day, datetime.min.time(), VN_TZ)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end_day - self.first_day).days

    def label(self, tr=lambda s: s) -> str:
        """Vietnamese label as used in report titles: "Quý IV năm 2026"."""
        y = self.first_day.year
        if self.kind == "year":
            return tr("Năm {y}").format(y=y)
        if self.kind == "quarter":
            q = (self.first_day.month - 1) // 3 + 1
            return tr("Quý {q} năm {y}").format(q=ROMAN[q], y=y)
        if self.kind == "half":
            if self.first_day.month == 1:
                return tr("6 tháng đầu năm {y}").format(y=y)
            return tr("6 tháng cuối năm {y}").format(y=y)
        if self.kind == "month":
            return tr("Tháng {m:02d}/{y}").format(m=self.first_day.month, y=y)
        return tr("Từ ngày {a} đến ngày {b}").format(
            a=self.first_day.strftime("%d/%m/%Y"), b=self.last_day.strftime("%d/%m/%Y"))


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + (d.month - 1) + months
    return date(total // 12, total % 12 + 1, 1)


def month(year: int, m: int) -> Period:
    _year_ok(year)
    if not 1 <= m <= 12:
        raise PeriodError(f"tháng phải từ 1 đến 12, không phải {m}")
    first = date(year, m, 1)
    return Period("month", first, _add_months(first, 1), f"{year}-{m:02d}")


def quarter(year: int, q: int) -> Period:
    _year_ok(year)
    if not 1 <= q <= 4:
        raise PeriodError(f"quý phải từ 1 đến 4, không phải {q}")
    first = date(year, 3 * (q - 1) + 1, 1)
    return Period("quarter", first, _add_months(first, 3), f"{year}-Q{q}")


def half(year: int, h: int) -> Period:
    _year_ok(year)
    if h not in (1, 2):
        raise PeriodError(f"nửa năm phải là 1 hoặc 2, không phải {h}")
    first = date(year, 1 if h == 1 else 7, 1)
    return Period("half", first, _add_months(first, 6), f"{year}-H{h}")


def year(y: int) -> Period:
    _year_ok(y)
    return Period("year", date(y, 1, 1), date(y + 1, 1, 1), f"{y}")


def custom(first_day: date, last_day: date) -> Period:
    """Both days included, as an admin means "from 01/11 to 28/11"."""
    _year_ok(first_day.year)
    _year_ok(last_day.year)
    if last_day < first_day:
        raise PeriodError(
            f"ngày kết thúc {last_day:%d/%m/%Y} trước ngày bắt đầu {first_day:%d/%m/%Y}")
    return Period("custom", first_day, last_day + timedelta(days=1),
                  f"{first_day.isoformat()}..{last_day.isoformat()}")


def parse(text: str) -> Period:
    """``2026`` | ``2026-11`` | ``2026-Q4`` | ``2026-H2`` | ``2026-11-01..2026-11-28``."""
    text = (text or "").strip()
    if len(text) > 40:
        raise PeriodError("kỳ báo cáo không hợp lệ: quá dài; dùng 2026, 2026-11, 2026-Q4, 2026-H2 "
                          "hoặc 2026-11-01..2026-11-28")
    try:
        if m := _YEAR.match(text):
            return year(int(m[1]))
        if m := _MONTH.match(text):
            return month(int(m[1]), int(m[2]))
        if m := _QUARTER.match(text):
            return quarter(int(m[1]), int(m[2]))
        if m := _HALF.match(text):
            return half(int(m[1]), int(m[2]))
        if m := _CUSTOM.match(text):
            return custom(date.fromisoformat(m[1]), date.fromisoformat(m[2]))
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"kỳ báo cáo không hợp lệ: {text!r} ({exc})") from None
    raise PeriodError(
        f"kỳ báo cáo không hợp lệ: {text!r}; dùng 2026, 2026-11, 2026-Q4, 2026-H2 "
        "hoặc 2026-11-01..2026-11-28")


def containing(kind: str, day: date) -> Period:
    """The month/quarter/half/year that holds ``day`` (the dashboard's default)."""
    if kind == "month":
        return month(day.year, day.month)
    if kind == "quarter":
        return quarter(day.year, (day.month - 1) // 3 + 1)
    if kind == "half":
        return half(day.year, 1 if day.month <= 6 else 2)
    if kind == "year":
        return year(day.year)
    raise PeriodError(f"loại kỳ không hợp lệ: {kind!r}")


def today_vn() -> date:
    return datetime.now(VN_TZ).date()


def data_until(period: Period, today: date) -> date | None:
    """``today`` when ``period`` is still running on that day (its figures stop there: "Số liệu
    đến ngày …"), else None (a period that has ended holds all its days; one not begun, none)."""
    return today if period.first_day <= today < period.end_day else None


def trend_step(period: Period) -> str:
    """The trend's step for a period, the same on the pages, the JSON report and the Word report:
    a point a day up to 62 days (two months), a week up to 190 days (six months), else a month."""
    return "day" if period.days <= 62 else ("week" if period.days <= 190 else "month")
