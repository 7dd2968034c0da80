"""Helpers every test folder shares: where things are, a free port, waiting on a condition.

tests/ is on sys.path for every test (pytest puts the folder of
tests/conftest.py there), so any test, helper or benchmark imports these as
``from helpers import ROOT, free_port, wait_until``.
"""
from __future__ import annotations

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


def hailong_server(db: Path, port: int, *extra: str, **popen) -> subprocess.Popen:
    """Start ``hailong server --db DB --port PORT`` (cwd ROOT); wait until /healthz answers.

    If the process exits before it answers, raises RuntimeError with its output
    (when stdout was captured).
    """
    popen.setdefault("cwd", ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "hailong.cli", "server", "--db", str(db), "--port", str(port),
                             "--log-level", "warning", *extra], **popen)
    wait_for_server(proc, f"http://127.0.0.1:{port}")
    return proc


def wait_for_server(proc: subprocess.Popen, url: str, timeout: float = 60) -> None:
    """Wait until ``url``/healthz answers; fail early if ``proc`` has exited."""
    def up():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode} before it answered: {out}")
        return http_ok(url + "/healthz")
    wait_until(up, timeout, what=f"{url}/healthz", step=0.1)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a child; kill it if it does not exit within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
