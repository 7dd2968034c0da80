"""QR receipts at the real kiosk app (Xvfb): scanned on a pty scanner or typed by a wedge scanner.

The driver (tests/kiosk_driver.py) points [scanner] and [printer] at real
pty pairs and writes tokens into the scanner's side, as a serial scanner
would. What a user would check is asserted on kiosk.db (rows, security
events), the texts on screen, and the screenshots in test-artifacts/kiosk/.
"""
from __future__ import annotations

import pytest
from kiosk_runs import run_devices

from kiosk.receipts import MESSAGES


@pytest.fixture(scope="module")
def receipts_run(xvfb, artifacts, tmp_path_factory):
    out = artifacts("kiosk")
    return (*run_devices(xvfb, tmp_path_factory.mktemp("receipts"), out, "receipts_flow"), out)


def test_scanned_receipt_rates_its_officer_once(receipts_run):
    result, rows, store, out = receipts_run
    notes = result["notes"]
    assert notes["rate_officer"] == "Trần Văn Đức"                  # cb-002, from the receipt
    assert notes["rate_photo"].endswith("cb-002.png")
    assert notes["scan_to_rate_s"] < 2
    first = rows[0]
    assert (first["officer_id"], first["level"], first["source"]) == ("cb-002", 3, "receipt")
    assert (first["dossier_code"], first["procedure_code"]) == ("000.00.21.H31-261128-0042", "1.001193")
    assert first["receipt_id"] == notes["receipt_id"]
    # the second scan of the same receipt: the kind message, no new row, not a security event
    assert MESSAGES["already_rated"][0] == "Hồ sơ này đã được đánh giá. Xin cảm ơn Ông/Bà!"
    assert MESSAGES["already_rated"][0] in result["texts"]["receipt_already_rated"]
    assert [r["receipt_id"] for r in rows].count(notes["receipt_id"]) == 1
    assert "already_rated" not in store.event_counts()
    assert notes["nudges_after_rating"] == 1                         # the sync agent hears of it
    assert store.verify() == (None, None)
    assert (out / "receipt_rate.png").stat().st_size > 10_000


def test_every_bad_receipt_is_refused_with_its_message_and_counted(receipts_run):
    result, rows, store, out = receipts_run
    refused = result["notes"]["refused"]
    forged = MESSAGES["forged"][0]
    assert refused["wrong_key"] == refused["altered"] == forged
    assert refused["vector_wrong_key"] == refused["vector_altered_officer"] == forged
    assert refused["expired"] == MESSAGES["expired"][0].format(days=30)
    assert refused["other_unit"] == MESSAGES["other_unit"][0]
    assert refused["unknown_officer"] == MESSAGES["unknown_officer"][0]
    assert refused["not_a_receipt"] == MESSAGES["malformed"][0]
    # English when the citizen chose it; back to welcome by itself
    assert result["notes"]["refused_en"] == MESSAGES["expired"][1].format(days=30)
    assert result["notes"]["message_seconds"] < 8
    # no row for any of them; every one a security event (the expired one twice)
    assert {r["receipt_id"] for r in rows} <= {result["notes"]["receipt_id"], rows[-1]["receipt_id"]}
    assert store.event_counts() == {"forged": 4, "expired": 2, "other_unit": 1, "unknown_officer": 1,
                                    "malformed": 1}
    for name in refused:
        assert (out / f"receipt_refused_{name}.png").stat().st_size > 10_000, name


def test_a_scan_mid_visit_restarts_it_for_the_receipt(receipts_run):
    result, rows, _store, _out = receipts_run
    assert result["notes"]["second_officer"] == "Lê Thị Ánh Tuyết"   # cb-003, not the walk-up choice
    assert len(rows) == 2
    last = rows[-1]
    assert (last["officer_id"], last["level"], last["source"], last["dossier_code"]) == (
        "cb-003", 1, "receipt", "HS-2026-0002")
    assert result["notes"]["nudges"] == 2
    assert result["notes"]["device_state"] == {"printer": "ok", "scanner": "ok"}


def test_keyboard_wedge_scan(xvfb, tmp_path, artifacts):
    result, rows, store = run_devices(xvfb, tmp_path, artifacts("kiosk"), "wedge")
    assert result["notes"]["rate_officer"] == "Nguyễn Thị Hồng Nhung"   # cb-001
    assert len(rows) == 2
    row = rows[0]
    assert (row["officer_id"], row["level"], row["source"]) == ("cb-001", 2, "receipt")
    assert (row["dossier_code"], row["procedure_code"]) == ("HS-WEDGE-7", "1.000894")
    # typed as real X key events (XTest → X server → SDL → the window), Return at the end
    assert result["notes"]["xtest_officer"] == "Lê Thị Ánh Tuyết"
    assert (rows[1]["officer_id"], rows[1]["level"], rows[1]["dossier_code"]) == ("cb-003", 3, "HS-XTEST-8")
    # slow stray typing is no scan: nothing refused, nothing counted
    assert result["notes"]["screen_after_stray"] in ("thanks", "welcome")
    assert store.event_counts() == {}
