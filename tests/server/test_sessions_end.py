"""Page sessions end on the server: sign-out, a new password, a role change, removing the user.

A cookie copied before any of these opens nothing afterwards; an account
deleted and created again under the same name is not opened by an old
cookie. Against the real app under uvicorn (tests/faultproxy.ServerThread),
the admin commands run through click as an admin would type them.
"""
from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner
from faultproxy import ServerThread
from town import csrf_of

from sync.server.commands import admin
from sync.server.core.admin_ops import AdminError, create_user, delete_user, set_password, set_role


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ServerThread(tmp_path_factory.mktemp("sessions") / "town.db")
    with srv.engine.begin() as conn:
        create_user(conn, "an", "admin", "mật-khẩu-an-1")
        create_user(conn, "binh", "admin", "mật-khẩu-binh-1")
    yield srv
    srv.stop()


def sign_in(server, username, password) -> requests.Session:
    s = requests.Session()
    token = csrf_of(s.get(server.url + "/login", timeout=10).text)
    r = s.post(server.url + "/login", data={"csrf": token, "username": username, "password": password,
                                            "next": "/admin/alerts"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/admin/alerts", r.text[:300]
    return s


def opens(server, cookie: str) -> bool:
    r = requests.get(server.url + "/admin/alerts", cookies={"hailong_session": cookie}, allow_redirects=False,
                     timeout=10)
    assert r.status_code in (200, 303), r.status_code
    return r.status_code == 200


def cli(server, *args, stdin=None):
    db = str(server.app.state.engine.url.database)
    out = CliRunner().invoke(admin, ["--db", db, *args], input=stdin)
    return out


def test_a_cookie_copied_before_sign_out_no_longer_works(server):
    s = sign_in(server, "an", "mật-khẩu-an-1")
    copied = s.cookies["hailong_session"]
    other = sign_in(server, "an", "mật-khẩu-an-1")            # a second browser of the same user
    assert opens(server, copied) and opens(server, other.cookies["hailong_session"])
    page = s.get(server.url + "/admin/alerts", timeout=10).text
    r = s.post(server.url + "/logout", data={"csrf": csrf_of(page)}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert not opens(server, copied)
    assert not opens(server, other.cookies["hailong_session"])   # every session of the user ended
    assert opens(server, sign_in(server, "an", "mật-khẩu-an-1").cookies["hailong_session"])


def test_a_new_password_ends_the_sessions(server):
    cookie = sign_in(server, "binh", "mật-khẩu-binh-1").cookies["hailong_session"]
    assert opens(server, cookie)
    out = cli(server, "set-password", "--username", "binh", "--password-stdin", stdin="mật-khẩu-binh-2\n")
    assert out.exit_code == 0, out.output
    assert not opens(server, cookie)
    sign_in(server, "binh", "mật-khẩu-binh-2")


def test_a_role_change_ends_the_sessions(server):
    cookie = sign_in(server, "an", "mật-khẩu-an-1").cookies["hailong_session"]
    assert opens(server, cookie)
    out = cli(server, "set-role", "--username", "an", "--role", "viewer")
    assert out.exit_code == 0 and "now viewer" in out.output, out.output
    assert not opens(server, cookie)
    out = cli(server, "set-role", "--username", "an", "--role", "admin")
    assert out.exit_code == 0, out.output


def test_removed_then_recreated_account_is_not_opened_by_an_old_cookie(server):
    with server.engine.begin() as conn:
        create_user(conn, "chi", "admin", "mật-khẩu-chi-1")
    cookie = sign_in(server, "chi", "mật-khẩu-chi-1").cookies["hailong_session"]
    assert opens(server, cookie)
    out = cli(server, "delete-user", "--username", "chi")
    assert out.exit_code == 0, out.output
    assert not opens(server, cookie)
    with server.engine.begin() as conn:     # the same name, even the same password
        create_user(conn, "chi", "admin", "mật-khẩu-chi-1")
    assert not opens(server, cookie)


def test_the_commands_refuse_unknown_users_and_short_passwords(server):
    assert cli(server, "delete-user", "--username", "không-có").exit_code == 2
    assert cli(server, "set-role", "--username", "không-có", "--role", "admin").exit_code == 2
    out = cli(server, "set-password", "--username", "an", "--password-stdin", stdin="ngắn\n")
    assert out.exit_code == 1 and "at least 8" in out.output
    with server.engine.begin() as conn, pytest.raises(AdminError):
        set_role(conn, "an", "root")
    with server.engine.begin() as conn, pytest.raises(AdminError):
        set_password(conn, "không-có", "đủ-dài-rồi")
    with server.engine.begin() as conn, pytest.raises(AdminError):
        delete_user(conn, "không-có")


def test_removing_a_user_removes_their_api_tokens(server):
    with server.engine.begin() as conn:
        create_user(conn, "dung", "viewer", "mật-khẩu-dung-1")
    token = cli(server, "create-token", "--username", "dung").output.strip()
    ok = requests.get(server.url + "/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert ok.status_code == 200
    assert cli(server, "delete-user", "--username", "dung").exit_code == 0
    with server.engine.begin() as conn:
        create_user(conn, "dung", "viewer", "mật-khẩu-dung-1")
    gone = requests.get(server.url + "/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 401
