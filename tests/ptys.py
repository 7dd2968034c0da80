"""Real serial ports for tests: pty pairs, a fake ESC/POS printer, a fake scanner.

The code under test opens the pty's slave path with pyserial, exactly as it
opens /dev/ttyUSB0 on a kiosk; the fake device sits on the master side.
A symlink stands for the port's stable name (like /dev/serial/by-id/...),
so a port can vanish and come back at the same path.
"""
from __future__ import annotations

import copy
import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image


class PtyPort:
    """One pty pair; ``link`` (optional) is a symlink naming the slave."""

    def __init__(self, link: Path | None = None):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.slave_path = os.ttyname(self.slave)
        self.link = link
        if link is not None:
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(self.slave_path)
        self.closed = False

    @property
    def path(self) -> str:
        return str(self.link) if self.link is not None else self.slave_path

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self, unlink: bool = True) -> None:
        """The device goes away: master and slave closed, the symlink removed."""
        if self.closed:
            return
        self.closed = True
        if unlink and self.link is not None and self.link.is_symlink():
            self.link.unlink()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


# -- a fake ESC/POS printer ------------------------------------------------------

@dataclass
class Raster:
    width_bytes: int
    height: int
    data: bytes

    def image(self) -> Image.Image:
        """The printed dots as an image: bit 1 = a black dot."""
        bits = Image.frombytes("1", (self.width_bytes * 8, self.height), self.data)
        # In PIL's "1" mode a set bit is white, on paper it is a black dot.
        return Image.eval(bits.convert("L"), lambda p: 255 - p)


class ParseError(AssertionError):
    pass


@dataclass
class Printed:
    """What the fake printer understood, in order."""

    commands: list = field(default_factory=list)
    rasters: list = field(default_factory=list)

    def jobs(self) -> list[Image.Image]:
        """One image per job (rasters between ESC @ and the cut, stacked)."""
        out, current = [], []
        for cmd in self.commands:
            if cmd[0] == "raster":
                current.append(cmd[1])
            elif cmd[0] == "cut" and current:
                out.append(stack(current))
                current = []
        return out


def stack(rasters: list[Raster]) -> Image.Image:
    imgs = [r.image() for r in rasters]
    width = max(i.width for i in imgs)
    canvas = Image.new("L", (width, sum(i.height for i in imgs)), 255)
    y = 0
    for img in imgs:
        canvas.paste(img, (0, y))
        y += img.height
    return canvas


class FakePrinter:
    """An ESC/POS printer on the master side of a pty.

    Parses the byte stream as it comes (so a status query inside image data
    is not mistaken for one), answers DLE EOT 1 and DLE EOT 4 per ``paper``
    ("ok", "low", "out") and ``online``, and records every command. With
    ``stall_after_status`` it stops reading once it has answered the paper
    query: a printer that hangs mid-job. ``answer=False``: it reads but never
    answers (a dead printer).
    """

    def __init__(self, port: PtyPort, paper: str = "ok", online: bool = True, answer: bool = True,
                 stall_after_status: bool = False):
        self.port = port
        self.paper = paper
        self.online = online
        self.answer = answer
        self.stall_after_status = stall_after_status
        self.printed = Printed()
        self.errors: list[str] = []
        self.status_queries = 0
        self._buf = bytearray()
        self._stop = threading.Event()
        self._stalled = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._stalled:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select([self.port.master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self.port.master, 65536)
            except OSError:
                time.sleep(0.01)  # the app side is closed for now; it will reopen
                continue
            self._buf += data
            self._parse()

    def _reply(self, n: int) -> None:
        self.status_queries += 1
        if not self.answer:
            return
        if n == 1:
            byte = 0x12 | (0 if self.online else 0x08)
        elif n == 4:
            byte = {"ok": 0x12, "low": 0x1E, "out": 0x72}[self.paper]
            if self.stall_after_status:
                self._stalled = True
        else:
            byte = 0x12
        os.write(self.port.master, bytes([byte]))

    def _parse(self) -> None:
        b = self._buf
        while b:
            c = b[0]
            if c == 0x1B:  # ESC
                if len(b) < 2:
                    return
                if b[1] == 0x40:  # ESC @
                    self.printed.commands.append(("init",))
                    del b[:2]
                elif b[1] in (0x64, 0x4A):  # ESC d n / ESC J n: feed
                    if len(b) < 3:
                        return
                    self.printed.commands.append(("feed", b[2]))
                    del b[:3]
                else:
                    self._bad(b)
            elif c == 0x10:  # DLE EOT n
                if len(b) < 3:
                    return
                if b[1] != 0x04:
                    self._bad(b)
                    continue
                n = b[2]
                del b[:3]
                self.printed.commands.append(("status", n))
                self._reply(n)
            elif c == 0x1D:  # GS
                if len(b) < 2:
                    return
                if b[1] == 0x76:  # GS v 0 m xL xH yL yH d...
                    if len(b) < 8:
                        return
                    if b[2] != 0x30:
                        self._bad(b)
                        continue
                    wb = b[4] | b[5] << 8
                    h = b[6] | b[7] << 8
                    if len(b) < 8 + wb * h:
                        return
                    r = Raster(wb, h, bytes(b[8:8 + wb * h]))
                    self.printed.rasters.append(r)
                    self.printed.commands.append(("raster", r, b[3]))
                    del b[:8 + wb * h]
                elif b[1] == 0x56:  # GS V m [n]
                    if len(b) < 3:
                        return
                    size = 4 if b[2] in (65, 66) else 3
                    if len(b) < size:
                        return
                    self.printed.commands.append(("cut", b[2]))
                    del b[:size]
                else:
                    self._bad(b)
            elif c == 0x0A:
                self.printed.commands.append(("lf",))
                del b[:1]
            else:
                self._bad(b)

    def _bad(self, b: bytearray) -> None:
        self.errors.append(f"unexpected bytes {bytes(b[:8]).hex(' ')}")
        del b[:1]


# -- a kiosk with the demo roster, for the receipt tests ---------------------------

RECEIPT_KEY = "a0" * 32
KIOSK_KEY = "b1" * 32


def write_kiosk(tmp_path: Path, **sections) -> tuple:
    """config.toml + kiosk.db with the demo roster; returns (cfg, store)."""
    from kiosk.config import load
    from kiosk.roster import load_roster_file
    from kiosk.store import KioskStore

    conf = {"kiosk": {"id": "DT-MC-01", "unit_code": "13321", "desk_id": "quay-1", "db": "kiosk.db"},
            "receipt": {"key": RECEIPT_KEY}}
    for name, values in sections.items():
        conf.setdefault(name, {}).update(values)
    lines = []
    for name, values in conf.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, (int, float)):
                lines.append(f"{key} = {value}")
            elif isinstance(value, dict):
                inner = ", ".join(f'"{k}" = "{v}"' for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f'{key} = "{value}"')
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    cfg = load(path)
    store = KioskStore(cfg.db_path, cfg.kiosk["id"], KIOSK_KEY)
    store.init()
    global _ROSTER
    if _ROSTER is None:  # hashing the demo PINs (scrypt) once is enough
        _ROSTER = load_roster_file()
    store.apply_roster(copy.deepcopy(_ROSTER))
    return cfg, store


_ROSTER = None
