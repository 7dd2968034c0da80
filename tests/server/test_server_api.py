"""Kiosk config (ETag), photos, heartbeat, the admin API and `hailong admin` on a real server."""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
import requests
from faultproxy import ServerThread, sealed_ratings
from helpers import ROOT
from sqlalchemy import select

from sync import protocol
from sync.server.core.admin_ops import (
    create_token,
    create_user,
    enrol_kiosk,
    import_roster,
)
from sync.server.core.db import kiosks

DEMO = ROOT / "assets" / "demo" / "roster.json"


@pytest.fixture
def town(tmp_path, town_db):
    server = ServerThread(town_db, media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        server.k9 = enrol_kiosk(conn, "K9", "99999")
        import_roster(conn, DEMO, tmp_path / "media")
        create_user(conn, "chi.lan", "admin", "mật khẩu dài")
        create_user(conn, "xem", "viewer", "password-viewer")
        server.admin_token = create_token(conn, "chi.lan")
        server.viewer_token = create_token(conn, "xem")
    yield server
    server.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_config_has_roster_survey_and_receipt_key_with_etag(town):
    url = town.url + protocol.PATH_CONFIG.format(kiosk_id="K1")
    r = requests.get(url, headers=bearer(town.k1["token"]), timeout=5)
    assert r.status_code == 200
    cfg, etag = r.json(), r.headers["ETag"]
    assert cfg["kiosk_id"] == "K1" and cfg["scale"] == 3
    assert [u["name"] for u in cfg["roster"]["units"]] == ["UBND xã Đồng Tâm"]
    officers = {o["id"]: o for o in cfg["roster"]["officers"]}
    assert officers["cb-001"]["name"] == "Nguyễn Thị Hồng Nhung"
    assert protocol.check_pin("111111", officers["cb-001"]["pin_hash"])
    assert "111111" not in r.text
    assert [x["code"] for x in cfg["reasons"]][:2] == ["thai_do", "huong_dan"]
    assert len(cfg["receipt_key"]) == 64
    again = requests.get(url, headers={**bearer(town.k1["token"]), "If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.headers["ETag"] == etag
    with town.engine.begin() as conn:  # a roster change changes the ETag
        from sync.server.core.db import officers as officers_t
        conn.execute(officers_t.update().where(officers_t.c.id == "cb-002").values(title="Phó Chủ tịch"))
    changed = requests.get(url, headers={**bearer(town.k1["token"]), "If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_config_is_only_for_the_token_s_kiosk_and_by_unit(town):
    url = town.url + protocol.PATH_CONFIG.format(kiosk_id="K1")
    assert requests.get(url, headers=bearer(town.k9["token"]), timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 401
    other = requests.get(town.url + protocol.PATH_CONFIG.format(kiosk_id="K9"), headers=bearer(town.k9["token"]),
                         timeout=5).json()
    assert other["roster"]["officers"] == []  # unit 99999 has no desks in the roster


def test_photo_served_with_kiosk_token(town):
    cfg = requests.get(town.url + protocol.PATH_CONFIG.format(kiosk_id="K1"), headers=bearer(town.k1["token"]),
                       timeout=5).json()
    officer = cfg["roster"]["officers"][0]
    assert officer["photo"] == "/api/v1/photos/" + officer["id"]       # resolved against the server URL
    photo = requests.get(town.url + officer["photo"], headers=bearer(town.k1["token"]), timeout=5)
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/png"
    assert hashlib.sha256(photo.content).hexdigest() == officer["photo_sha256"]
    assert requests.get(town.url + officer["photo"], timeout=5).status_code == 401
    missing = requests.get(town.url + "/api/v1/photos/nobody", headers=bearer(town.k1["token"]), timeout=5)
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_heartbeat_is_stored_on_the_kiosk_row(town):
    url = town.url + protocol.PATH_HEARTBEAT.format(kiosk_id="K1")
    beat = {"last_seq": 42, "pending": 7, "quarantined": 1, "kiosk_time": "2026-03-02T09:15:00+07:00",
            "version": "0.1.0", "printer": "no_paper", "scanner": "ok"}
    r = requests.post(url, json=beat, headers=bearer(town.k1["token"]), timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["acked_through"] == 0
    with town.engine.connect() as conn:
        row = conn.execute(select(kiosks).where(kiosks.c.id == "K1")).mappings().one()
    assert (row["last_seq"], row["pending"], row["printer_state"], row["scanner_state"]) == (42, 7, "no_paper", "ok")
    assert row["last_seen"] and row["clock_skew"] is not None
    bad = requests.post(url, json={**beat, "pending": -1}, headers=bearer(town.k1["token"]), timeout=5)
    assert bad.status_code == 422 and "pending" in bad.json()["detail"]
    bad = requests.post(url, json={**beat, "kiosk_time": "noon"}, headers=bearer(town.k1["token"]), timeout=5)
    assert bad.status_code == 422 and "kiosk_time" in bad.json()["detail"]
    other = requests.post(url, json=beat, headers=bearer(town.k9["token"]), timeout=5)
    assert other.status_code == 403


def _send(town, n):
    recs = sealed_ratings("K1", town.k1["key"], n)
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00", "ratings": recs}).encode())
    r = requests.post(town.url + protocol.PATH_BATCH, data=body, timeout=10, headers={
        **bearer(town.k1["token"]), "Idempotency-Key": str(uuid.uuid4()), "Content-Encoding": "gzip"})
    assert r.status_code == 200
    return recs


def test_admin_pull_pages_with_cursor(town):
    recs = _send(town, 25)
    url = town.url + protocol.PATH_RATINGS
    got, after = [], None
    while True:
        page = requests.get(url, params={"after": after, "limit": 10}, headers=bearer(town.admin_token), timeout=5).json()
        got += page["ratings"]
        if page["next"] is None:
            break
        after = page["next"]
    assert [r["id"] for r in got] == [r["id"] for r in recs]
    assert set(got[0]) == set(protocol.RECORD_FIELDS) | {"received_at", "server_flags"}
    assert got[0]["server_flags"] == []
    assert {k: got[3][k] for k in protocol.RECORD_FIELDS} == recs[3]
    more = requests.get(url, params={"after": after}, headers=bearer(town.viewer_token), timeout=5).json()
    assert more == {"ratings": [], "next": None}


def test_admin_page_sqlite_json_matches_the_portable_one(town, engine_name):
    if engine_name != "sqlite":
        pytest.skip("page_sqlite is SQLite's own JSON (json_object); PostgreSQL uses the portable page")
    """The SQLite page (json_object) and the Python one (other databases) are the same bytes."""
    from sync.server.api.ratings import page_portable, page_sqlite
    recs = sealed_ratings("K1", town.k1["key"], 6)
    recs[1] = protocol.seal({**{k: recs[1][k] for k in protocol.BODY_FIELDS},
                             "comment": 'Chờ "rất" lâu tab\nxuống dòng \\ 😀', "reasons": ["thai_do", "huong_dan"]},
                            recs[0]["hash"], town.k1["key"])
    recs[2:] = sealed_ratings("K1", town.k1["key"], 4, start_seq=3, prev_hash=recs[1]["hash"])
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00", "ratings": recs}).encode())
    r = requests.post(town.url + protocol.PATH_BATCH, data=body, timeout=10, headers={
        **bearer(town.k1["token"]), "Idempotency-Key": str(uuid.uuid4()), "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["acked_through"] == 6, r.text
    with town.engine.connect() as conn:
        for start, limit in ((0, 10), (1, 2), (6, 5)):
            assert page_sqlite(conn, start, limit) == page_portable(conn, start, limit)
    page = requests.get(town.url + protocol.PATH_RATINGS, params={"limit": 3}, headers=bearer(town.admin_token),
                        timeout=5)
    assert page.headers["content-type"] == "application/json" and page.json()["next"] == "3"
    assert {k: page.json()["ratings"][1][k] for k in protocol.RECORD_FIELDS} == recs[1]


@pytest.mark.parametrize("token,status,words", [
    (None, 401, "missing bearer token"), ("ha_nope", 401, "unknown API token"),
    ("KIOSK", 403, "kiosk token cannot use the admin API"),
])
def test_admin_api_refuses_kiosk_and_unknown_tokens(town, token, status, words):
    headers = bearer(town.k1["token"] if token == "KIOSK" else token) if token else {}
    r = requests.get(town.url + protocol.PATH_RATINGS, headers=headers, timeout=5)
    assert r.status_code == status and words in r.json()["detail"]


@pytest.mark.parametrize("params,words", [({"after": "abc"}, "after"), ({"limit": 0}, "limit"),
                                          ({"limit": 100000}, "limit")])
def test_admin_api_bad_query(town, params, words):
    r = requests.get(town.url + protocol.PATH_RATINGS, params=params, headers=bearer(town.admin_token), timeout=5)
    assert r.status_code in (400, 422) and words in r.json()["detail"]


def test_openapi_document_lists_the_protocol(town):
    doc = requests.get(town.url + "/openapi.json", timeout=5).json()
    for path in (protocol.PATH_BATCH, protocol.PATH_CONFIG, protocol.PATH_HEARTBEAT, protocol.PATH_RATINGS):
        assert path in doc["paths"]
    body = doc["paths"][protocol.PATH_BATCH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["kiosk_id", "sent_at", "ratings"]


# --- hailong admin ------------------------------------------------------------------

def hailong(*args, stdin=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "hailong", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd or ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


def test_admin_commands_end_to_end(town_db, tmp_path):
    db = str(town_db)
    out = hailong("admin", "--db", db, "enrol-kiosk", "--kiosk-id", "DT-MC-01", "--unit", "13321", "--json")
    assert out.returncode == 0, out.stderr
    enrolled = json.loads(out.stdout)
    assert enrolled["kiosk_id"] == "DT-MC-01" and len(enrolled["key"]) == 64 and enrolled["token"]
    int(enrolled["key"], 16)
    out = hailong("admin", "--db", db, "create-user", "--username", "an", "--role", "admin", "--password-stdin",
                  stdin="một mật khẩu\n")
    assert out.returncode == 0, out.stderr
    out = hailong("admin", "--db", db, "create-token", "--username", "an", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["token"]
    # beside town.db by default; a database URL has no folder, so its photos' folder is named
    media = [] if town_db == tmp_path / "town.db" else ["--media", str(tmp_path / "media")]
    out = hailong("admin", "--db", db, "import-roster", str(DEMO), *media)
    assert out.returncode == 0 and "5 officers" in out.stdout
    assert len(list((tmp_path / "media").glob("*.png"))) == 5
    # clear errors, no tracebacks
    for args, words in [
        (("enrol-kiosk", "--kiosk-id", "DT-MC-01", "--unit", "13321"), "already enrolled"),
        (("enrol-kiosk", "--kiosk-id", "bad id!", "--unit", "13321"), "kiosk id"),
        (("create-token", "--username", "ghost"), "no user"),
        (("create-user", "--username", "b", "--role", "root", "--password-stdin"), "role"),
        (("revoke-kiosk", "--kiosk-id", "nope"), "no kiosk"),
        (("import-roster", str(tmp_path / "missing.json")), "no such file"),
        (("set-receipt-key", "--key", "xyz"), "64 hexadecimal"),
    ]:
        out = hailong("admin", "--db", db, *args, stdin="x\n")
        assert out.returncode != 0, args
        assert words in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    out = hailong("admin", "--db", str(tmp_path), "enrol-kiosk", "--kiosk-id", "A", "--unit", "1")
    assert out.returncode == 1 and "cannot open the database" in out.stderr and "Traceback" not in out.stderr


def test_import_roster_csv_and_xlsx(town_db, tmp_path):
    from openpyxl import Workbook

    from sync.server.core.db import make_engine, migrate, officers
    engine = make_engine(str(town_db))
    migrate(engine)
    csv_path = tmp_path / "can_bo.csv"
    csv_path.write_text("id,name,title,desk_id,desk_name,unit_code,unit_name,pin\n"
                        "cb-101,Đặng Thị Thu Hà,Công chức Tư pháp,quay-9,Quầy 9,13321,UBND xã Đồng Tâm,123456\n",
                        "utf-8")
    with engine.begin() as conn:
        counts = import_roster(conn, csv_path, tmp_path / "media")
    assert counts["officers"] == 1 and counts["desks"] == 1 and counts["units"] == 1
    book = Workbook()
    sheet = book.active
    sheet.title = "officers"
    sheet.append(["id", "name", "title", "desk_id", "pin"])
    sheet.append(["cb-102", "Bùi Văn Khoa", "Công chức Địa chính", "quay-9", 567890])
    xlsx = tmp_path / "roster.xlsx"
    book.save(xlsx)
    with engine.begin() as conn:
        import_roster(conn, xlsx, tmp_path / "media")
        rows = {r.id: r for r in conn.execute(select(officers))}
    assert rows["cb-101"].name == "Đặng Thị Thu Hà"
    assert protocol.check_pin("567890", rows["cb-102"].pin_hash)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,desk_id\ncb-103,Ai đó,quay-404\n", "utf-8")
    from sync.server.core.admin_ops import AdminError
    with engine.begin() as conn, pytest.raises(AdminError, match="quay-404"):
        import_roster(conn, bad, tmp_path / "media")
    engine.dispose()
