"""Issue 15: a unit's public base URL (its phone rating page), set with ``hailong admin set-public-url``.

Through the real command line (CliRunner on ``hailong``, in English as every test runs it) on both
engines; the kiosk config document (GET /api/v1/kiosks/{id}/config of a real server) carries the
URL of the kiosk's own unit, null for another unit's kiosk; the kiosk bundle's config carries it too.
"""
from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner
from faultproxy import ServerThread

from assets import DEMO
from hailong.cli import main
from sync import bundle, protocol
from sync.server.core import settings
from sync.server.core.db import make_engine

ROSTER = DEMO / "roster.json"
URL = "https://danhgia.xa-dong-tam.gov.vn"


def admin(db, *args, stdin=None):
    return CliRunner().invoke(main, ["admin", "--db", str(db), *args], input=stdin)


def ok(db, *args, stdin=None):
    result = admin(db, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def town(town_db):
    """The demo roster (unit 13321) plus a second unit 99999, kiosks K1 (13321) and K9 (99999)."""
    db = town_db
    ok(db, "import-roster", str(ROSTER))
    engine = make_engine(str(db))
    try:
        from sync.server.core.db import units
        with engine.begin() as conn:
            conn.execute(units.insert().values(code="99999", name="UBND xã Khác"))
    finally:
        engine.dispose()
    return db


def held(db) -> dict:
    engine = make_engine(str(db))
    try:
        with engine.connect() as conn:
            return settings.public_base_urls(conn)
    finally:
        engine.dispose()


def test_set_then_clear(town):
    out = ok(town, "set-public-url", "--unit", "13321", "--url", URL + "/").output
    assert URL in out and "13321" in out
    assert held(town) == {"13321": URL}                      # the trailing / is dropped
    ok(town, "set-public-url", "--unit", "99999", "--url", "http://192.168.1.10:8080/hailong")
    assert held(town) == {"13321": URL, "99999": "http://192.168.1.10:8080/hailong"}
    out = ok(town, "set-public-url", "--unit", "13321", "--clear").output
    assert "HL1" in out
    assert held(town) == {"99999": "http://192.168.1.10:8080/hailong"}
    ok(town, "set-public-url", "--unit", "13321", "--clear")  # clearing twice is fine
    assert held(town) == {"99999": "http://192.168.1.10:8080/hailong"}


@pytest.mark.parametrize("url,words", [
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("ftp://danhgia.example.vn", "must start with http:// or https://"),
    ("https://danhgia.example.vn/?unit=13321", "query"),
    ("https://danhgia.example.vn/#top", "fragment"),
    ("https://danhgia.example.vn/" + "a" * 200, "at most 200"),
    ("https://danh gia.example.vn", "spaces"),
    ("https://", "no host"),
    ("https://an:secret@danhgia.example.vn", "user name or password"),
    ("https://danhgia.example.vn:99999", "not a valid address"),
    ("", "empty"),
])
def test_a_url_a_receipt_cannot_carry_is_refused_naming_what_is_wrong(town, url, words):
    ok(town, "set-public-url", "--unit", "13321", "--url", URL)
    result = admin(town, "set-public-url", "--unit", "13321", "--url", url)
    assert result.exit_code == 1, result.output
    assert "--url" in result.output and words in result.output, result.output
    assert "Traceback" not in result.output
    assert held(town) == {"13321": URL}                      # nothing written


def test_an_unknown_unit_is_refused_naming_it(town):
    result = admin(town, "set-public-url", "--unit", "00000", "--url", URL)
    assert result.exit_code == 2, result.output
    assert "00000" in result.output and "13321" in result.output
    assert held(town) == {}


@pytest.mark.parametrize("args", [[], ["--url", URL, "--clear"]], ids=["neither", "both"])
def test_url_or_clear_exactly_one(town, args):
    result = admin(town, "set-public-url", "--unit", "13321", *args)
    assert result.exit_code == 2 and "--clear" in result.output, result.output


def test_a_missing_db_is_refused_and_no_file_made(tmp_path):
    db = tmp_path / "tpyo.db"
    result = admin(db, "set-public-url", "--unit", "13321", "--url", URL)
    assert result.exit_code == 2 and f"No database {db}" in result.output
    assert not db.exists()


def test_valid_public_url_rules():
    assert settings.valid_public_url(" https://a.vn/x/ ") == "https://a.vn/x"
    assert settings.valid_public_url("HTTP://10.0.0.2:8080") == "HTTP://10.0.0.2:8080"
    longest = "https://a.vn/" + "p" * (settings.PUBLIC_URL_MAX - len("https://a.vn/"))
    assert settings.valid_public_url(longest) == longest
    for bad in (None, 42, "data:text/html,x", "https://a.vn/\u202e", longest + "p"):
        with pytest.raises(settings.BadPublicURL):
            settings.valid_public_url(bad)
    # the longest receipt a kiosk issues, with the longest base URL, is one the scanner still reads
    fields = protocol.receipt_fields("u" * 64, "d" * 64, "o" * 64, "h" * 64, "p" * 64, 2_000_000_000)
    fields["a"] = "2027-12-31"
    assert len(protocol.make_receipt_token(fields, "ab" * 32, longest)) <= protocol.RECEIPT_TOKEN_MAX


def test_the_config_document_carries_the_url_of_the_kiosks_unit_only(town, tmp_path):
    k1 = ok(town, "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json").output
    k9 = ok(town, "enrol-kiosk", "--kiosk-id", "K9", "--unit", "99999", "--json").output
    import json
    k1, k9 = json.loads(k1), json.loads(k9)
    ok(town, "set-public-url", "--unit", "13321", "--url", URL)
    server = ServerThread(town, media_dir=tmp_path / "media")
    try:
        def config(kiosk):
            r = requests.get(f"{server.url}{protocol.PATH_CONFIG.format(kiosk_id=kiosk['kiosk_id'])}",
                             headers={"Authorization": f"Bearer {kiosk['token']}"}, timeout=10)
            assert r.status_code == 200, r.text
            return r.json(), r.headers["ETag"]

        doc1, etag1 = config(k1)
        doc9, _ = config(k9)
        assert doc1["public_base_url"] == URL
        assert "public_base_url" in doc9 and doc9["public_base_url"] is None
        # clearing it changes the document (and its ETag): the kiosk fetches it anew and prints HL1.…
        ok(town, "set-public-url", "--unit", "13321", "--clear")
        doc1, etag2 = config(k1)
        assert doc1["public_base_url"] is None and etag2 != etag1
    finally:
        server.stop()


def test_the_kiosk_bundle_carries_it(town, tmp_path):
    ok(town, "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json")
    ok(town, "set-public-url", "--unit", "13321", "--url", URL)
    out = tmp_path / "K1.hlk"
    result = ok(town, "kiosk-bundle", "--kiosk-id", "K1", "--desk", "quay-1", "--server-url",
                "https://hailong.xa-dong-tam.gov.vn", "--out", str(out), "--passphrase-stdin",
                stdin="một cụm mật khẩu đủ dài cho tệp\n")
    assert out.exists(), result.output
    contents = bundle.open_bundle(out.read_bytes(), "một cụm mật khẩu đủ dài cho tệp")
    assert contents["config"]["public_base_url"] == URL


def test_the_kiosks_page_sets_a_units_url_and_a_unit_admin_only_their_own(town, tmp_path):
    from town import csrf_of, session_for
    pw = "mật khẩu dài\n"
    ok(town, "create-user", "--username", "an", "--role", "admin", "--password-stdin", stdin=pw)
    ok(town, "create-user", "--username", "xa", "--role", "admin", "--unit", "99999", "--password-stdin", stdin=pw)
    ok(town, "create-user", "--username", "xem", "--role", "viewer", "--password-stdin", stdin=pw)
    ok(town, "set-public-url", "--unit", "99999", "--url", "https://khac.example.vn")
    server = ServerThread(town, media_dir=tmp_path / "media")
    try:
        s = session_for(server, "an", pw.strip())
        page = s.get(server.url + "/admin/kiosks", timeout=10)
        assert 'name="public_url:13321"' in page.text and 'value="https://khac.example.vn"' in page.text
        # a URL a receipt cannot carry: 422, the form as typed, the unit named, nothing written
        bad = s.post(server.url + "/admin/kiosks/public-url", allow_redirects=False, timeout=10, data={
            "csrf": csrf_of(page.text), "public_url:13321": "javascript:alert(1)",
            "public_url:99999": "https://khac.example.vn"})
        assert bad.status_code == 422 and "13321" in bad.text and 'aria-invalid="true"' in bad.text
        assert "javascript:alert(1)" in bad.text
        assert held(town) == {"99999": "https://khac.example.vn"}
        saved = s.post(server.url + "/admin/kiosks/public-url", allow_redirects=False, timeout=10, data={
            "csrf": csrf_of(bad.text), "public_url:13321": URL + "/", "public_url:99999": ""})
        assert saved.status_code == 303 and "public_url=saved" in saved.headers["location"]
        assert held(town) == {"13321": URL}
        # the commune's admin sees and sets their unit only; another unit's field is ignored
        x = session_for(server, "xa", pw.strip())
        page = x.get(server.url + "/admin/kiosks", timeout=10)
        assert 'name="public_url:99999"' in page.text and 'name="public_url:13321"' not in page.text
        assert URL not in page.text
        r = x.post(server.url + "/admin/kiosks/public-url", allow_redirects=False, timeout=10, data={
            "csrf": csrf_of(page.text), "public_url:99999": "https://xa.example.vn", "public_url:13321": ""})
        assert r.status_code == 303
        assert held(town) == {"13321": URL, "99999": "https://xa.example.vn"}
        # a viewer sees the addresses, has no form, and may not post
        v = session_for(server, "xem", pw.strip())
        page = v.get(server.url + "/admin/kiosks", timeout=10)
        assert 'action="/admin/kiosks/public-url"' not in page.text and "13321 → " + URL in page.text
        r = v.post(server.url + "/admin/kiosks/public-url", allow_redirects=False, timeout=10,
                   data={"csrf": csrf_of(page.text), "public_url:13321": ""})
        assert r.status_code == 403
        assert held(town) == {"13321": URL, "99999": "https://xa.example.vn"}
    finally:
        server.stop()
