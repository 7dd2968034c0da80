"""Receipts that carry the dossier's appointment date (DESIGN.md "QR receipt", ``a``): issued, printed, valid.

`hailong receipt print|preview --due`, the paper's "Ngày hẹn trả kết quả",
the verifier's longer validity (``a`` + validity_days) and the result of a
scan carrying the date. The round trip through the real kiosk is
tests/kiosk/test_receipt_due_app.py; the staff panel's chooser
tests/kiosk/test_staff_due_app.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
import zxingcpp
from click.testing import CliRunner
from helpers import ARTIFACTS, ROOT, wait_until
from PIL import Image
from ptys import RECEIPT_KEY, FakePrinter, PtyPort, write_kiosk

from hailong.cli import main
from kiosk import config as kiosk_config
from kiosk import receipts, render
from kiosk.receipts import AppointmentError, ReceiptVerifier
from kiosk.staff import StaffPanel, step_appointment
from sync import protocol

ICT = timezone(timedelta(hours=7))
#: 10:00 on Wednesday 02/12/2026 at the kiosk (+07:00)
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=ICT)
OFFICER = ["--officer", "cb-001", "--dossier", "000.00.21.H31-261202-0007", "--procedure", "1.001193"]


@pytest.fixture
def kiosk(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    yield cfg, store
    store.close()


@pytest.fixture
def at_now(monkeypatch):
    """The kiosk's wall clock stands at NOW (kiosk.config.wall_clock: what cfg.now() reads)."""
    monkeypatch.setattr(kiosk_config, "wall_clock", lambda: NOW.timestamp())
    return NOW


def run(*args):
    return CliRunner().invoke(main, ["receipt", *args], catch_exceptions=False)


def config_file(tmp_path, **sections) -> str:
    cfg, store = write_kiosk(tmp_path, **sections)
    store.close()
    return str(cfg.path)


# -- what an admin may write -------------------------------------------------------

@pytest.mark.parametrize("text, day", [
    ("2026-12-05", date(2026, 12, 5)), ("05/12/2026", date(2026, 12, 5)), ("5/12/2026", date(2026, 12, 5)),
    ("05-12-2026", date(2026, 12, 5)), ("05.12.2026", date(2026, 12, 5)), (" 2026-1-9 ", date(2026, 1, 9)),
    ("2026-12-05\n", date(2026, 12, 5)),                       # pasted with its line end
    ("29/02/2028", date(2028, 2, 29)),
])
def test_appointment_dates_as_written(text, day):
    assert receipts.parse_appointment(text) == day


@pytest.mark.parametrize("text", [
    "31/02/2026", "2026-13-01", "2026-00-10", "12/31/2026", "05/12/26", "2026/12/05", "tomorrow", "ngày mai",
    "２０２６-１２-０５", "٢٠٢٦-١٢-٠٥", "2026-12-05T00:00", "2026-12-05\x00", "x" * 10_000,
    "0000-01-01", "05/12/2026 05/12/2026", "+2026-12-05",
])
def test_what_is_not_a_date_is_refused(text):
    with pytest.raises(AppointmentError) as caught:
        receipts.parse_appointment(text)
    exc = caught.value
    assert exc.kind == "format"
    assert len(exc.text) <= 40 and all(ch.isprintable() for ch in exc.text)


def test_no_date_is_none():
    assert receipts.parse_appointment(None) is None and receipts.parse_appointment("  ") is None


def test_the_date_is_from_the_issue_day_to_a_year_after():
    today = date(2026, 12, 2)
    assert receipts.check_appointment(today, today) == today          # settled the same day
    assert receipts.check_appointment(today + timedelta(days=366), today)
    with pytest.raises(AppointmentError) as past:
        receipts.check_appointment(today - timedelta(days=1), today)
    assert past.value.kind == "past" and past.value.today == today
    with pytest.raises(AppointmentError) as far:
        receipts.check_appointment(today + timedelta(days=367), today)
    assert far.value.kind == "far"


def test_the_chooser_steps_stay_within_the_limits():
    today = date(2026, 12, 2)
    assert step_appointment(None, 3, today) == (date(2026, 12, 5), "")
    assert step_appointment(date(2026, 12, 5), -1, today) == (date(2026, 12, 4), "")
    # back into the past too (a rating on screen for a result returned late), a year at most
    assert step_appointment(None, -1, today) == (date(2026, 12, 1), "")
    day, why = step_appointment(today - timedelta(days=366), -1, today)
    assert day == today - timedelta(days=366) and "trước hôm nay" in why
    day, why = step_appointment(today + timedelta(days=366), 1, today)
    assert day == today + timedelta(days=366) and "{days}" in why and "sau hôm nay" in why


def test_rating_on_screen_carries_the_date_past_ones_too(tmp_path, at_now):
    cfg, store = write_kiosk(tmp_path)
    staff = StaffPanel(cfg, store, None)
    staff.sign_in("222222")
    late = staff.rate_on_screen("HS-R1", None, date(2026, 11, 28))
    assert late.ok and late.extra["appointment"] == "2026-11-28"
    assert "appointment" not in staff.rate_on_screen("HS-R2").extra
    far = staff.rate_on_screen("HS-R3", None, date(2020, 1, 1))
    assert not far.ok and "quá xa" in far.message_vi and "too far" in far.message_en
    store.close()


# -- issued: the payload, the paper --------------------------------------------------

def test_issued_with_the_date_in_the_payload(kiosk, at_now):
    cfg, store = kiosk
    issued = receipts.issue(cfg, store, "cb-001", "HS-1", "1.001193", appointment="05/12/2026")
    assert issued.fields["a"] == "2026-12-05" and issued.appointment == date(2026, 12, 5)
    fields, rid = protocol.parse_receipt_token(issued.token, RECEIPT_KEY)
    assert fields == issued.fields and rid == issued.receipt_id
    # valid 30 days after the appointment date, to the end of that day at +07:00
    assert issued.valid_until == datetime(2027, 1, 4, 23, 59, 59, tzinfo=ICT)
    # without a date: as before, no "a" at all (not a null)
    plain = receipts.issue(cfg, store, "cb-001", "HS-2")
    assert "a" not in plain.fields and plain.appointment is None
    assert plain.valid_until == NOW + timedelta(days=30)


def test_the_paper_says_the_appointment_date(kiosk, at_now):
    cfg, store = kiosk
    issued = receipts.issue(cfg, store, "cb-001", "000.00.21.H31-261202-0007", "1.001193",
                            appointment=date(2026, 12, 5))
    image = receipts.receipt_image(cfg, store, issued)
    lines = image.info["text"].splitlines()
    at = lines.index("Ngày hẹn trả kết quả:")
    assert lines[at + 1:at + 3] == ["05/12/2026", "Appointment date"]
    assert lines.index("Thời gian: 10:00 - 02/12/2026") < at          # under the dossier, above the QR
    text = " ".join(lines)
    assert "Phiếu có giá trị đến 23:59 ngày 04/01/2027" in text
    assert zxingcpp.read_barcodes(image.convert("L"))[0].text == issued.token
    out = ARTIFACTS / "receipts"
    out.mkdir(parents=True, exist_ok=True)
    render.save_png(image, out / "receipt_due_58.png")
    plain = receipts.receipt_image(cfg, store, receipts.issue(cfg, store, "cb-001", "HS-2"))
    assert "Ngày hẹn trả kết quả:" not in plain.info["text"]
    assert image.height > plain.height


def test_80_mm_paper_too(tmp_path, at_now):
    cfg, store = write_kiosk(tmp_path, receipt={"paper_mm": 80})
    issued = receipts.issue(cfg, store, "cb-001", "HS-80", appointment="2026-12-24")
    image = receipts.receipt_image(cfg, store, issued)
    assert image.width == 576 and "24/12/2026" in image.info["text"].splitlines()
    render.save_png(image, ARTIFACTS / "receipts" / "receipt_due_80.png")
    store.close()


def test_issue_refuses_a_date_before_the_issue_day_or_too_far(kiosk, at_now):
    cfg, store = kiosk
    with pytest.raises(AppointmentError, match="before the receipt's issue day 02/12/2026"):
        receipts.issue(cfg, store, "cb-001", "HS-1", appointment="2026-12-01")
    with pytest.raises(AppointmentError) as far:
        receipts.issue(cfg, store, "cb-001", "HS-1", appointment=date(2028, 1, 1))
    assert far.value.kind == "far"


def test_the_issue_day_is_the_kiosks_local_day(tmp_path, monkeypatch):
    """00:30 on 03/12 in Hà Nội is still 02/12 in UTC: a due date of 03/12 is the issue day, allowed."""
    instant = datetime(2026, 12, 3, 0, 30, tzinfo=ICT)
    monkeypatch.setattr(kiosk_config, "wall_clock", lambda: instant.timestamp())
    cfg, store = write_kiosk(tmp_path)
    assert receipts.issue(cfg, store, "cb-001", "HS-1", appointment="2026-12-03").fields["a"] == "2026-12-03"
    with pytest.raises(AppointmentError):
        receipts.issue(cfg, store, "cb-001", "HS-1", appointment="2026-12-02")
    store.close()


# -- valid until the appointment date + validity_days -----------------------------------

def issued_long_ago(cfg, store, days_ago: int, due_days: int | None, dossier: str):
    """A receipt issued ``days_ago`` days before NOW with an appointment ``due_days`` after its issue."""
    at = NOW - timedelta(days=days_ago)
    due = (at + timedelta(days=due_days)).date() if due_days is not None else None
    return receipts.issue(cfg, store, "cb-001", dossier, now=at, appointment=due)


def test_a_receipt_with_a_date_stays_valid_after_it(kiosk):
    cfg, store = kiosk
    # handed at intake 40 days ago, the result due 20 days after: scanned today, 20 days after the date
    issued = issued_long_ago(cfg, store, 40, 20, "HS-LONG")
    plain = issued_long_ago(cfg, store, 40, None, "HS-PLAIN")
    check = ReceiptVerifier.from_config(cfg, store, clock=lambda: NOW.timestamp()).check
    result = check(issued.token)
    assert result.ok and result.appointment == issued.fields["a"]
    refused = check(plain.token)                                # without a date: 30 days from the issue
    assert not refused.ok and refused.kind == "expired"
    assert refused.message_vi == receipts.MESSAGES["expired"][0].format(days=30)


def test_valid_to_the_last_second_of_the_day_validity_days_after_the_date(kiosk):
    cfg, store = kiosk
    issued = receipts.issue(cfg, store, "cb-001", "HS-EDGE", now=NOW, appointment="2026-12-05")
    last = datetime(2027, 1, 4, 23, 59, 59, tzinfo=ICT).timestamp()
    assert receipts.receipt_valid_until(cfg, issued.fields) == last == issued.valid_until.timestamp()
    assert ReceiptVerifier.from_config(cfg, store, clock=lambda: last).check(issued.token).ok
    late = ReceiptVerifier.from_config(cfg, store, clock=lambda: last + 1).check(issued.token)
    assert late.kind == "expired"
    # its own words: so many days after the appointment date
    assert late.message_vi == ("Phiếu này đã quá hạn đánh giá (30 ngày sau ngày hẹn trả kết quả 05/12/2026). "
                               "Ông/Bà vẫn có thể đánh giá trực tiếp trên máy.")
    assert "30 days after the appointment date 05/12/2026" in late.message_en
    assert store.event_counts() == {"expired": 1}


def test_a_date_never_shortens_the_validity(kiosk):
    """Due the same day: still valid 30 days from the issue (the later of the two)."""
    cfg, store = kiosk
    issued = receipts.issue(cfg, store, "cb-001", "HS-SAME", now=NOW, appointment=NOW.date())
    assert issued.valid_until == max(NOW + timedelta(days=30), datetime(2027, 1, 1, 23, 59, 59, tzinfo=ICT))


def test_the_days_end_at_the_kiosks_offset():
    t = int(NOW.timestamp())
    at_hanoi = receipts.valid_until(t, 1, "2026-12-05", "+07:00")
    at_utc = receipts.valid_until(t, 1, "2026-12-05", "+00:00")
    assert at_utc - at_hanoi == 7 * 3600
    assert receipts.valid_until(t, 1, "not-a-date") == t + 86400 == receipts.valid_until(t, 1, None)
    assert receipts.valid_until(t, 30, "9999-12-31") > t                   # the calendar's end: no overflow


def test_scanned_result_carries_the_date_or_none(kiosk, at_now):
    cfg, store = kiosk
    verifier = ReceiptVerifier.from_config(cfg, store, clock=lambda: NOW.timestamp() + 60)
    with_date = verifier.check(receipts.issue(cfg, store, "cb-002", "HS-A", appointment="2026-12-09").token)
    without = verifier.check(receipts.issue(cfg, store, "cb-002", "HS-B").token)
    assert with_date.ok and with_date.appointment == "2026-12-09"
    assert without.ok and without.appointment is None


def test_a_signed_receipt_with_a_bad_date_is_malformed(kiosk, at_now):
    """As strict as the issuer: an "a" that is not YYYY-MM-DD is refused even when signed with the key."""
    cfg, store = kiosk
    verifier = ReceiptVerifier.from_config(cfg, store, clock=lambda: NOW.timestamp())
    for bad in ("05/12/2026", "2026-02-30", 20261205, ["2026-12-05"], "2026-12-05 "):
        fields = dict(protocol.receipt_fields("13321", "quay-1", "cb-001", "HS-X", None, int(NOW.timestamp())),
                      a=bad)
        result = verifier.check(protocol.make_receipt_token(fields, RECEIPT_KEY))
        assert not result.ok and result.kind == "malformed", bad


# -- the staff panel's logic -------------------------------------------------------

def test_staff_panel_prints_the_date(tmp_path, at_now):
    from kiosk.devices.printer import Printer
    cfg, store = write_kiosk(tmp_path, printer={"save_dir": "prints"})
    staff = StaffPanel(cfg, store, Printer.from_config(cfg, store))
    staff.sign_in("111111")
    out = staff.print_receipt("HS-P1", None, date(2026, 12, 5))
    assert out.ok and out.issued.fields["a"] == "2026-12-05"
    assert out.message_vi.endswith("Ngày hẹn trả kết quả: 05/12/2026.")
    assert out.message_en.endswith("Appointment date: 05/12/2026.")
    past = staff.print_receipt("HS-P2", None, date(2026, 12, 1))
    assert not past.ok and past.issued is None
    assert "01/12/2026 đã qua" in past.message_vi and "has passed" in past.message_en
    page = Image.open(min((tmp_path / "prints").glob("*.png")))
    assert "05/12/2026" in page.text["text"].splitlines()
    assert len(list((tmp_path / "prints").glob("*.png"))) == 1       # nothing printed for the refused one
    store.close()


# -- the command line ------------------------------------------------------------------

def test_preview_with_due_puts_a_in_the_payload(tmp_path, at_now):
    conf = config_file(tmp_path)
    out = tmp_path / "receipt.png"
    result = run("preview", "--config", conf, *OFFICER, "--due", "05/12/2026", "--out", str(out))
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert "Appointment date: 05/12/2026" in result.output          # the tests' CLI speaks English
    assert "valid until 23:59 04/01/2027" in result.output
    image = Image.open(out)
    assert zxingcpp.read_barcodes(image.convert("L"))[0].text == token
    fields, _rid = protocol.parse_receipt_token(token, RECEIPT_KEY)
    assert fields["a"] == "2026-12-05"                              # normalised to YYYY-MM-DD
    lines = image.text["text"].splitlines()
    assert lines[lines.index("Ngày hẹn trả kết quả:") + 1] == "05/12/2026"


def test_print_with_due_on_a_serial_printer(tmp_path, at_now):
    port = PtyPort(tmp_path / "ttyPRN")
    fake = FakePrinter(port)
    try:
        conf = config_file(tmp_path, printer={"port": port.path, "baudrate": 921600, "timeout": 0.5})
        result = run("print", "--config", conf, *OFFICER, "--due", "2026-12-10")
        assert result.exit_code == 0, result.output
        page = wait_until(lambda: fake.printed.jobs())[0]
        page.save(ARTIFACTS / "receipts" / "receipt_due_printed.png")
        token = zxingcpp.read_barcodes(page)[0].text
        assert protocol.parse_receipt_token(token, RECEIPT_KEY)[0]["a"] == "2026-12-10"
    finally:
        fake.stop()
        port.close()


@pytest.mark.parametrize("due, words", [
    ("31/02/2026", "--due “31/02/2026”: not a date; write the appointment date as 2026-12-05 or 05/12/2026"),
    ("next week", "--due “next week”: not a date"),
    ("2026-12-01", "--due 01/12/2026: the appointment date is before the receipt's issue day (02/12/2026)"),
    ("01/01/2028", "--due 01/01/2028: the appointment date is too far ahead (more than 366 days"),
    ("\x1b[2J2026", "--due “?[2J2026”: not a date"),
])
def test_bad_due_is_said_naming_due_and_nothing_is_printed(tmp_path, at_now, due, words):
    port = PtyPort(tmp_path / "ttyPRN")
    fake = FakePrinter(port)
    try:
        conf = config_file(tmp_path, printer={"port": port.path, "baudrate": 921600, "timeout": 0.5})
        out = tmp_path / "r.png"
        result = run("print", "--config", conf, *OFFICER, "--due", due, "--out", str(out))
        assert result.exit_code == 2, result.output
        assert words in result.output
        assert "\x1b" not in result.output
        assert not out.exists()
        preview = run("preview", "--config", conf, *OFFICER, "--due", due, "--out", str(out))
        assert preview.exit_code == 2 and words in preview.output and not out.exists()
        assert fake.printed.jobs() == []
    finally:
        fake.stop()
        port.close()


def test_bad_due_in_vietnamese(tmp_path):
    conf = config_file(tmp_path)
    env = {**os.environ, "LANGUAGE": "vi", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "hailong", "receipt", "preview", "--config", conf, *OFFICER,
                           "--due", "31/02/2026", "--out", str(tmp_path / "r.png")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert ("Lỗi: --due «31/02/2026»: không phải một ngày; ghi ngày hẹn trả kết quả dạng 2026-12-05 "
            "hoặc 05/12/2026") in proc.stderr
    helped = subprocess.run([sys.executable, "-m", "hailong", "receipt", "print", "--help"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert "--due NGÀY" in helped.stdout and "05/12/2026" in helped.stdout


# -- DESIGN.md's vector with the appointment date ------------------------------------

def test_the_vector_with_an_appointment_date(tmp_path):
    """tests/vectors/receipt.json ``with_appointment_date`` (a copy of shared/vectors): verified and issued alike."""
    import json

    from helpers import VECTORS
    vectors = json.loads((VECTORS / "receipt.json").read_text("utf-8"))
    vector, key = vectors["with_appointment_date"], vectors["receipt_key_hex"]
    fields, rid = protocol.parse_receipt_token(vector["qr_text"], key)
    assert fields == vector["fields"] and rid == vector["receipt_id"]
    cfg, store = write_kiosk(tmp_path, receipt={"key": key})
    t = vector["fields"]["t"]
    result = ReceiptVerifier.from_config(cfg, store, clock=lambda: t + 86400).check(vector["qr_text"])
    assert result.ok and result.appointment == "2026-11-30" and result.receipt_id == vector["receipt_id"]
    # the kiosk issues the very same text for the same dossier, time and date
    issued = receipts.issue(cfg, store, "cb-001", vector["fields"]["h"], vector["fields"]["p"],
                            now=datetime.fromtimestamp(t, ICT), appointment="30/11/2026")
    assert issued.token == vector["qr_text"] and issued.receipt_id == vector["receipt_id"]
    store.close()
