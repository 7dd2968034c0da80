"""Sign-in rate limiting on the admin pages, over HTTP against a real server on 127.0.0.1.

Five wrong passwords for one username within 15 minutes lock that username
(even the right password is refused, with the same message whether the user
exists or not); twenty failures from one address lock the address.
"""
from __future__ import annotations

import re

import pytest
import requests
from faultproxy import ServerThread

from sync.server.core.admin_ops import create_user
from sync.server.web.signin_limit import MAX_PER_IP, MAX_PER_USER, SignInLimiter

PASSWORD = "mật khẩu đúng"
LOCKED = "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau"
WRONG = "Sai tên đăng nhập hoặc mật khẩu."


@pytest.fixture
def town(town_db, tmp_path):
    server = ServerThread(town_db)
    with server.engine.begin() as conn:
        create_user(conn, "chị.lan", "admin", PASSWORD)
        create_user(conn, "bình", "viewer", PASSWORD)
    yield server
    server.stop()


def sign_in(town, username, password, lang=None):
    """One attempt from a fresh browser session: (status, page text, response)."""
    s = requests.Session()
    if lang:
        s.get(town.url + f"/lang/{lang}?next=/login", timeout=10)
    html = s.get(town.url + "/login", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)[1]
    r = s.post(town.url + "/login", data={"csrf": csrf, "username": username, "password": password,
                                          "next": "/admin"}, allow_redirects=False, timeout=10)
    r.browser = s
    return r.status_code, r.text, r


def error_of(text: str) -> str:
    return re.search(r'<p class="error" role="alert">([^<]*)</p>', text)[1]


def test_five_failures_lock_the_username_not_others(town):
    for _ in range(MAX_PER_USER):
        code, text, _r = sign_in(town, "chị.lan", "sai mật khẩu")
        assert code == 401 and error_of(text) == WRONG
    code, text, r = sign_in(town, "chị.lan", PASSWORD)       # the right password, too late
    assert code == 429 and error_of(text).startswith(LOCKED) and "15 phút" in error_of(text)
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    page = r.browser.get(town.url + "/admin", allow_redirects=False, timeout=10)   # not signed in
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # the same name typed differently (NFD, capitals, spaces) is the same username
    import unicodedata
    code, _t, _r = sign_in(town, "  " + unicodedata.normalize("NFD", "CHỊ.LAN") + " ", PASSWORD)
    assert code == 429
    # another user from the same address still signs in
    code, _t, r = sign_in(town, "bình", PASSWORD)
    assert code == 303 and r.headers["location"] == "/admin"


def test_same_refusal_whether_the_user_exists(town):
    for name in ("chị.lan", "không-có-ai"):
        for _ in range(MAX_PER_USER):
            code, text, _r = sign_in(town, name, "sai mật khẩu")
            assert code == 401 and error_of(text) == WRONG
    exists = sign_in(town, "chị.lan", "sai")
    missing = sign_in(town, "không-có-ai", "sai")
    assert exists[0] == missing[0] == 429
    assert error_of(exists[1]) == error_of(missing[1])
    english = sign_in(town, "chị.lan", PASSWORD, lang="en")
    assert english[0] == 429 and error_of(english[1]).startswith("Too many failed sign-ins")


def test_many_failures_from_one_address_lock_the_address(town):
    for i in range(MAX_PER_IP):
        code, _t, _r = sign_in(town, f"đoán-{i}", "sai")
        assert code == 401, i
    code, text, _r = sign_in(town, "bình", PASSWORD)      # a user with no failures of its own
    assert code == 429 and error_of(text).startswith(LOCKED)


def test_a_right_password_clears_the_count_and_the_lock_ends():
    now = [1000.0]
    limiter = SignInLimiter(clock=lambda: now[0])
    for _ in range(MAX_PER_USER - 1):
        limiter.failed("an", "10.0.0.1")
    limiter.succeeded("an")
    limiter.failed("an", "10.0.0.1")
    assert limiter.retry_after("an", "10.0.0.2") == 0          # one failure since the success
    for _ in range(MAX_PER_USER):
        now[0] += 60
        limiter.failed("an", "10.0.0.1")
    assert limiter.retry_after("an", "10.0.0.2") == pytest.approx(15 * 60 - 4 * 60)
    now[0] += 15 * 60 - 4 * 60
    assert limiter.retry_after("an", "10.0.0.2") == 0          # the oldest failure aged out
