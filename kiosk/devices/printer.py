"""The receipt printer: ESC/POS over a serial port (python-escpos + pyserial).

All text reaches the printer as a raster image (GS v 0): thermal printers
have no toned Vietnamese code page, and python-escpos would map Vietnamese
through single-byte tables (its TCVN-3 table even has Ð U+00D0 where
Đ U+0110 is meant).

Every job opens the port, asks the printer's real-time status (DLE EOT 1
online, DLE EOT 4 paper), sends ESC @ + image + cut, and closes it, so a
printer unplugged and plugged back just works. A fault raises PrinterError
with a Vietnamese and an English message saying what is wrong and what
to do about it (which part to check, which config.toml setting, or to ask
the IT person); the caller adds how to print again (a button, a command); the job is kept (in memory and in
the store's meta, so it survives a restart) for ``reprint_last()``.

``[printer] save_dir``: every job printed is also saved there as a PNG (with
its text in a tEXt chunk) and, for a receipt, its QR text beside it
(``<name>.qr.txt``). With no port it is the only output: a printer made of
files, for the demo (``hailong demo``) and for a desk that prints elsewhere.
The path is logged and written on stderr, so whoever started the kiosk sees
where the page went.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import re
import sys
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import serial
from escpos import exceptions as escpos_errors
from escpos.printer import Serial as EscposSerial
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)
META_LAST_JOB = "printer_last_job"
ESC_INIT = b"\x1b@"
DLE_EOT_ONLINE = b"\x10\x04\x01"
DLE_EOT_PAPER = b"\x10\x04\x04"

#: state -> (Vietnamese, English); {port} and {detail} are filled in.
MESSAGES = {
    "ok": ("Máy in sẵn sàng.", "Printer ready."),
    "paper_low": ("Giấy in sắp hết, xin chuẩn bị cuộn giấy mới.",
                  "Paper is running low; have a new roll ready."),
    "paper_out": ("Máy in hết giấy. Xin mở nắp, lắp cuộn giấy mới (mặt in hướng ra ngoài) rồi đóng nắp.",
                  "The printer is out of paper. Open the cover, load a new roll (printing side out) "
                  "and close the cover."),
    "offline": ("Máy in không phản hồi. Xin kiểm tra máy in đã bật, nắp đã đóng chặt và đèn báo lỗi "
                "đã tắt; nếu vẫn vậy, nhờ cán bộ CNTT kiểm tra máy in.",
                "The printer does not answer. Check that it is switched on, its cover is shut and its "
                "error light is off; if it still does not answer, ask the IT person to check it."),
    "timeout": ("Máy in ngừng nhận dữ liệu (quá thời gian chờ). Xin tắt máy in rồi bật lại; "
                "nếu vẫn vậy, nhờ cán bộ CNTT kiểm tra dây cáp máy in.",
                "The printer stopped taking data (timed out). Switch it off and on again; "
                "if it happens again, ask the IT person to check the printer cable."),
    "absent": ("Không tìm thấy máy in ở cổng {port}. Xin kiểm tra dây cáp và nguồn điện của máy in; "
               "nếu đã cắm mà vẫn vậy, nhờ cán bộ CNTT kiểm tra [printer] port trong config.toml.",
               "No printer found at {port}. Check the printer's cable and power; if both are in, "
               "ask the IT person to check [printer] port in config.toml."),
    "error": ("Không mở được cổng máy in {port}: {detail}. "
              "Nhờ cán bộ CNTT kiểm tra [printer] port và [printer] profile trong config.toml.",
              "Cannot open the printer port {port}: {detail}. "
              "Ask the IT person to check [printer] port and [printer] profile in config.toml."),
    "not_configured": ("Ki-ốt chưa có máy in. Nhờ cán bộ CNTT kết nối máy in và ghi cổng của nó vào "
                       "[printer] port trong config.toml. Trong lúc chờ, bấm «Đánh giá trên máy» "
                       "để người dân đánh giá hồ sơ ngay trên ki-ốt.",
                       "This kiosk has no printer. Ask the IT person to connect one and put its port in "
                       "config.toml, [printer] port. Meanwhile, press “Rate on screen” to let the citizen "
                       "rate the dossier on the kiosk."),
    "too_wide": ("Khổ giấy trong cấu hình ({detail}) rộng hơn khổ của máy in. "
                 "Nhờ cán bộ CNTT sửa [receipt] paper_mm hoặc [printer] profile trong config.toml.",
                 "The configured paper ({detail}) is wider than the printer's. "
                 "Ask the IT person to fix [receipt] paper_mm or [printer] profile in config.toml."),
    "printing": ("Máy in đang in.", "Printing."),
    "no_job": ("Chưa có phiếu nào để in lại.", "There is nothing to reprint yet."),
}
#: state -> the staff panel's words at a glance (a msgid; the full message,
#: with what to do, comes with a print's outcome). The heartbeat sends the
#: state's code; the town server has its own words for it (sync.protocol.DEVICE_STATES).
GLANCE = {
    "ok": "sẵn sàng",
    "paper_low": "sắp hết giấy",
    "paper_out": "hết giấy, xin thay cuộn mới",
    "offline": "không phản hồi: kiểm tra nguồn, nắp và đèn báo lỗi",
    "timeout": "không nhận dữ liệu: tắt rồi bật lại máy in",
    "absent": "không tìm thấy máy in (kiểm tra dây cáp, nguồn)",
    "error": "lỗi cổng máy in: nhờ cán bộ CNTT kiểm tra [printer] port",
    "not_configured": "chưa kết nối: nhờ cán bộ CNTT kết nối máy in ([printer] port)",
    "printing": "đang in",
}
#: States in which a job can be printed.
PRINTABLE = ("ok", "paper_low")


def unconfigured_state() -> dict:
    """What Printer.state() says when the kiosk has no printer at all."""
    vi, en = MESSAGES["not_configured"]
    return {"state": "not_configured", "message_vi": vi, "message_en": en, "last_job": None}


class PrinterError(Exception):
    """A print that did not happen; ``state`` says why, messages say what to do."""

    def __init__(self, state: str, port: str = "", detail: str = ""):
        vi, en = MESSAGES[state]
        self.state = state
        self.message_vi = vi.format(port=port, detail=detail)
        self.message_en = en.format(port=port, detail=detail)
        super().__init__(f"{self.message_vi} / {self.message_en}")


@dataclass
class PrintJob:
    """What was (or should have been) printed last: enough to print it again."""

    kind: str
    png: bytes
    ref: str | None = None
    token: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    printed: bool = False

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.png))

    def to_json(self) -> str:
        data = asdict(self)
        data["png"] = base64.b64encode(self.png).decode("ascii")
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "PrintJob":
        data = json.loads(text)
        data["png"] = base64.b64decode(data["png"])
        return cls(**data)


class _Serial(EscposSerial):
    """python-escpos' serial printer, with reads and writes bounded in time.

    Status replies are one byte (the stock driver waits for 16), and the
    write timeout grows with the size of what is sent at the port's speed.
    """

    write_slack = 3.0

    def _read(self) -> bytes:
        return self.device.read(1)

    def _raw(self, msg: bytes) -> None:
        self.device.write_timeout = self.write_slack + len(msg) * 10 * 1.5 / self.baudrate
        self.device.write(msg)


class Printer:
    """One ESC/POS printer on a serial port; thread-safe (UI and heartbeat)."""

    def __init__(self, port: str, baudrate: int = 9600, profile: str = "default",
                 timeout: float = 3, check_status: bool = True, store=None,
                 status_timeout: float | None = None, save_dir=None, utc_offset: str = "+07:00"):
        self.port = port
        self.utc_offset = utc_offset     # a job's time, as the kiosk's clock reads it
        #: a folder every printed job is saved to as PNG (the only output when port is "")
        self.save_dir = Path(save_dir) if save_dir else None
        self.saved: list[Path] = []
        self.baudrate = baudrate
        self.profile = profile
        self.timeout = timeout
        self.check_status = check_status
        self.status_timeout = status_timeout if status_timeout is not None else min(timeout, 1.0)
        self.store = store
        self._lock = threading.Lock()
        self._last_job: PrintJob | None = None
        self._last_state = "ok"

    @classmethod
    def from_config(cls, cfg, store=None) -> "Printer":
        p = cfg.printer
        return cls(p["port"], p["baudrate"], p["profile"], p["timeout"],
                   p.get("check_status", True), store, save_dir=cfg.print_dir,
                   utc_offset=cfg.kiosk["utc_offset"])

    # -- the connection ----------------------------------------------------------

    def _error(self, state: str, detail: str = "") -> PrinterError:
        self._last_state = state
        return PrinterError(state, self.port, detail)

    def _open(self) -> _Serial:
        if not self.port:
            raise self._error("not_configured")
        if not os.path.exists(self.port):
            raise self._error("absent")
        try:
            dev = _Serial(devfile=self.port, baudrate=self.baudrate, timeout=self.status_timeout,
                          profile=self.profile)
        except KeyError:
            raise self._error("error", f"unknown printer profile {self.profile!r}") from None
        dev.write_slack = self.timeout
        try:
            dev.open()
        except escpos_errors.DeviceNotFoundError as exc:
            if not os.path.exists(self.port):
                raise self._error("absent") from None
            raise self._error("error", str(exc).splitlines()[-1].strip()) from None
        return dev

    @staticmethod
    def _close(dev: _Serial) -> None:
        # Not dev.close(): its flush() (tcdrain) can block on a stuck printer.
        with contextlib.suppress(Exception):
            if dev._device:
                dev._device.close()
        dev._device = False

    def _query(self, dev: _Serial) -> str:
        """The printer's state from its real-time status bytes."""
        if not self.check_status:
            return "ok"
        dev.device.reset_input_buffer()
        if not dev.is_online():  # no reply within status_timeout, or the offline bit
            return "offline"
        paper = dev.paper_status()
        return {0: "paper_out", 1: "paper_low"}.get(paper, "ok")

    def _io_error(self, exc: Exception) -> PrinterError:
        if isinstance(exc, serial.SerialTimeoutException):
            return self._error("timeout")
        if not os.path.exists(self.port):
            return self._error("absent")
        return self._error("offline")

    # -- what the staff panel, heartbeat and commands use ------------------------------

    def state(self) -> dict:
        """{"state", "message_vi", "message_en", "last_job"}: never raises.

        While a job is being sent (up to a minute at 9600 baud) it does not
        wait: it answers "printing" at once, so a heartbeat is never held up.
        """
        if not self.port and self.save_dir is not None:
            state = "ok"
        elif not self._lock.acquire(timeout=0.2):
            state = "printing"
        else:
            try:
                try:
                    dev = self._open()
                except PrinterError as exc:
                    state = exc.state
                else:
                    try:
                        state = self._query(dev)
                    except (serial.SerialException, OSError) as exc:
                        state = self._io_error(exc).state
                    finally:
                        self._close(dev)
                self._last_state = state
            finally:
                self._lock.release()
        vi, en = MESSAGES[state]
        job = self.last_job()
        return {"state": state, "message_vi": vi.format(port=self.port, detail=""),
                "message_en": en.format(port=self.port, detail=""),
                "last_job": None if job is None else {
                    "kind": job.kind, "ref": job.ref, "printed": job.printed,
                    "created_at": job.created_at}}

    def print_image(self, image: Image.Image, kind: str = "receipt", ref: str | None = None,
                    token: str | None = None) -> PrintJob:
        """Keep the job, then print it; raises PrinterError (the job stays for reprint).

        Blocks until the last byte is written: a UI calls it from a worker thread.
        """
        from kiosk.config import local_now
        from kiosk.render import save_png
        buf = io.BytesIO()
        save_png(image, buf)             # with the paper's text, for a saved copy
        job = PrintJob(kind=kind, png=buf.getvalue(), ref=ref, token=token,
                       created_at=local_now(self.utc_offset).isoformat())
        self._keep(job)
        self._send(job)
        return job

    def reprint_last(self) -> PrintJob:
        job = self.last_job()
        if job is None:
            raise PrinterError("no_job")
        self._send(job)
        return job

    def last_job(self) -> PrintJob | None:
        if self._last_job is None and self.store is not None:
            text = self.store.get_meta(META_LAST_JOB)
            if text:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    self._last_job = PrintJob.from_json(text)
        return self._last_job

    # -- inside -------------------------------------------------------------------

    def _keep(self, job: PrintJob) -> None:
        self._last_job = job
        if self.store is not None:
            self.store.set_meta(META_LAST_JOB, job.to_json())

    def _save(self, job: PrintJob) -> Path:
        """The job as a PNG in save_dir (and a receipt's QR text beside it); its path."""
        from kiosk.render import save_png
        self.save_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromisoformat(job.created_at).strftime("%Y%m%d-%H%M%S")
        ref = re.sub(r"[^A-Za-z0-9.-]+", "_", job.ref or "")[:40]
        name = "-".join(part for part in (stamp, re.sub(r"[^a-z_]+", "_", job.kind), ref) if part)
        path = self.save_dir / f"{name}.png"
        save_png(job.image(), path)
        if job.token:
            path.with_suffix(".qr.txt").write_text(job.token + "\n", "ascii")
        self.saved.append(path)
        log.info("printed %s to %s", job.kind, path)
        print(f"hailong: printed {job.kind} {job.ref or ''} -> {path}"
              + (f"\n         its QR code's text: {path.with_suffix('.qr.txt')}" if job.token else ""),
              file=sys.stderr, flush=True)
        return path

    def _send(self, job: PrintJob) -> None:
        if not self.port and self.save_dir is not None:     # a printer made of files
            with self._lock:
                self._save(job)
            job.printed = True
            self._keep(job)
            return
        self._send_serial(job)
        if self.save_dir is not None:
            with contextlib.suppress(OSError):
                self._save(job)

    def _send_serial(self, job: PrintJob) -> None:
        image = job.image()
        with self._lock:
            dev = self._open()
            try:
                max_px = dev.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
                if isinstance(max_px, int) and image.width > max_px:
                    raise self._error("too_wide", f"{image.width} > {max_px} dots")
                state = self._query(dev)
                if state not in PRINTABLE:
                    raise self._error(state)
                dev._raw(ESC_INIT)
                # python-escpos prints a note on stdout for profiles without a width.
                with contextlib.redirect_stdout(io.StringIO()):
                    dev.image(image, impl="bitImageRaster")
                dev.cut()
            except (serial.SerialException, OSError) as exc:
                raise self._io_error(exc) from None
            finally:
                self._close(dev)
            self._last_state = state
        job.printed = True
        self._keep(job)
