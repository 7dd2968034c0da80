"""The one retry rule (sync/retry.py) and `hailong pull`'s use of it, without a server."""
from __future__ import annotations

import pytest
import requests
import tenacity

from sync import pull
from sync.retry import RETRY_STATUS, BackoffWait, TransientError


def test_backoff_is_full_jitter_under_a_doubling_ceiling_or_the_server_s_retry_after():
    slept: list[float] = []
    afters = iter([None, None, 7.0, None, None, None, 500.0, None])

    def fail():
        raise TransientError("busy", next(afters))

    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(TransientError),
                                 wait=BackoffWait(0.5, 4, after_cap=30), stop=tenacity.stop_after_attempt(8),
                                 sleep=slept.append, reraise=True)
    with pytest.raises(TransientError):
        retrying(fail)
    assert len(slept) == 7
    ceilings = [0.5, 1, None, 4, 4, 4, 30]           # attempt n: min(cap, 0.5·2ⁿ⁻¹); Retry-After as given, capped
    for wait, ceiling, after in zip(slept, ceilings, [None, None, 7.0, None, None, None, 500.0]):
        if after is None:
            assert 0 <= wait <= ceiling
        else:
            assert wait == min(after, 30)


class Session:
    """Answers from a script: a status (with Retry-After) or an exception, one a call."""

    def __init__(self, *script):
        self.script, self.calls = list(script), 0

    def get(self, url, params=None, timeout=None):
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        resp = requests.Response()
        resp.status_code, retry_after = step
        if retry_after is not None:
            resp.headers["Retry-After"] = retry_after
        resp._content = b'{"detail": "busy"}'
        return resp


def test_pull_retries_busy_and_silent_servers_then_takes_the_page():
    slept: list[float] = []
    session = Session((503, "2"), requests.ConnectionError("down"), (429, None), (200, None))
    resp = pull._get(session, "http://town/api", {}, 1, 3, "http://town", sleep=slept.append)
    assert resp.status_code == 200 and session.calls == 4
    assert slept[0] == 2 and 0 <= slept[1] <= 1 and 0 <= slept[2] <= 2


def test_pull_reports_what_the_last_try_got_once_the_retries_are_spent():
    busy = Session(*[(503, "0")] * 3)
    assert pull._get(busy, "http://town/api", {}, 1, 2, "http://town", sleep=lambda s: None).status_code == 503
    assert busy.calls == 3
    down = Session(*[requests.Timeout("slow")] * 2)
    with pytest.raises(pull.PullError, match="no answer from http://town: Timeout"):
        pull._get(down, "http://town/api", {}, 1, 1, "http://town", sleep=lambda s: None)
    refused = Session((401, None))                   # not worth a retry: a person must fix the token
    assert pull._get(refused, "http://town/api", {}, 1, 5, "http://town", sleep=lambda s: None).status_code == 401
    assert refused.calls == 1 and 401 not in RETRY_STATUS
