"""Issue 12 at the kiosk, without a window: which survey a visit asks, its extra questions, on time or late.

A real kiosk.db (KioskStore), a fake clock; the surveys are put in the store
as the sync agent puts them (meta ``server_surveys`` / ``server_default_survey``).
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from helpers import FakeClock

from kiosk import visit as V
from kiosk.roster import load_roster_file
from kiosk.store import KioskStore
from kiosk.visit import Settings, Visit
from sync import protocol

KEY = "cd" * 32


@pytest.fixture
def store(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "K-1", KEY)
    s.init()
    s.apply_roster(load_roster_file())
    yield s
    s.close()


@pytest.fixture
def clock():
    return FakeClock()


def make(store, clock, today=None, **kw):
    settings = Settings(unit_code="13321", desk_id="quay-1", idle_timeout=45, thanks_timeout=5,
                        rapid_repeat_seconds=0, **kw)
    return Visit(store, settings, clock=clock, **({"today": today} if today else {}))


def local_today(store) -> date:
    return protocol.now_at_offset(store.utc_offset).date()


# -- on time or late, from the receipt's appointment date -------------------------


@pytest.mark.parametrize("days, flag", [(0, "on_time"), (3, "on_time"), (-1, "late"), (None, None)])
def test_receipt_appointment_gives_on_time_or_late(store, clock, days, flag):
    today = local_today(store)
    appointment = None if days is None else (today + timedelta(days=days)).isoformat()
    v = make(store, clock)
    assert v.start_from_receipt("cb-002", "H-1", "1.001193", "a1b2c3d4e5f60718", appointment=appointment) == V.RATE
    v.rate(3)
    v.submit_reasons()
    v.submit_comment()
    [row] = store.records()
    assert [f for f in row["flags"] if f in ("on_time", "late")] == ([flag] if flag else [])
    protocol.check_record({k: row[k] for k in protocol.RECORD_FIELDS}, store.surveys())
    assert protocol.check_seal({k: row[k] for k in protocol.RECORD_FIELDS}, KEY) is None


def test_appointment_flag_is_in_the_draft_from_the_tap(store, clock):
    v = make(store, clock)
    v.start_from_receipt("cb-002", "H-1", None, "a1b2c3d4e5f60719", appointment="2020-01-01")
    v.rate(2)
    assert store.draft()["flags"] == ["late"]          # a walk-away after the tap keeps it
    clock.advance(60)
    v.tick()
    [row] = store.records()
    assert row["flags"] == ["late"]


def test_walk_up_visit_after_a_receipt_has_no_flag(store, clock):
    v = make(store, clock)
    v.start_from_receipt("cb-002", "H-1", None, "a1b2c3d4e5f60720", appointment="2099-01-01")
    v.rate(3)
    v.submit_reasons()
    v.submit_comment()
    clock.advance(10)
    v.tick()
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(1)
    v.submit_reasons()
    v.submit_comment()
    first, second = store.records()
    assert first["flags"] == ["on_time"] and second["flags"] == []
