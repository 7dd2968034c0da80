"""systemd's notify protocol (kiosk/watchdog.py) over real AF_UNIX datagram sockets, and `hailong sync` under it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import ROOT, free_port

from kiosk.watchdog import Notifier, socket_address, watchdog_seconds

KEY = "ab" * 32


@pytest.fixture
def listener(tmp_path):
    """A datagram socket standing in for systemd's /run/systemd/notify."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    yield path, sock
    sock.close()


def test_messages_arrive_in_order(listener):
    path, sock = listener
    notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "3000000"})
    assert notifier.enabled and notifier.interval == 1.5
    assert notifier.ready(status="kiosk up") and notifier.ping() and notifier.stopping()
    assert [sock.recv(4096) for _ in range(3)] == [b"READY=1\nSTATUS=kiosk up", b"WATCHDOG=1", b"STOPPING=1"]


def test_abstract_socket_names(tmp_path):
    name = f"hailong-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(10)
    try:
        assert socket_address({"NOTIFY_SOCKET": "@" + name}) == b"\0" + name.encode()
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ping()
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_outside_systemd_nothing_happens(tmp_path):
    for env in ({}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/path"}):
        notifier = Notifier(env)
        assert not notifier.enabled and notifier.interval is None
        assert notifier.ready() is False and notifier.ping() is False and notifier.sent == []
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    assert gone.enabled and gone.ping() is False                  # systemd gone: logged, never raised


@pytest.mark.parametrize("env,seconds", [
    ({"WATCHDOG_USEC": "20000000"}, 10.0),
    ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}, 10.0),
    ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getppid())}, 10.0),   # cage is the unit's main pid
    ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),                   # another process is watched
    ({"WATCHDOG_USEC": "0"}, None), ({"WATCHDOG_USEC": "soon"}, None), ({}, None),
])
def test_watchdog_interval_is_half_of_what_systemd_asks(env, seconds):
    assert watchdog_seconds(env) == seconds


def test_the_sync_agents_device_state_carries_health(tmp_path):
    from kiosk.config import check
    from kiosk.health import KEYS
    from kiosk.store import KioskStore
    from kiosk.sync_commands import health_state
    cfg = check({"kiosk": {"id": "DT-MC-01", "unit_code": "13321", "desk_id": "quay-1", "key": KEY}},
                tmp_path / "config.toml")
    store = KioskStore.from_config(cfg)
    store.init()
    state = health_state(cfg, store)()
    assert list(state) == ["health"] and list(state["health"]) == list(KEYS)
    assert state["health"]["uptime_s"] < 60 and state["health"]["taps_outside_hours"] == 0


def test_hailong_sync_says_ready_then_pings_and_stopping_on_sigterm(tmp_path, listener):
    """The standalone agent (hailong-sync.service): READY=1 once its agent runs, WATCHDOG=1 while it lives,
    STOPPING=1 and exit 0 on SIGTERM. The server is down (a closed port): the agent retries, pings go on."""
    path, sock = listener
    config = tmp_path / "config.toml"
    config.write_text('[kiosk]\nid = "DT-MC-01"\nunit_code = "13321"\ndesk_id = "quay-1"\n'
                      f'[server]\nurl = "http://127.0.0.1:{free_port()}"\ntoken = "t"\nkey = "{KEY}"\n', "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "WATCHDOG_PID"}
    env.update(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="1000000")
    proc = subprocess.Popen([sys.executable, "-m", "hailong", "sync", "--config", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = sock.recv(4096).decode()
        assert first.startswith("READY=1\nSTATUS=syncing DT-MC-01 with http://127.0.0.1:")
        assert [sock.recv(4096) for _ in range(3)] == [b"WATCHDOG=1"] * 3
        proc.send_signal(signal.SIGTERM)
        rest = []
        while not rest or rest[-1] != b"STOPPING=1":
            rest.append(sock.recv(4096))
        assert set(rest[:-1]) <= {b"WATCHDOG=1"}
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
