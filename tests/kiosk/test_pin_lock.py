"""Wrong PINs lock the pad for a while (kiosk.staff.PinLock), with a fake clock and a real kiosk.db."""
import pytest
from helpers import FakeClock
from ptys import write_kiosk

from kiosk.staff import PinLock, StaffPanel
from kiosk.store import KioskStore


@pytest.fixture
def store(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "K-1", "ab" * 32)
    s.init()
    yield s
    s.close()


def wrongs(lock, n):
    return [lock.wrong() for _ in range(n)]


def test_five_wrong_lock_for_a_minute_then_doubling_up_to_fifteen(store):
    clock = FakeClock(1_780_000_000.0)
    lock = PinLock(store, clock)
    assert wrongs(lock, 4) == [0, 0, 0, 0] and not lock.locked()
    assert lock.wrong() == 60
    assert lock.remaining() == 60 and lock.locked()
    clock.advance(59.5)
    assert lock.remaining() == 1
    clock.advance(0.5)
    assert lock.remaining() == 0
    seen = []
    for _run in range(6):
        seen.append(wrongs(lock, 5)[-1])
        assert lock.remaining() == seen[-1]
        clock.advance(seen[-1])
    assert seen == [120, 240, 480, 900, 900, 900]


def test_a_right_pin_resets_it_all(store):
    clock = FakeClock(1_780_000_000.0)
    lock = PinLock(store, clock)
    wrongs(lock, 5)
    clock.advance(60)
    wrongs(lock, 4)
    lock.right()
    assert wrongs(lock, 4) == [0] * 4            # the count started again
    assert lock.wrong() == 60                    # and so did the doubling


def test_the_lock_survives_a_restart(tmp_path, store):
    clock = FakeClock(1_780_000_000.0)
    wrongs(PinLock(store, clock), 5)
    store.close()
    again = KioskStore(tmp_path / "kiosk.db", "K-1", "ab" * 32)
    clock.advance(20)
    assert PinLock(again, clock).remaining() == 40
    assert again.get_meta("pin_lock") is not None
    again.close()


def test_a_clock_set_back_never_lengthens_the_wait(store):
    clock = FakeClock(1_780_000_000.0)
    lock = PinLock(store, clock)
    wrongs(lock, 5)
    clock.advance(-86400)
    assert lock.remaining() == 60


def test_sign_in_refuses_while_locked_without_checking_and_counts_each_wrong(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    clock = FakeClock(1_780_000_000.0)
    staff = StaffPanel(cfg, store, clock=clock)
    for _ in range(5):
        assert staff.sign_in("000000") is None
    assert staff.pin_lock.remaining() == 60
    assert staff.sign_in("111111") is None       # cb-001's right PIN, refused while locked
    assert store.event_counts() == {"staff_pin_wrong": 5}  # a refused try is not checked nor counted
    clock.advance(60)
    assert staff.sign_in("111111")["id"] == "cb-001"
    assert store.get_meta("pin_lock") is None
