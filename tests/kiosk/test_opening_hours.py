"""Opening hours (kiosk/hours.py) and config.toml's [hours]: parse, is_open, next_change, words, clear refusals."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kiosk.config import ConfigError, check
from kiosk.hours import (
    HoursError,
    OpeningHours,
    count_tap,
    parse,
    parse_range,
    taps_outside,
)
from kiosk.store import KioskStore

VN = timezone(timedelta(hours=7))
OFFICE = {d: ["07:30-11:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["07:30-11:30"]}
BASE = {"kiosk": {"id": "DT-MC-01", "unit_code": "13321", "desk_id": "quay-1"}}


def at(day: int, hm: str, second: int = 0) -> datetime:
    """Monday 7 December 2026 + ``day`` days, at ``hm`` (+07:00)."""
    h, m = map(int, hm.split(":"))
    return datetime(2026, 12, 7 + day, h, m, second, tzinfo=VN)


def test_a_vietnamese_office_week():
    hours = parse(OFFICE)
    assert not hours.is_open(at(0, "07:29", 59)) and hours.is_open(at(0, "07:30"))
    assert hours.is_open(at(0, "11:29", 59)) and not hours.is_open(at(0, "11:30"))     # half-open ranges
    assert not hours.is_open(at(0, "12:00")) and hours.is_open(at(0, "13:30")) and not hours.is_open(at(0, "17:00"))
    assert hours.is_open(at(5, "09:00")) and not hours.is_open(at(5, "14:00"))           # Saturday morning only
    assert not hours.is_open(at(6, "09:00"))                                              # Sunday closed


@pytest.mark.parametrize("now,expected", [
    (at(0, "06:00"), at(0, "07:30")),
    (at(0, "07:29", 59), at(0, "07:30")),
    (at(0, "07:30"), at(0, "11:30")),                    # exactly at a boundary: the next one
    (at(0, "11:45"), at(0, "13:30")),
    (at(4, "17:00"), at(5, "07:30")),                    # Friday evening → Saturday morning
    (at(5, "11:30"), at(7, "07:30")),                    # Saturday noon → next Monday
    (at(6, "23:59", 59), at(7, "07:30")),
])
def test_next_change(now, expected):
    assert parse(OFFICE).next_change(now) == expected


def test_next_change_keeps_the_tz_and_drops_sub_seconds():
    now = at(0, "07:29", 59).replace(microsecond=700_000)
    change = parse(OFFICE).next_change(now)
    assert change == at(0, "07:30") and change.utcoffset() == timedelta(hours=7)


def test_across_midnight_is_one_opening():
    hours = parse({"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]})
    assert hours.is_open(at(0, "23:59")) and hours.is_open(at(1, "00:00")) and not hours.is_open(at(1, "06:00"))
    assert hours.next_change(at(0, "22:30")) == at(1, "06:00")           # midnight is not a change
    sunday_night = parse({"sun": ["20:00-24:00"], "mon": ["00:00-02:00"]})
    assert sunday_night.next_change(at(6, "21:00")) == at(7, "02:00")    # the week wraps


def test_no_hours_is_always_open_and_all_closed_never_changes():
    assert parse(None) is None and parse({}) is None
    closed = parse({"mon": []})
    assert closed.never_open and not closed.is_open(at(0, "09:00")) and closed.next_change(at(0, "09:00")) is None
    always = parse({d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert always.always_open and always.is_open(at(3, "03:00")) and always.next_change(at(3, "03:00")) is None


def test_in_words_groups_days_alike():
    assert parse(OFFICE).describe() == "Thứ Hai – Thứ Sáu 07:30–11:30, 13:30–17:00; Thứ Bảy 07:30–11:30"
    english = {"Thứ Hai": "Monday", "Thứ Sáu": "Friday", "Thứ Bảy": "Saturday"}
    assert parse(OFFICE).describe(english.get, sep="\n") == \
        "Monday – Friday 07:30–11:30, 13:30–17:00\nSaturday 07:30–11:30"


@pytest.mark.parametrize("text,minutes", [("07:30-11:30", (450, 690)), (" 7:30 – 11:30 ", (450, 690)),
                                          ("13:30-24:00", (810, 1440))])
def test_parse_range(text, minutes):
    assert parse_range(text) == minutes


@pytest.mark.parametrize("value,message", [
    ({"mon": "07:30-11:30"}, "[hours] mon: must be a list, got '07:30-11:30'"),
    ({"mon": ["7h30-11h30"]}, "[hours] mon: '7h30-11h30' is not a range like \"07:30-11:30\""),
    ({"tue": ["11:30-07:30"]}, "[hours] tue: '11:30-07:30' does not end after it starts"),
    ({"wed": ["07:30-07:30"]}, "[hours] wed: '07:30-07:30' does not end after it starts"),
    ({"thu": ["25:00-26:00"]}, "[hours] thu: '25:00-26:00': 25:00 is not a time of day"),
    ({"fri": ["07:61-08:00"]}, "[hours] fri: '07:61-08:00': 07:61 is not a time of day"),
    ({"fri": ["24:30-24:45"]}, "[hours] fri: '24:30-24:45': 24:30 is not a time of day"),
    ({"sat": [730]}, "[hours] sat: 730 is not a range like"),
    ({"sat": [["07:30", "11:30"]]}, "[hours] sat: ['07:30', '11:30'] is not a range like"),
    ({"mon": ["07:00-09:00", "08:00-10:00"]}, "[hours] mon: ranges overlap: 07:00-09:00 and 08:00-10:00"),
    ({"monday": ["07:30-11:30"]}, "[hours] monday: unknown key (known: mon, tue, wed, thu, fri, sat, sun)"),
    ("07:30-17:00", "[hours]: must be a table"),
])
def test_hostile_hours_get_one_clear_message(tmp_path, value, message):
    with pytest.raises(ConfigError) as err:
        check({**BASE, "hours": value}, tmp_path / "config.toml")
    assert str(err.value).startswith(message)


def test_config_without_hours_is_always_open_and_with_hours_closes_the_days_not_given(tmp_path):
    assert check(BASE, tmp_path / "config.toml").opening_hours is None
    cfg = check({**BASE, "hours": {"mon": ["07:30-11:30"]}}, tmp_path / "config.toml")
    assert isinstance(cfg.opening_hours, OpeningHours)
    assert cfg.opening_hours.is_open(at(0, "08:00")) and not cfg.opening_hours.is_open(at(1, "08:00"))


def test_from_table_names_the_bad_day():
    with pytest.raises(HoursError, match=r"^sun: must be a list"):
        OpeningHours.from_table({"sun": "closed"})


def test_taps_outside_hours_are_kept_in_kiosk_db(tmp_path):
    store = KioskStore(tmp_path / "kiosk.db")
    store.init()
    assert taps_outside(store) == 0
    assert [count_tap(store) for _ in range(3)] == [1, 2, 3]
    store.close()
    again = KioskStore(tmp_path / "kiosk.db")           # survives a restart
    assert taps_outside(again) == 3
    again.set_meta("taps_outside_hours", "garbage")      # a damaged value reads as 0, never an error
    assert taps_outside(again) == 0 and count_tap(again) == 1


@pytest.mark.parametrize("hours", ['mon = "07:30-11:30"', 'mon = ["07:30-11:30", 7]', 'fri = [{ from = "07:30" }]',
                                   'mon = ["99:99-07:00"]'])
def test_the_command_line_names_the_bad_day_without_a_traceback(tmp_path, hours):
    import subprocess
    import sys

    from helpers import ROOT
    path = tmp_path / "config.toml"
    path.write_text('[kiosk]\nid = "DT-MC-01"\nunit_code = "13321"\ndesk_id = "quay-1"\n[hours]\n' + hours + "\n",
                    "utf-8")
    proc = subprocess.run([sys.executable, "-m", "hailong", "kiosk", "init", "--config", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"config error: [hours] {hours.split()[0]}: " in proc.stderr
    assert "Traceback" not in proc.stderr
