"""The receipt printer over a real serial port (a pty) with a fake ESC/POS printer."""
import os
import select
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import zxingcpp
from helpers import ARTIFACTS as ALL_ARTIFACTS
from helpers import wait_until
from ptys import RECEIPT_KEY, FakePrinter, PtyPort, write_kiosk

from kiosk import receipts
from kiosk.devices.printer import META_LAST_JOB, Printer, PrinterError
from sync import protocol

ARTIFACTS = str(ALL_ARTIFACTS / "receipts")
ICT = timezone(timedelta(hours=7))
FAST = 921600  # a standard speed: the write timeout scales with bytes / baud


@pytest.fixture
def port(tmp_path):
    p = PtyPort(tmp_path / "ttyPRN")
    yield p
    p.close()


@pytest.fixture
def fake(port):
    f = FakePrinter(port)
    yield f
    f.stop()


def kiosk(tmp_path, port_path, paper_mm=58, **printer):
    return write_kiosk(tmp_path, receipt={"paper_mm": paper_mm},
                       printer={"port": port_path, "baudrate": FAST, "timeout": 0.5, **printer})


def drain(port):
    while select.select([port.master], [], [], 0.2)[0]:
        os.read(port.master, 65536)


def issue(cfg, store, officer="cb-001"):
    issued = receipts.issue(cfg, store, officer, "000.00.21.H31-261128-0042", "1.001193",
                            datetime(2026, 11, 28, 10, 15, tzinfo=ICT))
    return issued, receipts.receipt_image(cfg, store, issued)


@pytest.mark.parametrize("paper_mm,width", [(58, 384), (80, 576)])
def test_printed_bytes_are_escpos_and_the_printed_qr_verifies(tmp_path, port, fake, paper_mm, width):
    cfg, store = kiosk(tmp_path, port.path, paper_mm)
    issued, image = issue(cfg, store)
    Printer.from_config(cfg, store).print_image(image, ref=issued.receipt_id, token=issued.token)
    jobs = wait_until(lambda: fake.printed.jobs())
    assert fake.errors == []  # every byte was a known ESC/POS command: no text sent as text
    kinds = [c[0] for c in fake.printed.commands]
    assert kinds[:2] == ["status", "status"]  # DLE EOT 1, DLE EOT 4 before printing
    assert kinds.index("init") < kinds.index("raster") < kinds.index("cut")
    assert kinds[-1] == "cut"
    raster = fake.printed.rasters[0]
    assert raster.width_bytes * 8 == width
    assert sum(r.height for r in fake.printed.rasters) == image.height
    printed = jobs[0]
    assert printed.size == image.size
    # the printed dots are the rendered receipt, dot for dot
    assert list(printed.point(lambda p: 255 if p > 127 else 0).getdata()) == list(image.convert("L").getdata())
    os.makedirs(ARTIFACTS, exist_ok=True)
    printed.save(os.path.join(ARTIFACTS, f"printed_{paper_mm}mm.png"))
    codes = zxingcpp.read_barcodes(printed)
    assert len(codes) == 1
    fields, rid = protocol.parse_receipt_token(codes[0].text, RECEIPT_KEY)
    assert (fields["o"], fields["h"], fields["u"], rid) == ("cb-001", "000.00.21.H31-261128-0042",
                                                            "13321", issued.receipt_id)


def test_state_for_staff_panel(tmp_path, port, fake):
    cfg, store = kiosk(tmp_path, port.path)
    printer = Printer.from_config(cfg, store)
    assert printer.state()["state"] == "ok"
    fake.paper = "low"
    state = printer.state()
    assert state["state"] == "paper_low" and "sắp hết" in state["message_vi"]
    _issued, image = issue(cfg, store)
    printer.print_image(image)  # low paper still prints
    wait_until(lambda: fake.printed.jobs())
    fake.online = False
    assert printer.state()["state"] == "offline"


def test_port_missing_then_plugged_in(tmp_path):
    link = tmp_path / "ttyUSB-printer"
    cfg, store = kiosk(tmp_path, str(link))
    printer = Printer.from_config(cfg, store)
    assert printer.state()["state"] == "absent"
    issued, image = issue(cfg, store)
    with pytest.raises(PrinterError) as err:
        printer.print_image(image, ref=issued.receipt_id)
    assert err.value.state == "absent"
    assert "Không tìm thấy máy in" in err.value.message_vi and str(link) in err.value.message_en
    assert printer.last_job().printed is False
    port = PtyPort(link)
    fake = FakePrinter(port)
    try:
        job = printer.reprint_last()
        assert job.ref == issued.receipt_id and job.printed
        printed = wait_until(lambda: fake.printed.jobs())[0]
        assert zxingcpp.read_barcodes(printed)[0].text == issued.token
    finally:
        fake.stop()
        port.close()


def test_paper_out_then_reprint_after_a_restart(tmp_path, port, fake):
    cfg, store = kiosk(tmp_path, port.path)
    fake.paper = "out"
    issued, image = issue(cfg, store)
    with pytest.raises(PrinterError) as err:
        Printer.from_config(cfg, store).print_image(image, ref=issued.receipt_id, token=issued.token)
    assert err.value.state == "paper_out"
    assert err.value.message_vi.startswith("Máy in hết giấy. Xin mở nắp, lắp cuộn giấy mới")
    assert fake.printed.rasters == []  # nothing half-printed
    assert store.get_meta(META_LAST_JOB)
    fake.paper = "ok"
    restarted = Printer.from_config(cfg, store)  # a new process: the job comes from kiosk.db
    assert restarted.state()["last_job"]["printed"] is False
    job = restarted.reprint_last()
    assert job.token == issued.token
    printed = wait_until(lambda: fake.printed.jobs())[0]
    assert zxingcpp.read_barcodes(printed)[0].text == issued.token
    assert Printer.from_config(cfg, store).state()["last_job"]["printed"] is True


def test_printer_that_stops_reading_times_out(tmp_path, port):
    cfg, store = kiosk(tmp_path, port.path)
    stuck = FakePrinter(port, stall_after_status=True)
    _issued, image = issue(cfg, store)
    printer = Printer.from_config(cfg, store)
    errors = []

    def job():
        try:
            printer.print_image(image)
        except PrinterError as exc:
            errors.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=job)
    worker.start()
    try:
        wait_until(lambda: stuck._stalled)
        asked = time.monotonic()
        assert printer.state()["state"] == "printing"  # the heartbeat is not held up
        assert time.monotonic() - asked < 1
        worker.join(15)
    finally:
        stuck.stop()
    [err] = errors
    assert err.state == "timeout"
    assert "quá thời gian chờ" in err.message_vi
    assert time.monotonic() - started < 10
    drain(port)  # the fault clears: the printer swallows the half-sent job and resets
    fresh = FakePrinter(port)
    try:
        Printer.from_config(cfg, store).reprint_last()
        assert wait_until(lambda: fresh.printed.jobs())
        assert fresh.errors == []
    finally:
        fresh.stop()


def test_printer_that_never_answers_is_offline(tmp_path, port):
    cfg, store = kiosk(tmp_path, port.path)
    dead = FakePrinter(port, answer=False)
    try:
        started = time.monotonic()
        state = Printer.from_config(cfg, store).state()
        assert state["state"] == "offline" and "không phản hồi" in state["message_vi"]
        assert time.monotonic() - started < 3
        with pytest.raises(PrinterError) as err:
            Printer.from_config(cfg, store).print_image(issue(cfg, store)[1])
        assert err.value.state == "offline"
    finally:
        dead.stop()


def test_printer_unplugged_mid_life(tmp_path, port, fake):
    cfg, store = kiosk(tmp_path, port.path)
    printer = Printer.from_config(cfg, store)
    assert printer.state()["state"] == "ok"
    fake.stop()
    port.close()
    with pytest.raises(PrinterError) as err:
        printer.print_image(issue(cfg, store)[1])
    assert err.value.state == "absent"


def test_status_check_can_be_turned_off(tmp_path, port):
    cfg, store = kiosk(tmp_path, port.path, check_status=False)
    quiet = FakePrinter(port, answer=False)
    try:
        Printer.from_config(cfg, store).print_image(issue(cfg, store)[1])
        assert wait_until(lambda: quiet.printed.jobs())
        assert quiet.status_queries == 0
    finally:
        quiet.stop()


def test_paper_wider_than_the_printer_profile(tmp_path, port, fake):
    cfg, store = kiosk(tmp_path, port.path, paper_mm=80, profile="TM-T88III")  # 512 dots
    with pytest.raises(PrinterError) as err:
        Printer.from_config(cfg, store).print_image(issue(cfg, store)[1])
    assert err.value.state == "too_wide" and "paper_mm" in err.value.message_en


def test_unknown_profile_and_no_port(tmp_path, port):
    cfg, store = kiosk(tmp_path, port.path, profile="NO-SUCH-PRINTER")
    assert Printer.from_config(cfg, store).state()["state"] == "error"
    with pytest.raises(PrinterError, match="NO-SUCH-PRINTER"):
        Printer.from_config(cfg, store).print_image(issue(cfg, store)[1])
    cfg, store = kiosk(tmp_path, "")
    assert Printer.from_config(cfg, store).state()["state"] == "not_configured"
    with pytest.raises(PrinterError) as err:
        Printer(port="").reprint_last()
    assert err.value.state == "no_job"


def test_printer_unplugged_mid_job_keeps_the_job(tmp_path):
    link = tmp_path / "ttyUSB0"
    port = PtyPort(link)
    cfg, store = kiosk(tmp_path, str(link))
    stuck = FakePrinter(port, stall_after_status=True)
    printer = Printer.from_config(cfg, store)
    issued, image = issue(cfg, store)
    errors = []
    worker = threading.Thread(target=lambda: _catch(errors, printer.print_image, image, ref=issued.receipt_id))
    worker.start()
    wait_until(lambda: stuck._stalled)
    stuck.stop()
    port.close()  # cable pulled while the image is being sent
    worker.join(15)
    [err] = errors
    assert err.state == "absent"
    port = PtyPort(link)
    fresh = FakePrinter(port)
    try:
        assert printer.reprint_last().ref == issued.receipt_id
        assert zxingcpp.read_barcodes(wait_until(lambda: fresh.printed.jobs())[0])[0].text == issued.token
    finally:
        fresh.stop()
        port.close()


def _catch(errors, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except PrinterError as exc:
        errors.append(exc)


@pytest.mark.parametrize("state", ["not_configured", "absent", "offline", "paper_out", "timeout", "error", "too_wide"])
def test_every_fault_says_what_to_do(state):
    """Issue 10: not only what is wrong, but what to do: a part to check, a setting, or whom to ask."""
    from kiosk.devices.printer import MESSAGES
    vi, en = MESSAGES[state]
    assert "Xin " in vi or "Nhờ cán bộ CNTT" in vi or "nhờ cán bộ CNTT" in vi, vi
    assert any(w in en for w in ("Check", "Ask the IT person", "ask the IT person", "Open the cover",
                                 "Switch it off")), en
    if state in ("not_configured", "absent", "error", "too_wide"):
        assert "config.toml" in vi and "config.toml" in en       # which file, which setting
    if state == "not_configured":
        assert "Nhờ cán bộ CNTT kết nối máy in" in vi and "[printer] port" in vi
        assert "Ask the IT person to connect" in en and "Đánh giá trên máy" in vi


def test_a_printer_made_of_files_for_the_demo(tmp_path):
    """[printer] save_dir and no port: the staff panel's receipt lands as a PNG whose QR the kiosk accepts,
    and the demo's scan pipe carries it to a serial scanner (hailong demo, issue 10)."""
    from hailong.demo import DemoScanner
    from kiosk.devices.scanner import SerialScanner
    from kiosk.staff import StaffPanel
    cfg, store = write_kiosk(tmp_path, printer={"save_dir": "prints"})
    try:
        assert cfg.has_printer and cfg.print_dir == tmp_path / "prints"
        printer = Printer.from_config(cfg, store)
        assert printer.state()["state"] == "ok"
        staff = StaffPanel(cfg, store, printer)
        staff.sign_in("111111")
        out = staff.print_receipt("HS-DEMO-1", "1.001193")
        assert out.ok, out.message_en
        png = next((tmp_path / "prints").glob("*receipt*.png"))
        from PIL import Image
        page = Image.open(png)
        assert "Phiếu có giá trị đến" in page.text["text"]          # the paper's text rides in the PNG
        token = zxingcpp.read_barcodes(page)[0].text
        assert png.with_suffix(".qr.txt").read_text("ascii").strip() == token == out.issued.token
        assert receipts.ReceiptVerifier.from_config(cfg, store).check(token).ok
        # the demo's pipe → pty → the kiosk's serial scanner
        scanner = DemoScanner(tmp_path / "scan").start()
        got = []
        reader = SerialScanner(scanner.port, got.append, reconnect_interval=0.1).start()
        try:
            # opening a serial port flushes what waits in it (pyserial): write once the reader holds it
            wait_until(lambda: reader.state()["state"] == "ok", 10, what="the scanner's port open")
            with open(tmp_path / "scan", "w") as pipe:
                pipe.write(f"{png.with_suffix('.qr.txt')}\n{png}\n")
            wait_until(lambda: len(got) >= 2, 10)
            assert got == [token, token]
        finally:
            reader.stop()
            scanner.stop()
    finally:
        store.close()
