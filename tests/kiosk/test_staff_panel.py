"""The staff panel's logic: PIN sign-in, duty, receipts on a real pty printer, counts only."""
import pytest
import zxingcpp
from helpers import wait_until
from ptys import RECEIPT_KEY, FakePrinter, PtyPort, write_kiosk

from kiosk.devices.printer import Printer
from kiosk.staff import StaffPanel
from sync import protocol

FAST = 921600


@pytest.fixture
def port(tmp_path):
    p = PtyPort(tmp_path / "ttyPRN")
    yield p
    p.close()


def panel(tmp_path, port_path):
    cfg, store = write_kiosk(tmp_path, printer={"port": port_path, "baudrate": FAST, "timeout": 0.5})
    return StaffPanel(cfg, store, Printer.from_config(cfg, store)), store


def test_sign_in_needs_a_pin_of_this_desk(tmp_path, port):
    staff, store = panel(tmp_path, port.path)
    assert staff.sign_in("0000") is None
    assert staff.sign_in("444444") is None  # cb-004 works at quay-2, not this desk
    assert store.event_counts() == {"staff_pin_wrong": 2}
    with pytest.raises(PermissionError):
        staff.print_receipt("HS-1")
    assert staff.sign_in("111111")["id"] == "cb-001"
    staff.set_duty(["cb-001", "cb-002"])
    assert {o["id"]: o["on_duty"] for o in staff.duty()} == {"cb-001": 1, "cb-002": 1, "cb-003": 0}


def test_receipt_printed_for_the_signed_in_officer_then_paper_out_and_reprint(tmp_path, port):
    fake = FakePrinter(port)
    try:
        staff, store = panel(tmp_path, port.path)
        staff.sign_in("222222")
        out = staff.print_receipt("000.00.21.H31-261128-0042", "1.001193")
        assert out.ok, out.message_en
        page = wait_until(lambda: fake.printed.jobs())[0]
        decoded = zxingcpp.read_barcodes(page)
        fields, rid = protocol.parse_receipt_token(decoded[0].text, RECEIPT_KEY)
        assert (fields["o"], fields["h"], fields["p"]) == ("cb-002", "000.00.21.H31-261128-0042", "1.001193")
        assert rid == out.issued.receipt_id

        fake.paper = "out"
        failed = staff.print_receipt("HS-2")
        assert not failed.ok and failed.extra["state"] == "paper_out"
        assert "giấy" in failed.message_vi and "Reprint" in failed.message_en
        assert staff.status()["printer"]["state"] == "paper_out"

        fake.paper = "ok"
        again = staff.reprint_last()
        assert again.ok, again.message_en
        pages = wait_until(lambda: len(fake.printed.jobs()) >= 2 and fake.printed.jobs())
        fields2, _ = protocol.parse_receipt_token(zxingcpp.read_barcodes(pages[-1])[0].text, RECEIPT_KEY)
        assert fields2["h"] == "HS-2"
    finally:
        fake.stop()


def test_status_is_counts_only(tmp_path, port):
    staff, store = panel(tmp_path, port.path)
    for level in (1, 3, 2):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=level)
    store.record_sync_error(store.pending(1)[0]["id"], "rejected")
    status = staff.status()
    assert (status["pending"], status["quarantined"]) == (2, 1)
    text = repr(status)
    assert "level" not in text and "cb-001" not in text


def test_no_printer_configured_says_so(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    staff = StaffPanel(cfg, store, None)
    staff.sign_in("111111")
    out = staff.print_receipt("HS-9")
    # nothing to print on: no receipt is issued for paper that never comes
    assert not out.ok and "[printer] port" in out.message_en and out.issued is None
    # issue 10: what to do, not only what is wrong
    assert "Nhờ cán bộ CNTT kết nối máy in" in out.message_vi and "Ask the IT person" in out.message_en


def test_rate_on_screen_checks_the_dossier_code(tmp_path):
    """No paper: the typed dossier opens a rating for the signed-in officer; bad codes are said clearly."""
    cfg, store = write_kiosk(tmp_path)
    staff = StaffPanel(cfg, store, None)
    with pytest.raises(PermissionError):
        staff.rate_on_screen("HS-1")
    staff.sign_in("222222")
    out = staff.rate_on_screen("  000.00.21.H31-261128-0042 ", "1.001193")
    assert out.ok and out.extra == {"officer_id": "cb-002", "dossier_code": "000.00.21.H31-261128-0042",
                                    "procedure_code": "1.001193"}
    assert staff.rate_on_screen("HS-2").extra["procedure_code"] is None
    empty = staff.rate_on_screen("   ")
    assert not empty.ok and "mã hồ sơ" in empty.message_vi
    for bad in ("HS\u202e-1", "HS\x00-1", "X" * 65):       # a format character, a control, too long
        out = staff.rate_on_screen(bad)
        assert not out.ok and "không hợp lệ" in out.message_vi and "not valid" in out.message_en, bad
    unknown = staff.rate_on_screen("HS-3", "9.999999")
    assert not unknown.ok and "9.999999" in unknown.message_vi
    assert store.count() == 0          # checking a code stores nothing


def test_no_receipt_key_says_what_to_do_in_each_language(tmp_path):
    cfg, store = write_kiosk(tmp_path, receipt={"key": ""}, printer={"port": str(tmp_path / "ttyNONE")})
    staff = StaffPanel(cfg, store, Printer.from_config(cfg, store))
    staff.sign_in("111111")
    out = staff.print_receipt("HS-9")
    assert not out.ok and out.issued is None
    assert "Nhờ cán bộ CNTT đồng bộ ki-ốt" in out.message_vi and "no receipt key" not in out.message_vi
    assert "Ask the IT person to sync" in out.message_en


def test_each_of_the_four_letters_prints_from_the_panel(tmp_path):
    """Cảm ơn, xin lỗi với ngày hẹn mới, chúc mừng, chia buồn: each prints (here onto a folder printer)."""
    from datetime import timedelta

    from PIL import Image

    from kiosk import letters
    cfg, store = write_kiosk(tmp_path, printer={"save_dir": "prints"})
    staff = StaffPanel(cfg, store, Printer.from_config(cfg, store))
    staff.sign_in("111111")
    new_date = cfg.now().date() + timedelta(days=3)
    for kind in letters.KINDS:
        out = staff.print_letter(kind, "HS-4", "1.001193", new_date if kind == letters.APOLOGY else None)
        assert out.ok, (kind, out.message_en)
    pages = sorted((tmp_path / "prints").glob("*.png"))
    assert len(pages) == 4
    texts = [" ".join(Image.open(p).text["text"].split()) for p in pages]
    for heading in ("THƯ CẢM ƠN", "THƯ XIN LỖI", "THƯ CHÚC MỪNG", "THƯ CHIA BUỒN"):
        assert any(heading in t for t in texts), heading
    assert any(f"{new_date:%d/%m/%Y}" in t for t in texts if "XIN LỖI" in t)
    no_date = staff.print_letter(letters.APOLOGY, "HS-4")
    assert not no_date.ok and "new date" in no_date.message_en
