"""The one retry rule of the sync agent and ``hailong pull``: tenacity with full jitter.

Both retry through ``tenacity.Retrying`` with :class:`BackoffWait`: the wait
before retry n is random between 0 and min(cap, base·2ⁿ⁻¹) ("full jitter",
so a town's kiosks coming back online after an outage do not all knock at
the same instant), unless the failure carries the server's Retry-After,
which is honoured (up to its own cap). Only stdlib, requests' Response and
tenacity here: the kiosk's agent and an admin's laptop both import it.
"""
from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import tenacity

#: answers worth another try: request timeout, too many requests, the server's or a proxy's trouble
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class TransientError(Exception):
    """Worth retrying: no link, timeout, or the server asked to come back later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def retry_after(resp) -> float | None:
    """A response's Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


class BackoffWait(tenacity.wait.wait_base):
    """Full jitter (random between 0 and base·2ⁿ⁻¹, capped at ``cap``), or the server's Retry-After.

    The Retry-After is read from the failed attempt's exception
    (``exc.retry_after``, as :class:`TransientError` carries it) and capped at
    ``after_cap`` (default: ``cap``).
    """

    def __init__(self, base: float, cap: float, after_cap: float | None = None):
        self.base, self.cap = base, cap
        self.after_cap = cap if after_cap is None else after_cap

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(after, self.after_cap)
        ceiling = min(self.cap, self.base * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)
