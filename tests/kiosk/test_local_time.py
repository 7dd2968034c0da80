"""One local time on the kiosk: [kiosk] utc_offset (+07:00), whatever the machine's TZ (issue 10).

Each test stands at 2026-12-08 18:30 UTC, which is already 09/12 01:30 in
Hà Nội, with the process's TZ set to UTC and then to America/New_York
(13:30 on 08/12 there): what the user reads on the paper and the screen
is the +07:00 date and time in both.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest
from ptys import write_kiosk

from kiosk import config, letters, receipts
from kiosk.staff import StaffPanel

#: 18:30 UTC on 08/12/2026 = 01:30 on 09/12/2026 at +07:00
INSTANT = datetime(2026, 12, 8, 18, 30, tzinfo=timezone.utc).timestamp()


@pytest.fixture(params=["UTC", "America/New_York"])
def machine_tz(request, monkeypatch):
    """The machine's time zone set to ``param`` (time.tzset), the wall clock held at INSTANT."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    monkeypatch.setattr(config, "wall_clock", lambda: INSTANT)
    yield request.param
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def kiosk(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    yield cfg, store
    store.close()


def test_the_machine_zone_really_differs(machine_tz):
    """The fixture bites: the machine's own clock would print another date or hour."""
    machine = datetime.fromtimestamp(INSTANT).strftime("%H:%M %d/%m/%Y")
    assert machine in ("18:30 08/12/2026", "13:30 08/12/2026")
    assert config.local_now().strftime("%H:%M %d/%m/%Y") == "01:30 09/12/2026"


def test_receipt_paper_shows_the_kiosk_time_and_its_validity(machine_tz, kiosk):
    cfg, store = kiosk
    issued = receipts.issue(cfg, store, "cb-001", "HS-TZ-1", "1.001193")
    text = " ".join(receipts.receipt_image(cfg, store, issued).info["text"].split())   # lines as one text
    assert "Thời gian: 01:30 - 09/12/2026" in text
    # valid 30 days from the issue, at +07:00 too, and it is the verifier's last second
    assert "Phiếu có giá trị đến 01:30 ngày 08/01/2027" in text
    assert "Valid until 01:30 on 08/01/2027" in text
    last = receipts.valid_until(issued.fields["t"], cfg.receipt["validity_days"])
    assert datetime.fromtimestamp(last, cfg.tz).strftime("%H:%M ngày %d/%m/%Y") == "01:30 ngày 08/01/2027"
    assert issued.valid_until.timestamp() == last
    verifier = receipts.ReceiptVerifier.from_config(cfg, store, clock=lambda: last)
    assert verifier.check(issued.token).ok
    verifier = receipts.ReceiptVerifier.from_config(cfg, store, clock=lambda: last + 1)
    assert verifier.check(issued.token).kind == "expired"


def test_letters_are_dated_at_the_kiosk(machine_tz, kiosk):
    cfg, store = kiosk
    for kind in letters.KINDS:
        new_date = config.local_now().date() if kind == letters.APOLOGY else None
        text = " ".join(letters.letter_image(cfg, store, kind, "cb-001", "HS-TZ-2", None,
                                             new_date).info["text"].split())
        assert "Ngày 09 tháng 12 năm 2026" in text, (kind, text)
        if kind == letters.APOLOGY:
            assert "09/12/2026" in text.replace("Ngày 09 tháng 12 năm 2026", "")


def test_apology_date_of_today_is_today_at_the_kiosk(machine_tz):
    """At 01:30 on 09/12 in Hà Nội, 09/12 is not a past date (the machine's 08/12 would say so)."""
    from kiosk.ui.screens.letter_chooser import new_date_from
    day, why = new_date_from("09122026", config.local_now().date())
    assert day is not None and why == ""


def test_staff_panel_last_sync_at_the_kiosk(machine_tz, kiosk):
    cfg, store = kiosk
    store.set_meta("last_sync_at", "2026-12-08T18:25:00+00:00")     # a sync stamped in UTC
    assert StaffPanel(cfg, store).status()["last_sync"] == "01:25 09/12/2026"


def test_header_clock(machine_tz, kiosk):
    """KioskApp._tick's text, without a window: the kiosk's hour, not the machine's."""
    cfg, _store = kiosk
    assert cfg.now().strftime("%H:%M") == "01:30"
    source = (config.Path(__file__).resolve().parents[2] / "kiosk" / "ui" / "app.py").read_text("utf-8")
    tick = source[source.index("def _tick"):]
    tick = tick[:tick.index("\n    def ")]
    assert "time.strftime" not in source and "self.cfg.now()" in tick and 'strftime("%H:%M")' in tick


def test_config_offset_is_used(machine_tz, tmp_path):
    cfg, store = write_kiosk(tmp_path, kiosk={"utc_offset": "+05:30"})
    try:
        assert cfg.now().strftime("%H:%M %d/%m") == "00:00 09/12"
        issued = receipts.issue(cfg, store, "cb-001", "HS-TZ-3")
        assert "00:00 - 09/12/2026" in receipts.receipt_image(cfg, store, issued).info["text"]
    finally:
        store.close()
