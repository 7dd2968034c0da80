"""Failed sign-ins on the admin pages, counted per username and per client IP.

After ``MAX_PER_USER`` failures for one username, or ``MAX_PER_IP`` from one
address, within ``WINDOW`` seconds, further attempts are refused without
looking at the password until the oldest of those failures is older than the
window (a sliding window: guessing stays at a few tries per quarter hour).
Unknown usernames count like known ones, so the refusal says nothing about
who exists. The per-IP limit is higher because a commune office signs in from
behind one NAT address.

Kept in memory, per server process: a restart forgets the counts, which is
fine for slowing down guessing (the town server runs as one process).
"""
from __future__ import annotations

import threading
import time
from collections import deque

from sync.protocol import nfc

WINDOW = 15 * 60
MAX_PER_USER = 5
MAX_PER_IP = 20
_MAX_KEYS = 10_000   # memory bound under a flood of made-up usernames


class SignInLimiter:
    def __init__(self, window: float = WINDOW, per_user: int = MAX_PER_USER, per_ip: int = MAX_PER_IP,
                 clock=time.monotonic):
        self.window, self.clock = window, clock
        self.limits = {"user": per_user, "ip": per_ip}
        self._failures: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, ip: str | None) -> list[tuple[str, str]]:
        name = nfc(username.strip()).casefold()
        return [("user", name), ("ip", ip or "?")]

    def _recent(self, key, now) -> deque:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, ip: str | None) -> float:
        """Seconds until this username may try again from this address; 0 when it may now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in self._keys(username, ip):
                times = self._recent(key, now)
                limit = self.limits[key[0]]
                if len(times) >= limit:
                    # free again when the failure that filled the window ages out
                    wait = max(wait, times[-limit] + self.window - now)
        return wait

    def failed(self, username: str, ip: str | None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= _MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
            for key in self._keys(username, ip):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while len(times) > self.limits[key[0]]:
                    times.popleft()

    def succeeded(self, username: str) -> None:
        """A right password clears the username's count (not the address's)."""
        with self._lock:
            self._failures.pop(self._keys(username, None)[0], None)
