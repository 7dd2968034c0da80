"""`hailong admin kiosk-bundle` on both engines (issue 14): what the bundle holds, the token it rotates, refusals.

The kiosk's side (`hailong kiosk provision`) is tested in tests/kiosk/test_provision.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT
from sqlalchemy import select

from sync import bundle
from sync.cli_i18n import _
from sync.server.admin_cli import admin
from sync.server.core.db import kiosks, make_engine
from sync.server.core.security import token_hash

#: the command line's language is read once, at import: the words expected follow it (0 Vietnamese, 1 English)
LANG = 0 if _.language == "vi" else 1
DEMO_ROSTER = ROOT / "assets" / "demo" / "roster.json"


def cli(*args):
    return CliRunner().invoke(admin, list(map(str, args)))


@pytest.fixture
def town(town_db, tmp_path):
    media = tmp_path / "media"
    assert cli("--db", town_db, "import-roster", DEMO_ROSTER, "--media", media).exit_code == 0
    done = cli("--db", town_db, "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json")
    assert done.exit_code == 0, done.output
    return {"db": town_db, "media": media, "k1": json.loads(done.stdout)}


def make(town, out: Path, *extra):
    return cli("--db", town["db"], "kiosk-bundle", "--kiosk-id", "K1", "--out", out, "--media", town["media"], *extra)


def stored_token_hash(db) -> str:
    engine = make_engine(str(db))
    try:
        with engine.connect() as conn:
            return conn.execute(select(kiosks.c.token_hash).where(kiosks.c.id == "K1")).scalar_one()
    finally:
        engine.dispose()


def test_a_bundle_holds_what_the_kiosk_needs_sealed_and_rotates_its_token(town, tmp_path):
    out = tmp_path / "K1.hlk"
    done = make(town, out, "--desk", "quay-1", "--server-url", "https://hailong.xa-dongtam.gov.vn/")
    assert done.exit_code == 0, done.output
    passphrase = done.stdout.strip()
    assert len(passphrase) == 23 and passphrase.count("-") == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    raw = out.read_bytes()
    assert town["k1"]["key"].encode() not in raw and "Nguyễn".encode() not in raw   # nothing secret in clear
    header = bundle.read_header(raw)
    assert (header["kiosk_id"], header["desk_id"], header["credentials"]) == ("K1", "quay-1", True)
    contents = bundle.open_bundle(raw, passphrase)
    assert contents["server"]["url"] == "https://hailong.xa-dongtam.gov.vn"
    assert contents["server"]["key"] == town["k1"]["key"]
    new_token = contents["server"]["token"]
    assert new_token != town["k1"]["token"]
    assert stored_token_hash(town["db"]) == token_hash(new_token)       # the old token no longer works
    officers = {o["id"]: o for o in contents["config"]["roster"]["officers"]}
    assert len(officers) == 5
    photo = bundle.photo_bytes(officers["cb-001"])
    assert hashlib.sha256(photo).hexdigest() == officers["cb-001"]["photo_sha256"]
    assert len(contents["config"]["receipt_key"]) == 64
    with pytest.raises(bundle.BundleError):
        bundle.open_bundle(raw, "AAAAA-BBBBB-CCCCC-DDDDD")


def test_a_roster_only_bundle_changes_nothing_on_the_server(town, tmp_path):
    before = stored_token_hash(town["db"])
    done = make(town, tmp_path / "r.hlk", "--desk", "quay-2", "--roster-only")
    assert done.exit_code == 0, done.output
    contents = bundle.open_bundle((tmp_path / "r.hlk").read_bytes(), done.stdout.strip())
    assert "server" not in contents and contents["kiosk"]["desk_id"] == "quay-2"
    assert stored_token_hash(town["db"]) == before == token_hash(town["k1"]["token"])


@pytest.mark.parametrize("extra,status,words", [
    (("--server-url", "http://x"), 2, ("có 2 quầy", "has 2 desks")),
    (("--desk", "quay-9", "--server-url", "http://x"), 2, ("không có quầy 'quay-9'", "no desk 'quay-9'")),
    (("--desk", "quay-1"), 2, ("Thiếu --server-url", "Missing --server-url")),
    (("--desk", "quay-1", "--server-url", "ftp://x"), 2, ("bắt đầu bằng http://", "starting with http://")),
    (("--desk", "quay-1", "--server-url", "http://a b"), 2, ("bắt đầu bằng http://", "starting with http://")),
], ids=["two-desks", "unknown-desk", "no-url", "ftp-url", "space-in-url"])
def test_refusals_name_what_is_wrong_and_keep_the_token(town, tmp_path, extra, status, words):
    out = tmp_path / "K1.hlk"
    done = make(town, out, *extra)
    assert done.exit_code == status and words[LANG] in done.output, done.output
    assert not out.exists()
    assert stored_token_hash(town["db"]) == token_hash(town["k1"]["token"])


def test_unknown_and_revoked_kiosks(town, tmp_path):
    done = cli("--db", town["db"], "kiosk-bundle", "--kiosk-id", "K9", "--out", tmp_path / "x", "--server-url",
               "http://x")
    assert done.exit_code == 2 and "K9" in done.output, done.output
    assert cli("--db", town["db"], "revoke-kiosk", "--kiosk-id", "K1").exit_code == 0
    done = make(town, tmp_path / "x", "--desk", "quay-1", "--server-url", "http://x")
    assert done.exit_code == 1 and ("đã bị thu hồi", "is revoked")[LANG] in done.output, done.output


def test_the_kiosks_page_makes_the_bundle_and_shows_the_passphrase_once(tmp_path, town_db):
    import re

    import requests
    from town import Town, csrf_of, session_for

    from sync import protocol
    t = Town(tmp_path, db=town_db)
    try:
        s = session_for(t, "an", "mật-khẩu-quản-trị")
        page = s.get(t.url + "/admin/kiosks", timeout=30).text
        assert "/admin/kiosks?bundle=ki-ot-1#bundle" in page
        form = s.get(t.url + "/admin/kiosks?bundle=ki-ot-1", timeout=30)
        assert form.status_code == 200 and 'value="quay-2"' in form.text and f'value="{t.url}"' in form.text
        token = csrf_of(form.text)
        config_url = t.url + protocol.PATH_CONFIG.format(kiosk_id="ki-ot-1")

        def config_status(kiosk_token):
            return requests.get(config_url, headers={"Authorization": f"Bearer {kiosk_token}"}, timeout=30).status_code

        bad = s.post(t.url + "/admin/kiosks/ki-ot-1/bundle", timeout=30,
                     data={"csrf": token, "desk_id": "quay-2", "server_url": "javascript:alert(1)"})
        assert bad.status_code == 422 and 'id="bundle-error"' in bad.text and "javascript:alert(1)" in bad.text
        assert config_status(t.kiosk_token) == 200                # refused: the kiosk keeps its token
        done = s.post(t.url + "/admin/kiosks/ki-ot-1/bundle", timeout=30,
                      data={"csrf": token, "desk_id": "quay-2", "server_url": t.url})
        assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
        shown = re.search(r'data-testid="passphrase">(.*?)</code>', done.text).group(1)
        passphrase = re.sub(r"<[^>]+>", "", shown)           # as the admin reads it: groups of five
        data = re.search(r'download="ki-ot-1.hlk" href="data:application/octet-stream;base64,([^"]+)"', done.text)
        contents = bundle.open_bundle(base64.b64decode(data.group(1)), passphrase)
        assert contents["kiosk"]["desk_id"] == "quay-2" and contents["server"]["url"] == t.url
        assert config_status(contents["server"]["token"]) == 200 and config_status(t.kiosk_token) == 401
        revoked = s.post(t.url + "/admin/kiosks/ki-ot-cu/bundle", timeout=30,
                         data={"csrf": token, "desk_id": "quay-1", "server_url": t.url})
        assert revoked.status_code == 404
    finally:
        t.stop()
