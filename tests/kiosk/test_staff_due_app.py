"""The staff panel's appointment date (ngày hẹn trả kết quả) in the real kiosk app under Xvfb, by touches.

Scenario ``staff_due`` (tests/kiosk_driver_due.py): the officer types a
dossier, opens "Ngày hẹn", moves the date with the big buttons, prints; the
page the pty printer received is read back (its QR decoded, its text
checked). Screenshots: test-artifacts/kiosk/staff_due_*.png.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from helpers import ROOT, TESTS
from PIL import Image
from ptys import RECEIPT_KEY

from kiosk.store import KioskStore

DRIVER = TESTS / "kiosk_driver_due.py"
KEY = "ab" * 32
UI = {"fullscreen": "true", "idle_timeout": 3, "thanks_timeout": 1, "rapid_repeat_seconds": 0,
      "touch_debounce_ms": 120, "staff_pin": '"2468"', "long_press_seconds": 1, "staff_idle_timeout": 60}
#: 20 mm on the 10.1" 1280×800 reference panel (tests/kiosk/test_touch_targets.py)
MIN_PX = 20.0 * math.hypot(1280, 800) / 10.1 / 25.4


def run_due(xvfb, tmp_path, out, scenario: str, ui: dict | None = None):
    """Run a scenario of kiosk_driver_due.py with pty scanner and printer; returns (result, rows, store)."""
    ui = "\n".join(f"{k} = {v}" for k, v in {**UI, **(ui or {})}.items())
    config = tmp_path / "config.toml"
    config.write_text(
        '[kiosk]\nid = "TEST-KIOSK"\nunit_code = "13321"\ndesk_id = "quay-1"\ndb = "kiosk.db"\n'
        f'key = "{KEY}"\n[receipt]\nkey = "{RECEIPT_KEY}"\n[ui]\n{ui}\n[survey]\ncomment = false\n', "utf-8")
    proc = subprocess.run([sys.executable, str(DRIVER), str(config), scenario, str(out), "--demo"],
                          env=xvfb, cwd=ROOT, capture_output=True, text=True, timeout=150, check=False)
    result_file = out / f"{scenario}.json"
    assert result_file.exists(), f"driver wrote no result (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text("utf-8"))
    assert result.get("ok"), result.get("error") or proc.stderr[-3000:]
    store = KioskStore(tmp_path / "kiosk.db", key_hex=KEY)
    return result, store.records(), store


@pytest.fixture(scope="module")
def due_run(xvfb, artifacts, tmp_path_factory):
    out = artifacts("kiosk")
    result, _rows, _store = run_due(xvfb, tmp_path_factory.mktemp("staff_due"), out, "staff_due")
    return result["notes"], out


def test_the_date_is_chosen_with_big_buttons_and_starts_empty(due_run):
    notes, _out = due_run
    assert notes["due_button_before"] == "Ngày hẹn: chưa có"
    assert "Chưa có ngày hẹn" in notes["chooser_empty_texts"]
    # "– 1 ngày" from no date: yesterday, and what a past date is good for
    expected = notes["expected"]
    assert notes["after_minus"][0] == expected["minus1"]
    assert notes["after_minus"][1] == ""
    assert notes["after_minus"][2].startswith("Ngày hẹn đã qua: kết quả trả trễ hẹn.")
    assert notes["after_quick3"] == expected["plus3"]
    assert notes["after_plus"] == expected["plus4"]
    assert notes["after_plus_minus"] == expected["plus3"]
    day = "/".join(reversed(expected["plus3"].split("-")))
    assert day in notes["chooser_texts"] and "3 ngày sau hôm nay" in notes["chooser_texts"]
    assert notes["appointment_on_panel"] == expected["plus3"]
    assert notes["due_button_chosen"] == f"Ngày hẹn: {day}"
    assert notes["appointment_after_cancel"] == expected["plus3"]        # "Huỷ" changes nothing


def test_every_button_of_the_chooser_is_at_least_20_mm(due_run):
    notes, _out = due_run
    for key in ("targets", "targets_en"):
        targets = notes[key]
        assert len(targets) >= 12, targets          # −, +, seven quick days, no date, cancel, done
        small = [t for t in targets if t[1] < MIN_PX or t[2] < MIN_PX]
        assert not small, f"{key}: under 20 mm ({MIN_PX:.1f} px): {small}"


def test_english_panel_and_chooser(due_run):
    notes, out = due_run
    expected = notes["expected"]["plus3"]
    day = "/".join(reversed(expected.split("-")))
    assert notes["due_button_en"] == f"Appointment date: {day}"
    texts = notes["chooser_texts_en"]
    assert "Appointment date for dossier HS-DUE-1" in texts
    assert "3 days from today" in texts and "Today" in texts and "+3 days" in texts and "+1 day" in texts
    assert not any("ngày" in t for t in texts), texts
    for name in ("staff_due_chooser_en", "staff_due_panel_en", "staff_due_chooser", "staff_due_panel"):
        assert (out / f"{name}.png").stat().st_size > 10_000


def test_the_receipt_printed_carries_the_date_then_none(due_run):
    notes, out = due_run
    expected = notes["expected"]
    fields = notes["printed_fields"]
    assert (fields["o"], fields["h"], fields["a"]) == ("cb-002", "HS-DUE-1", expected["plus3"])
    day = "/".join(reversed(expected["plus3"].split("-")))
    assert notes["outcome_after_print"][0] is True
    assert f"Ngày hẹn trả kết quả: {day}" in notes["outcome_after_print"][1]
    # printed: the panel forgets the date (the next dossier has its own)
    assert notes["appointment_after_print"] == "None"
    assert notes["due_button_after_print"] == "Ngày hẹn: chưa có"
    # the paper as the printer got it: the date under the dossier, in its box
    page = Image.open(out / "staff_due_printed_0.png")
    assert page.width == 384
    assert notes["after_quick7"] == expected["plus7"]
    assert notes["appointment_after_no_date"] == "None"
    assert "a" not in notes["printed_fields_no_date"]
    assert notes["printed_fields_today"]["a"] == notes["today"]


def test_a_past_date_is_refused_on_paper_and_rates_late_on_screen(due_run):
    notes, _out = due_run
    expected = notes["expected"]
    day = "/".join(reversed(expected["minus2"].split("-")))
    assert notes["past_day"] == expected["minus2"]
    assert "2 ngày trước hôm nay" in notes["past_texts"]
    assert any(t.startswith("Ngày hẹn đã qua") for t in notes["past_texts"])
    ok, vi, en = notes["past_print_outcome"]
    assert not ok and f"Ngày hẹn trả kết quả {day} đã qua" in vi and "has passed" in en
    assert notes["jobs_after_past"] == 3                       # nothing printed for it
    (row,) = notes["rated_on_screen"]
    assert (row["officer_id"], row["dossier_code"], row["source"], row["receipt_id"], row["level"]) == (
        "cb-002", "HS-DUE-1", "walk_up", None, 2)
    flags = json.loads(row["flags"]) if isinstance(row["flags"], str) else row["flags"]
    assert "late" in flags and "on_time" not in flags
