"""The staff panel in the real kiosk app (Xvfb): officer PIN, duty, print on a pty printer, faults.

The FakePrinter (tests/ptys.py) sits on a real pty in the driver's process;
the driver saves every page it printed to test-artifacts/kiosk/, and this
test reads the QR code off those pages (zxingcpp) and verifies it.
"""
from __future__ import annotations

import pytest
import zxingcpp
from kiosk_runs import run_devices
from PIL import Image
from ptys import RECEIPT_KEY

from sync import protocol


@pytest.fixture(scope="module")
def staff_run(xvfb, artifacts, tmp_path_factory):
    out = artifacts("kiosk")
    for old in out.glob("staff_printed_*.png"):
        old.unlink()
    return (*run_devices(xvfb, tmp_path_factory.mktemp("staff"), out, "staff_panel"), out)


def test_officer_pin_opens_the_panel_and_duty_drives_the_citizen_screen(staff_run):
    result, _rows, store, _out = staff_run
    notes = result["notes"]
    assert notes["wrong_pin_events"] == 1 and notes["screen_after_wrong"] == "welcome"
    texts = result["texts"]["staff_panel"]
    assert "Bảng cán bộ  ·  Trần Văn Đức" in texts                       # PIN 2222 is cb-002's
    assert notes["duty_before"] == {"cb-001": 1, "cb-002": 1, "cb-003": 1}
    assert notes["duty_after"] == {"cb-001": 0, "cb-002": 1, "cb-003": 1}
    assert notes["cards"] == ["cb-002", "cb-003"]                       # the citizen sees who is on duty
    assert notes["signed_in_after_close"] is False
    assert notes["panel_idle_s"] < 8 and notes["signed_in_after_idle"] is False
    assert store.event_counts() == {"staff_pin_wrong": 1}


def test_status_shows_counts_only(staff_run):
    result, rows, _store, _out = staff_run
    texts = result["texts"]["staff_panel"]
    assert {"Chờ đồng bộ: 1", "Bị từ chối: 0", "Sự kiện bảo mật: 1", "Máy quét: sẵn sàng",
            "Máy in: sẵn sàng"} <= set(texts)
    assert len(rows) == 1 and rows[0]["level"] == 3
    shown = " ".join(texts)
    for level_word in ("Rất hài lòng", "Hài lòng", "Không hài lòng"):
        assert level_word not in shown                                     # never what was rated


def test_receipt_printed_paper_out_then_reprint(staff_run):
    result, _rows, _store, out = staff_run
    notes = result["notes"]
    assert notes["typed"] == "000.21.H31-0042" and notes["procedure"] == "1.001193"
    assert notes["print_outcome"] == [True, "Đã in phiếu cho hồ sơ 000.21.H31-0042."]
    ok, message = notes["paper_out_outcome"]
    assert not ok and message.startswith("Máy in hết giấy.") and "In lại" in message
    assert any("Máy in hết giấy" in t for t in result["texts"]["staff_panel_paper_out"])
    assert "Máy in: hết giấy, xin thay cuộn mới" in result["texts"]["staff_panel_paper_out"]
    assert notes["device_state_fault"] == {"printer": "paper_out", "scanner": "ok"}
    assert notes["reprint_outcome"][0] is True
    assert notes["jobs"] == 2
    ok, message = notes["absent_outcome"]                                 # cable pulled
    assert not ok and message.startswith("Không tìm thấy máy in ở cổng")
    assert "Máy in: không tìm thấy máy in (kiểm tra dây cáp, nguồn)" in result["texts"]["staff_panel_printer_absent"]
    pages = [Image.open(out / f"staff_printed_{i}.png") for i in range(2)]
    decoded = [protocol.parse_receipt_token(zxingcpp.read_barcodes(p)[0].text, RECEIPT_KEY)[0] for p in pages]
    assert [(f["o"], f["h"], f["p"]) for f in decoded] == [
        ("cb-002", "000.21.H31-0042", "1.001193"), ("cb-002", "HS-2", "1.001193")]
    # a dossier barcode scanned with the panel open fills the field: no receipt check, no event
    assert notes["events_added_by_dossier_scan"] == 0 and notes["screen_after_dossier_scan"] == "staff"
    for name in ("staff_panel", "staff_panel_paper_out", "staff_panel_paper_out_en", "staff_panel_printer_absent"):
        assert (out / f"{name}.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def no_printer_run(xvfb, artifacts, tmp_path_factory):
    from kiosk_runs import run_kiosk
    return run_kiosk(xvfb, tmp_path_factory.mktemp("noprinter"), artifacts("kiosk"), "staff_rate_on_screen",
                     survey={"comment": False})


def test_no_printer_says_what_to_do(no_printer_run):
    """Issue 10: with no printer the panel says what to do (the setting, or whom to ask), in both languages."""
    result, _rows, _store = no_printer_run
    notes = result["notes"]
    assert "nhờ cán bộ CNTT kết nối máy in ([printer] port)" in notes["printer_line"]
    assert "ask the IT person to connect the printer" in notes["printer_line_en"]
    # the whole message, with the setting, as the panel opens
    assert "Nhờ cán bộ CNTT kết nối máy in" in notes["outcome_at_open"]
    assert "[printer] port trong config.toml" in notes["outcome_at_open"]
    ok, message, kept = notes["print_outcome"]
    assert not ok and "Nhờ cán bộ CNTT kết nối máy in" in message and kept == "000.21.H31-0042"


def test_officer_opens_a_dossier_rating_without_paper(no_printer_run):
    """PIN → type the dossier → "Đánh giá trên máy" → the citizen's rate screen for this officer; one tap, one record."""
    result, rows, _store = no_printer_run
    notes = result["notes"]
    assert notes["no_dossier"][:1] == [False] and notes["no_dossier"][2] == "staff"
    ok, message, screen = notes["bad_code"]
    assert not ok and "không hợp lệ" in message and screen == "staff"
    assert "not valid" in notes["bad_code_en"]
    assert notes["rows_before"] == 0
    assert notes["rate_officer"] == "Trần Văn Đức"            # the signed-in officer, no choice
    assert not notes["signed_in_at_rate"]            # the officer is signed out when the citizen rates
    assert notes["records"] == [{"officer_id": "cb-002", "dossier_code": "000.21.H31-0042",
                                 "procedure_code": "1.001193", "receipt_id": None, "source": "walk_up",
                                 "level": 3}]
    assert len(rows) == 1


@pytest.mark.parametrize("machine_tz", ["UTC", "America/New_York"])
def test_one_local_time_in_the_real_app(xvfb, artifacts, tmp_path, machine_tz):
    """The machine in UTC or New York at 18:30 UTC: the header clock, the receipt printed from the panel
    and the last sync read 01:30 on 09/12 (+07:00), never the machine's 18:30 / 13:30 on 08/12."""
    from kiosk_runs import run_kiosk
    result, _rows, _store = run_kiosk(dict(xvfb, TZ=machine_tz), tmp_path, artifacts(f"kiosk/tz_{machine_tz[:3]}"),
                                      "local_clock")
    notes = result["notes"]
    assert notes["machine_time"] in ("18:30 08/12/2026", "13:30 08/12/2026")
    assert notes["clock_text"] == "01:30" and "01:30" in notes["header_texts"]
    text = " ".join(notes["receipt_text"].split())
    assert "Thời gian: 01:30 - 09/12/2026" in text
    assert "Phiếu có giá trị đến 01:30 ngày 08/01/2027" in text
    assert notes["last_sync_line"].endswith("01:25 09/12/2026")
