"""Shared fixtures: a virtual screen (Xvfb) for tests that open real windows.

`make test` runs plain pytest with no wrapper, so a test that needs a
display asks for the ``xvfb`` fixture: one Xvfb per session, on a display
number Xvfb picks itself (-displayfd), so parallel runs never collide.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

# The command line speaks the environment's language, Vietnamese unless it says English
# (sync/cli_i18n.py). Tests read its English messages; this process and every `hailong` they
# start inherit LANGUAGE=en. tests/test_cli_language.py sets the language of its own runs.
os.environ["LANGUAGE"] = "en"


@pytest.fixture(scope="session")
def xvfb():
    """Start ``Xvfb -screen 0 1280x800x24 +extension GLX``; yields the environment for windowed children.

    The returned dict is a copy of os.environ with DISPLAY and Kivy's quiet
    settings (no argv parsing, no console/file log, no ~/.kivy config) set;
    DISPLAY is also set in this process for the session.
    """
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (Debian package xvfb; `make system-packages` installs it)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "+extension", "GLX",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        proc.kill()
        pytest.fail("Xvfb did not start (no display number reported)")
    display = f":{number.decode().strip()}"
    kivy_home = tempfile.mkdtemp(prefix="kivy-home-")
    env = dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
               KIVY_NO_FILELOG="1", KIVY_NO_CONFIG="1", KIVY_HOME=kivy_home,
               SDL_AUDIODRIVER="dummy")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield env
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(kivy_home, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts():
    """test-artifacts/<area>/ folders (git-ignored): ``artifacts("kiosk")``."""
    def folder(area: str) -> Path:
        path = ARTIFACTS / area
        path.mkdir(parents=True, exist_ok=True)
        return path
    return folder


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for the session (tests/pg.py), started on first use."""
    from pg import Cluster
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()
