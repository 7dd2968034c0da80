"""systemd's notify protocol (sd_notify): READY=1 once up, WATCHDOG=1 while alive. No Kivy.

Under a unit with ``Type=notify`` and ``WatchdogSec=``, systemd passes
``NOTIFY_SOCKET`` (a path, or an abstract name starting with ``@``) and
``WATCHDOG_USEC``; a process that stops sending ``WATCHDOG=1`` within that
time is killed and restarted (``Restart=on-failure``). Outside systemd
NOTIFY_SOCKET is unset and every call here does nothing.

The kiosk app sends READY=1 after its first frame is on the screen and
WATCHDOG=1 from a Kivy Clock event at half the interval (kiosk/ui/app.py),
so a hung main loop stops the pings; ``hailong sync`` pings from its main
thread while its agent's thread lives (kiosk/sync_commands.py).

The sdnotify package is not used: its last release is from 2017, and the
protocol is one datagram on an AF_UNIX socket.
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Mapping

log = logging.getLogger(__name__)


def socket_address(env: Mapping[str, str] | None = None) -> str | bytes | None:
    """NOTIFY_SOCKET as socket.sendto takes it (an abstract ``@name`` → ``b"\\0name"``), or None."""
    value = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
    if not value or value[0] not in "/@":
        return None
    return b"\0" + value[1:].encode() if value[0] == "@" else value


def watchdog_seconds(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """How often to send WATCHDOG=1: half of WATCHDOG_USEC, or None when systemd asks for no watchdog.

    WATCHDOG_PID, when set, names the process systemd watches: this one, or its
    parent (the kiosk runs under cage, which is the unit's main process; the
    unit then says NotifyAccess=all).
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    watched = env.get("WATCHDOG_PID")
    if watched:
        me = os.getpid() if pid is None else pid
        if watched.strip() not in (str(me), str(os.getppid())):
            return None
    return usec / 1e6 / 2


class Notifier:
    """Sends notify messages to systemd; a no-op outside it. Never raises."""

    def __init__(self, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.address = socket_address(env)
        self.interval = watchdog_seconds(env) if self.address is not None else None
        self.sent: list[str] = []      # what was sent (counts for tests and logs)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> bool:
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message.encode("utf-8"), self.address)
        except OSError as exc:
            log.warning("systemd notify %r not sent: %s", message, exc)
            return False
        if len(self.sent) < 1000:
            self.sent.append(message)
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
