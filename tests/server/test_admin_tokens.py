"""`hailong admin revoke-token`: a revoked API token gets 401 at once, on a real server over HTTP."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from faultproxy import ServerThread
from helpers import ROOT

from sync import protocol


def hailong(db, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(db), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def ok(db, *args, stdin=None) -> str:
    out = hailong(db, *args, stdin=stdin)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def town(town_db, tmp_path):
    db = town_db
    ok(db, "migrate")     # a new town: `create-user` refuses a --db that does not exist
    ok(db, "create-user", "--username", "chị.lan", "--role", "admin", "--password-stdin", stdin="mật khẩu dài\n")
    ok(db, "create-user", "--username", "xem", "--role", "viewer", "--password-stdin", stdin="password-viewer\n")
    tokens = {name: [json.loads(ok(db, "create-token", "--username", name, "--json"))["token"] for _ in range(2)]
              for name in ("chị.lan", "xem")}
    kiosk = json.loads(ok(db, "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json"))
    server = ServerThread(db)
    server.db, server.tokens, server.kiosk_token = db, tokens, kiosk["token"]
    yield server
    server.stop()


def status(town, token) -> int:
    return requests.get(town.url + protocol.PATH_RATINGS, headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code


def test_revoked_token_gets_401_others_keep_working(town):
    first, second = town.tokens["chị.lan"]
    assert status(town, first) == 200
    out = hailong(town.db, "revoke-token", "--token", first)
    assert out.returncode == 0 and out.stdout.strip() == "API token revoked", out.stderr
    r = requests.get(town.url + protocol.PATH_RATINGS, headers={"Authorization": f"Bearer {first}"}, timeout=10)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert status(town, second) == 200 and status(town, town.tokens["xem"][0]) == 200
    again = hailong(town.db, "revoke-token", "--token", first)
    assert again.returncode == 0 and "already revoked" in again.stdout


def test_revoke_all_of_a_user(town):
    out = hailong(town.db, "revoke-token", "--username", "chị.lan")
    assert out.returncode == 0 and out.stdout.strip() == "2 API token(s) of chị.lan revoked", out.stderr
    assert [status(town, t) for t in town.tokens["chị.lan"]] == [401, 401]
    assert [status(town, t) for t in town.tokens["xem"]] == [200, 200]
    again = hailong(town.db, "revoke-token", "--username", "chị.lan")
    assert again.returncode == 0 and "no API token left" in again.stdout


@pytest.mark.parametrize("args,words", [
    (["--token", "ha_not-a-real-token"], "no such API token"),
    (["--username", "nobody"], "no user 'nobody'"),
])
def test_unknown_token_or_user_exits_2(town, args, words):
    out = hailong(town.db, "revoke-token", *args)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
    assert all(status(town, t) == 200 for ts in town.tokens.values() for t in ts)


def test_kiosk_token_and_bad_usage_are_refused(town):
    out = hailong(town.db, "revoke-token", "--token", town.kiosk_token)
    assert out.returncode == 2 and "revoke-kiosk" in out.stderr
    for args in ([], ["--token", "x", "--username", "xem"]):
        out = hailong(town.db, "revoke-token", *args)
        assert out.returncode == 2 and "either --token" in out.stderr
    assert status(town, town.tokens["xem"][0]) == 200
