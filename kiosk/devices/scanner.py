"""The QR scanner: a serial scanner read by a thread, or a keyboard-wedge one.

Serial scanners send each code followed by CR, LF or CR LF (the factory
suffix of most models; a scanner set to send no suffix must be set to one).
Bytes may arrive in pieces; a line is emitted once, NFC-normalised and
stripped, when its terminator arrives. A partial line left without its
terminator for ``stale_after`` seconds is dropped (a scan cut off by an
unplugged cable must not glue onto the next one).

When the port disappears (cable pulled, USB re-enumerated) the reader waits
and reopens it when it comes back; ``state()`` says ok / absent / error.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

import serial

from sync.protocol import nfc

log = logging.getLogger(__name__)
MAX_LINE = 4096
#: state -> the staff panel's words at a glance (a msgid)
GLANCE = {
    "ok": "sẵn sàng",
    "absent": "không thấy máy quét (kiểm tra dây cáp)",
    "error": "lỗi cổng máy quét",
    "not_configured": "chưa khai báo (máy quét kiểu bàn phím vẫn dùng được)",
}


def _clean(raw: bytes | str) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return nfc(text.strip())


class LineAssembler:
    """Bytes in, complete lines out (CR, LF or CR LF; empty lines ignored)."""

    def __init__(self, stale_after: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.stale_after = stale_after
        self.clock = clock
        self._buf = bytearray()
        self._last = 0.0

    def feed(self, data: bytes) -> list[str]:
        now = self.clock()
        if self._buf and now - self._last > self.stale_after:
            self._buf.clear()
        self._last = now
        self._buf += data
        lines = []
        while True:
            ends = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not ends:
                break
            cut = min(ends)
            line = _clean(bytes(self._buf[:cut]))
            del self._buf[:cut + 1]
            if line:
                lines.append(line)
        if len(self._buf) > MAX_LINE:  # garbage without terminators
            self._buf.clear()
        return lines


class SerialScanner:
    """Reads a serial QR scanner in a thread; ``on_scan(text)`` once per code.

    ``on_scan`` runs in the reader thread: a UI must hop to its own thread
    (e.g. Kivy's Clock.schedule_once).
    """

    def __init__(self, port: str, on_scan: Callable[[str], None], baudrate: int = 9600,
                 reconnect_interval: float = 1.0, stale_after: float = 2.0):
        self.port = port
        self.on_scan = on_scan
        self.baudrate = baudrate
        self.reconnect_interval = reconnect_interval
        self.stale_after = stale_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "not_configured" if not port else "absent"
        self._detail = ""
        self.scans = 0

    @classmethod
    def from_config(cls, cfg, on_scan: Callable[[str], None], **kw) -> "SerialScanner":
        return cls(cfg.scanner["port"], on_scan, cfg.scanner["baudrate"], **kw)

    def state(self) -> dict:
        return {"state": self._state, "detail": self._detail, "port": self.port, "scans": self.scans}

    def start(self) -> "SerialScanner":
        if self.port and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qr-scanner", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _set(self, state: str, detail: str = "") -> None:
        if (state, detail) != (self._state, self._detail):
            log.info("scanner %s: %s %s", self.port, state, detail)
        self._state, self._detail = state, detail

    def _run(self) -> None:
        while not self._stop.is_set():
            if not os.path.exists(self.port):
                self._set("absent")
                self._stop.wait(self.reconnect_interval)
                continue
            try:
                port = serial.Serial(self.port, self.baudrate, timeout=0.2)
            except (serial.SerialException, OSError) as exc:
                self._set("absent" if not os.path.exists(self.port) else "error", str(exc))
                self._stop.wait(self.reconnect_interval)
                continue
            self._set("ok")
            try:
                self._read(port)
            except (serial.SerialException, OSError) as exc:
                self._set("absent" if not os.path.exists(self.port) else "error", str(exc))
                self._stop.wait(self.reconnect_interval)
            finally:
                port.close()

    def _read(self, port: serial.Serial) -> None:
        lines = LineAssembler(self.stale_after)
        while not self._stop.is_set():
            data = port.read(port.in_waiting or 1)
            if not data:
                continue
            for line in lines.feed(data):
                self.scans += 1
                try:
                    self.on_scan(line)
                except Exception:  # a bad handler must not kill the reader
                    log.exception("scanner callback failed")


class KeyboardWedgeBuffer:
    """Characters typed by a keyboard-wedge scanner, emitted as one code on Enter.

    The app feeds it every typed character (``push``) and Enter (``enter``).
    A scanner types a whole code in well under a second; input older than
    ``stale_after`` seconds is a person's stray key presses and is dropped.
    """

    def __init__(self, stale_after: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 max_len: int = MAX_LINE):
        self.stale_after = stale_after
        self.clock = clock
        self.max_len = max_len
        self._chars: list[str] = []
        self._last = 0.0

    @property
    def pending(self) -> str:
        return "".join(self._chars)

    def _expire(self, now: float) -> None:
        if self._chars and now - self._last > self.stale_after:
            self._chars.clear()

    def push(self, text: str) -> list[str]:
        """Add typed text; returns codes completed by CR/LF inside it."""
        out = []
        for ch in text:
            if ch in "\r\n":
                code = self.enter()
                if code:
                    out.append(code)
                continue
            now = self.clock()
            self._expire(now)
            self._last = now
            if len(self._chars) < self.max_len:
                self._chars.append(ch)
        return out

    def enter(self) -> str | None:
        """Enter pressed: the code typed so far (None when nothing fresh)."""
        self._expire(self.clock())
        code = _clean("".join(self._chars))
        self._chars.clear()
        return code or None

    def clear(self) -> None:
        self._chars.clear()
