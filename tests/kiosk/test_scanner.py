"""The QR scanner: a serial scanner on a real pty, and the keyboard-wedge buffer."""
import json
import threading
import time
import unicodedata

import pytest
from helpers import VECTORS, FakeClock, wait_until
from ptys import PtyPort

from kiosk.devices.scanner import KeyboardWedgeBuffer, LineAssembler, SerialScanner

TOKEN = json.loads((VECTORS / "receipt.json").read_text("utf-8"))["qr_text"]


class Scans:
    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def __call__(self, text):
        with self.lock:
            self.items.append(text)


@pytest.fixture
def rig(tmp_path):
    port = PtyPort(tmp_path / "ttyQR")
    scans = Scans()
    scanner = SerialScanner(port.path, scans, reconnect_interval=0.05).start()
    wait_until(lambda: scanner.state()["state"] == "ok")
    yield port, scanner, scans
    scanner.stop()
    port.close()


END = "SETTLE-END"


def settle(scans, count, port):
    """Wait for ``count`` scans; then scan an end marker and wait for it, which catches any duplicate.

    The reader handles lines in order, so a duplicate of an earlier scan would
    arrive before the marker. Returns the scans before the marker.
    """
    wait_until(lambda: len(scans.items) >= count)
    port.write(END.encode("ascii") + b"\r")
    wait_until(lambda: END in scans.items, what="the end marker")
    items = list(scans.items)
    assert items[-1] == END, items
    return items[:-1]


def test_token_arrives_once_per_scan(rig):
    port, scanner, scans = rig
    port.write(TOKEN.encode("ascii") + b"\r")
    assert settle(scans, 1, port) == [TOKEN]
    assert scanner.state()["scans"] == 2          # the token once, and settle's end marker


def test_split_writes_are_reassembled(rig):
    port, _scanner, scans = rig
    data = TOKEN.encode("ascii") + b"\r\n"
    for i in range(0, len(data), 17):
        port.write(data[i:i + 17])
        time.sleep(0.02)
    assert settle(scans, 1, port) == [TOKEN]


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_line_endings_and_several_codes_in_one_write(rig, ending):
    port, _scanner, scans = rig
    port.write(b"A-1" + ending + b"B-2" + ending + ending)
    assert settle(scans, 2, port) == ["A-1", "B-2"]


def test_text_is_utf8_and_nfc(rig):
    port, _scanner, scans = rig
    nfd = unicodedata.normalize("NFD", "Hồ sơ Đồng Tâm")
    port.write(nfd.encode("utf-8") + b"\r\n")
    assert settle(scans, 1, port) == ["Hồ sơ Đồng Tâm"]


def test_port_disappearing_and_returning(tmp_path):
    link = tmp_path / "ttyACM-scanner"
    scans = Scans()
    scanner = SerialScanner(str(link), scans, reconnect_interval=0.05).start()
    try:
        assert wait_until(lambda: scanner.state()["state"] == "absent")
        port = PtyPort(link)
        wait_until(lambda: scanner.state()["state"] == "ok")
        port.write(b"first\r")
        wait_until(lambda: scans.items == ["first"])
        port.write(b"half-a-sc")  # cable pulled mid-scan
        port.close()
        wait_until(lambda: scanner.state()["state"] == "absent")
        port = PtyPort(link)  # plugged back in (a new device behind the same name)
        wait_until(lambda: scanner.state()["state"] == "ok")
        port.write(b"second\r\n")
        assert settle(scans, 2, port) == ["first", "second"]
        port.close()
    finally:
        scanner.stop()
    assert scanner._thread is None


def test_a_failing_callback_does_not_stop_the_reader(tmp_path):
    port = PtyPort(tmp_path / "ttyQR")
    seen = []

    def handler(text):
        seen.append(text)
        if text == "boom":
            raise RuntimeError("screen not ready")

    scanner = SerialScanner(port.path, handler, reconnect_interval=0.05).start()
    try:
        wait_until(lambda: scanner.state()["state"] == "ok")
        port.write(b"boom\r")
        wait_until(lambda: seen == ["boom"])
        port.write(b"next\r")
        wait_until(lambda: seen == ["boom", "next"])
    finally:
        scanner.stop()
        port.close()


def test_no_port_configured():
    scanner = SerialScanner("", lambda t: None).start()
    assert scanner.state()["state"] == "not_configured"
    scanner.stop()


def test_line_assembler_drops_a_stale_partial():
    clock = FakeClock()
    lines = LineAssembler(stale_after=2.0, clock=clock)
    assert lines.feed(b"half") == []
    clock.now += 5
    assert lines.feed(b"HL1.x.y\r") == ["HL1.x.y"]
    assert lines.feed(b"ab") == []
    clock.now += 1
    assert lines.feed(b"c\n") == ["abc"]
    assert lines.feed(b"\xff\xfeok\r") == ["\ufffd\ufffdok"]


def test_keyboard_wedge_emits_on_enter():
    clock = FakeClock()
    wedge = KeyboardWedgeBuffer(stale_after=1.0, clock=clock)
    for ch in TOKEN:
        assert wedge.push(ch) == []
        clock.now += 0.005
    assert wedge.pending == TOKEN
    assert wedge.enter() == TOKEN
    assert wedge.pending == "" and wedge.enter() is None
    assert wedge.push("A-1\rB-2\n") == ["A-1", "B-2"]


def test_keyboard_wedge_drops_stale_typing():
    clock = FakeClock()
    wedge = KeyboardWedgeBuffer(stale_after=1.0, clock=clock)
    wedge.push("xyz")  # someone pokes at a keyboard
    clock.now += 3
    wedge.push("HL1.")
    clock.now += 0.01
    wedge.push("abc")
    assert wedge.enter() == "HL1.abc"
    wedge.push("left over")
    clock.now += 3
    assert wedge.enter() is None


def test_scanned_receipt_is_verified_once(tmp_path):
    from ptys import write_kiosk

    from kiosk import receipts

    cfg, store = write_kiosk(tmp_path)
    issued = receipts.issue(cfg, store, "cb-004", "000.00.21.H31-261128-0099", "1.004227")
    verifier = receipts.ReceiptVerifier.from_config(cfg, store)
    results = []
    port = PtyPort(tmp_path / "ttyQR")
    scanner = SerialScanner(port.path, lambda text: results.append(verifier.check(text)),
                            reconnect_interval=0.05).start()
    try:
        wait_until(lambda: scanner.state()["state"] == "ok")
        port.write(issued.token.encode("ascii") + b"\r\n")
        wait_until(lambda: len(results) == 1)
        first = results[0]
        assert first.ok and first.officer["name"] == "Phạm Quốc Hưng"
        store.append(unit_code="13321", desk_id="quay-1", officer_id=first.officer_id, level=2,
                     source="receipt", dossier_code=first.dossier_code, receipt_id=first.receipt_id)
        port.write(issued.token.encode("ascii") + b"\r\n")
        wait_until(lambda: len(results) == 2)
        assert results[1].kind == "already_rated"
    finally:
        scanner.stop()
        port.close()
        store.close()
