"""Helpers every test folder shares: where things are, a free port, waiting on a condition.

tests/ is on sys.path for every test (pytest puts the folder of
tests/conftest.py there), so any test, helper or benchmark imports these as
``from helpers import ROOT, free_port, wait_until``; a server
subprocess is ``start_server(db, port)`` (``stop(proc)`` ends it).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
VECTORS = TESTS / "vectors"
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 20, what: str | None = None, step: float = 0.02):
    """Call ``predicate`` until it returns something truthy; return that value.

    Raises AssertionError naming ``what`` (or the predicate) after ``timeout`` seconds.
    """
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(step)


def http_ok(url: str) -> bool:
    """True when a GET of ``url`` answers 2xx (False while nothing listens yet)."""
    import requests
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def start_server(db: Path, port: int, *extra: str, log: Path | None = None, timeout: float = 60,
                 **popen) -> subprocess.Popen:
    """Start ``hailong server --db DB --port PORT`` (cwd ROOT); return once /healthz answers.

    Its output goes to ``log`` (appended) when given. If it exits before it
    answers, raises AssertionError with the end of its log.
    """
    popen.setdefault("cwd", ROOT)
    popen.setdefault("env", {**os.environ, "PYTHONPATH": str(ROOT)})
    if "://" in str(db) and "--media" not in extra:
        # a database URL has no folder for the photos: the server would use ./media of the checkout
        import tempfile
        extra = (*extra, "--media", str(Path(tempfile.mkdtemp(prefix="hailong-media-")) / "media"))
    fh = None
    if log is not None:
        fh = open(log, "ab")
        popen.setdefault("stdout", fh)
        popen.setdefault("stderr", fh)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "hailong", "server", "--db", str(db), "--port", str(port),
                                 "--log-level", "warning", *extra], **popen)
    finally:
        if fh is not None:
            fh.close()
    wait_for_server(proc, f"http://127.0.0.1:{port}", timeout, log)
    return proc


def wait_for_server(proc: subprocess.Popen, url: str, timeout: float = 60, log: Path | None = None,
                    path: str = "/healthz") -> None:
    """Wait until GET ``url + path`` answers 2xx; fail at once if ``proc`` has exited."""
    def up():
        if proc.poll() is not None:
            tail = log.read_text("utf-8", "replace")[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"server exited with {proc.returncode} before it answered: {tail}")
        return http_ok(url + path)
    wait_until(up, timeout, what=f"{url}{path}", step=0.05)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a child; kill it if it does not exit within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def x_window_names(display: str) -> list[str]:
    """The names of the top-level windows on X display ``display`` (e.g. ":99"), through libX11.

    For a test that must wait until an app's window is up (Kivy names its
    window after the App's title once build() ran).
    """
    import ctypes
    import ctypes.util

    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                               ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                               ctypes.POINTER(ctypes.c_uint)]

    class TextProperty(ctypes.Structure):
        _fields_ = [("value", ctypes.c_void_p), ("encoding", ctypes.c_ulong), ("format", ctypes.c_int),
                    ("nitems", ctypes.c_ulong)]
    x11.XGetWMName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(TextProperty)]
    x11.XFree.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise AssertionError(f"cannot open X display {display}")
    try:
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        if not x11.XQueryTree(dpy, x11.XDefaultRootWindow(dpy), ctypes.byref(root), ctypes.byref(parent),
                              ctypes.byref(children), ctypes.byref(n)):
            return []
        names = []
        for i in range(n.value):
            prop = TextProperty()      # WM_NAME, as STRING or UTF8_STRING (SDL's); 8-bit text either way
            if x11.XGetWMName(dpy, children[i], ctypes.byref(prop)) and prop.value:
                if prop.format == 8:
                    names.append(ctypes.string_at(prop.value, prop.nitems).decode("utf-8", "replace"))
                x11.XFree(prop.value)
        if children:
            x11.XFree(children)
        return names
    finally:
        x11.XCloseDisplay(dpy)


class FakeClock:
    """Seconds that move only when the test says (``clock.advance(5)`` or ``clock.now = …``)."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
