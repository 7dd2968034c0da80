"""The evidence pack from a running town: `hailong admin evidence-pack`, the page /admin/evidence, and
`hailong verify-pack` on what they write.

The town (tests/town.py) received the hand-checked ratings from kiosk
ki-ot-1 over HTTP; a second kiosk, ki-ot-2, sent November ratings with seq 4
missing (the server raised a gap alert) and one of its ratings has its time
put right into September (outside the quarter): the pack must account for
both breaks, and verify-pack must list them, not hide them.
"""
from __future__ import annotations

import io
import json
import os
import re
import dbtools
import stat
import subprocess
import sys
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from helpers import ROOT
from town import Town, csrf_of, hailong, session_for

from sync import cli_i18n, evidence, protocol
from sync.server.core import db

PERIOD = "2026-Q4"
SECOND = "ki-ot-2"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in cli_i18n.ENV_VARS}
    return subprocess.run([sys.executable, "-m", "hailong.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**env, "PYTHONPATH": str(ROOT)})


def _second_kiosk(town: Town) -> None:
    """ki-ot-2: seqs 1, 2, 3, 5, 6 in November (4 never sent: a gap alert), seq 2's time later put right
    into September (outside the quarter), and the roll-up folded again as the server would hold it."""
    from sync.server.core import rollup
    from sync.server.core.settings import survey
    kiosk = json.loads(hailong(town.db, "admin", "enrol-kiosk", "--kiosk-id", SECOND, "--unit", "13321", "--json"))
    records, prev = [], protocol.ZERO_HASH
    for seq in range(1, 7):
        rec = {"id": str(uuid.uuid4()), "kiosk_id": SECOND, "seq": seq, "created_at": f"2026-11-1{seq}T09:00:00+07:00",
               "unit_code": "13321", "desk_id": "quay-2", "officer_id": "cb-004", "dossier_code": None,
               "procedure_code": None, "receipt_id": None, "level": 3 if seq % 2 else 1, "reasons": [],
               "comment": "Ý kiến số %d" % seq, "source": "walk_up", "flags": []}
        rec = protocol.seal(rec, prev, kiosk["key"])
        prev = rec["hash"]
        records.append(rec)
    body = {"kiosk_id": SECOND, "sent_at": datetime.now(timezone.utc).isoformat(),
            "ratings": [r for r in records if r["seq"] != 4]}
    r = requests.post(town.url + protocol.PATH_BATCH, json=body, timeout=30, headers={
        "Authorization": f"Bearer {kiosk['token']}", "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 200, r.text
    engine = db.make_engine(str(town.db))
    try:
        with engine.begin() as conn:
            conn.execute(db.ratings.update().where(db.ratings.c.kiosk_id == SECOND, db.ratings.c.seq == 2)
                         .values(corrected_at="2026-09-20T09:00:00+07:00"))
            reasons = survey(conn)["reasons"]
            gaps = conn.execute(db.alerts.select().where(db.alerts.c.kind == "gap",
                                                         db.alerts.c.kiosk_id == SECOND)).all()
        assert [(g.seq_from, g.seq_to) for g in gaps] == [(4, 4)]
        rollup.rebuild(engine, reasons)
    finally:
        engine.dispose()
    town.second_key, town.second_token = kiosk["key"], kiosk["token"]


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("evidence"), db=module_town_db)
    try:
        _second_kiosk(t)
        yield t
    finally:
        t.stop()


@pytest.fixture(scope="module")
def pack(town, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "hoso-2026-Q4.zip"
    done = run("admin", "--db", str(town.db), "evidence-pack", "--period", PERIOD, "--out", str(out))
    assert done.returncode == 0, done.stderr
    town.pack_output = done.stdout
    return out


def public_key(town) -> str:
    with dbtools.connect(town.db) as con:
        (value,) = con.execute("SELECT value FROM settings WHERE key = 'evidence_signing_key'").fetchone()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sync.server.core.signing import public_key_hex
    return public_key_hex(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(json.loads(value))))


def test_the_command_writes_a_private_pack_that_verifies_and_names_the_breaks_it_accounts_for(town, pack):
    key = public_key(town)
    assert "Đã ghi hồ sơ kiểm chứng" in town.pack_output and "14 đánh giá của 2 ki-ốt" in town.pack_output
    assert evidence.key_text(key) in town.pack_output
    assert stat.S_IMODE(pack.stat().st_mode) == 0o600
    assert sorted(p.name for p in pack.parent.iterdir()) == [pack.name]       # no temporary file left
    done = run("verify-pack", str(pack), "--key", key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Hồ sơ nguyên vẹn: 2026-Q4 (Quý IV năm 2026), 14 đánh giá của 2 ki-ốt." in done.stdout
    assert "Chỗ hở đã được giải thích: ki-ốt ki-ot-2: số 2–2 ngoài kỳ báo cáo" in done.stdout
    assert "Chỗ hở đã được giải thích: ki-ốt ki-ot-2: thiếu số 4–4, máy chủ đã cảnh báo" in done.stdout


def test_the_members_are_what_the_web_export_and_hailong_pull_write(town, pack, tmp_path):
    with zipfile.ZipFile(pack) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    assert sorted(files) == sorted([*evidence.MEMBERS, evidence.LOG_CHECKPOINT, evidence.MANIFEST,
                                    evidence.SIGNATURE])
    log = json.loads(files[evidence.LOG_CHECKPOINT])     # the public log as the quarter left it
    assert log["key"] == requests.get(town.url + "/api/v1/log/key", timeout=10).text.strip()
    with dbtools.connect(town.db) as con:     # `hailong admin evidence-pack` signs what the batches left unsigned
        (held,) = con.execute("SELECT count(*) FROM ratings").fetchone()
    assert log["tree_size"] == held and log["note"].split("\n")[1] == str(held)
    # the CSV: byte for byte the dashboard's export of the quarter
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    web = s.get(town.url + f"/admin/export?fmt=csv&period={PERIOD}", timeout=60)
    assert web.status_code == 200 and files[evidence.RATINGS_CSV] == web.content
    # the JSON Lines: each line as `hailong pull --format jsonl` writes it
    pulled = tmp_path / "pulled.jsonl"
    done = run("pull", "--server", town.url, "--token", town.admin_token, "--format", "jsonl", "--out", str(pulled))
    assert done.returncode == 0, done.stderr
    by_id = {json.loads(line)["id"]: line for line in pulled.read_text("utf-8").splitlines()}
    lines = files[evidence.RATINGS_JSONL].decode().splitlines()
    assert len(lines) == 14 and all(by_id[json.loads(line)["id"]] == line for line in lines)
    # the chain heads: the server's own last hashes; where each kiosk's part of the chain starts
    with dbtools.connect(town.db) as con:
        held = {(k, s): h for k, s, h in con.execute("SELECT kiosk_id, seq, hash FROM ratings")}
    chains = {c["kiosk_id"]: c for c in json.loads(files[evidence.CHAINS])["kiosks"]}
    one = chains["ki-ot-1"]
    assert (one["first_seq"], one["first_prev_hash"]) == (2, held[("ki-ot-1", 1)])   # seq 1: 30 September
    assert (one["head_seq"], one["head_hash"]) == (11, held[("ki-ot-1", 11)])         # seq 12: 1 January 2027
    two = chains[SECOND]
    assert two["gaps"] == [{"seq_from": 2, "seq_to": 2, "why": "outside_period"}]
    assert (two["ratings"], two["head_seq"], two["head_hash"]) == (4, 6, held[(SECOND, 6)])
    assert chains["ki-ot-cu"]["ratings"] == 0          # the revoked kiosk never sent anything
    # the gap alert the verifier relies on, the nhũng nhiễu alert of November
    kinds = {(a["kind"], a.get("kiosk_id")) for a in json.loads(files[evidence.ALERTS])["alerts"]}
    assert ("gap", SECOND) in kinds and ("nhung_nhieu", "ki-ot-1") in kinds
    cases = json.loads(files[evidence.CASES])
    assert set(cases) == {"cases", "case_links", "case_events"}
    assert json.loads(files[evidence.LETTERS]) == {"letters": []}
    assert "hl3" in json.loads(files[evidence.SURVEYS])["surveys"]
    manifest = json.loads(files[evidence.MANIFEST])
    assert (manifest["period"], manifest["ratings"], manifest["kiosks"]) == (PERIOD, 14, 2)
    assert manifest["public_key"] == files[evidence.PUBLIC_KEY].decode().strip() == public_key(town)


def test_no_secret_goes_into_the_pack(town, pack):
    with dbtools.connect(town.db) as con:
        secrets = [r[0] for r in con.execute("SELECT key_hex FROM kiosks")]
        secrets += [r[0] for r in con.execute("SELECT token_hash FROM kiosks")]
        secrets += [r[0] for r in con.execute("SELECT token_hash FROM api_tokens")]
        secrets += [r[0] for r in con.execute("SELECT password_hash FROM users")]
        secrets += [json.loads(r[0]) for r in con.execute(
            "SELECT value FROM settings WHERE key IN ('evidence_signing_key', 'receipt_key', 'session_secret')")]
    secrets += [town.admin_token, town.viewer_token, town.kiosk_token, town.kiosk_key, town.second_token]
    secrets = [s for s in secrets if isinstance(s, str) and len(s) >= 16]
    assert len(secrets) >= 10
    with zipfile.ZipFile(pack) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name == evidence.REPORT:     # the Word file's own parts, uncompressed
                with zipfile.ZipFile(io.BytesIO(data)) as docx:
                    data = b"".join(docx.read(n) for n in docx.namelist())
            for s in secrets:
                assert s.encode() not in data, (name, s[:8])
            for column in (b"key_hex", b"token_hash", b"password_hash"):
                assert column not in data, (name, column)


@pytest.mark.parametrize("args,words", [
    (["--period", "2026-Q5", "--out", "{tmp}/a.zip"], "--period: kỳ báo cáo không hợp lệ: '2026-Q5'"),
    (["--period", "x" * 300, "--out", "{tmp}/a.zip"], "--period: kỳ báo cáo không hợp lệ: quá dài"),
    (["--period", PERIOD, "--out", "{tmp}/khong-co/a.zip"], "--out: không có thư mục {tmp}/khong-co (hãy tạo nó trước)"),
    (["--period", PERIOD, "--out", "{tmp}"], "--out: {tmp} là một thư mục; hãy cho tên tệp"),
], ids=["period", "long-period", "no-folder", "folder"])
def test_the_commands_refusals_are_clear_and_write_nothing(town, tmp_path, args, words):
    done = run("admin", "--db", str(town.db), "evidence-pack", *[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2, done.stdout + done.stderr
    assert words.format(tmp=tmp_path) in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_database_is_refused(tmp_path):
    done = run("admin", "--db", str(tmp_path / "khong-co.db"), "evidence-pack", "--period", PERIOD,
               "--out", str(tmp_path / "a.zip"))
    assert done.returncode == 2 and "Không có cơ sở dữ liệu" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_pack_that_fails_half_way_leaves_nothing_behind(town, tmp_path):
    from sync.server.reports.evidence_pack import write_pack
    from sync.server.reports.periods import parse
    engine = db.make_engine(str(town.db))
    reader = db.make_reader(engine)
    try:
        with pytest.raises(AttributeError):
            write_pack(reader, parse(PERIOD), tmp_path / "a.zip", key=None)     # no key: fails after the ratings
    finally:
        reader.dispose()
        engine.dispose()
    assert list(tmp_path.iterdir()) == []


# --- the page ---------------------------------------------------------------------------------

def test_the_page_is_for_admins_shows_the_key_and_downloads_a_pack_that_verifies(town, tmp_path):
    key = public_key(town)
    anonymous = requests.get(town.url + "/admin/evidence", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    viewer = session_for(town, "binh", "mật-khẩu-xem")
    assert viewer.get(town.url + "/admin/evidence", timeout=10).status_code == 403
    assert viewer.post(town.url + "/admin/evidence", data={"csrf": "x", "period": PERIOD},
                       timeout=10).status_code == 403
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + f"/admin/evidence?period={PERIOD}", timeout=10)
    assert page.status_code == 200
    assert evidence.key_text(key) in page.text and f"--key {key}" in page.text
    assert re.search(rf'<option value="{PERIOD}" selected>Quý IV năm 2026</option>', page.text)
    assert s.post(town.url + "/admin/evidence", data={"period": PERIOD}, timeout=10).status_code == 403   # no CSRF
    got = s.post(town.url + "/admin/evidence", data={"csrf": csrf_of(page.text), "period": PERIOD}, timeout=120)
    assert got.status_code == 200, got.text[:500]
    assert got.headers["content-type"] == "application/zip"
    assert 'filename="hoso-kiem-chung-2026-Q4.zip"' in got.headers["content-disposition"]
    out = tmp_path / "tai-ve.zip"
    out.write_bytes(got.content)
    done = run("verify-pack", str(out), "--key", key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "14 đánh giá của 2 ki-ốt" in done.stdout


@pytest.mark.parametrize("period", ["2026-Q9", "", "<script>alert(1)</script>", "9" * 5000, "2026-02-30..2026-03-01",
                                    "\x00", "2026-12-01..2026-11-01"])
def test_a_hostile_period_gets_the_page_and_a_message_never_a_500(town, period):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    token = csrf_of(s.get(town.url + "/admin/evidence", timeout=10).text)
    got = s.post(town.url + "/admin/evidence", data={"csrf": token, "period": period}, timeout=30)
    assert got.status_code == 422, got.status_code
    assert 'role="alert"' in got.text and "<script>alert" not in got.text
    again = s.get(town.url + "/admin/evidence", params={"period": period}, timeout=10)
    assert again.status_code in (200, 422) and "<script>alert" not in again.text


def test_the_lines_built_in_python_for_other_databases_are_sqlites(town, pack):
    """SQLite encodes each line itself (json_object); other databases get record_of's: the same text."""
    from sqlalchemy import select

    from sync.server.reports.evidence_pack import _COLUMNS, _dumps, record_of
    with zipfile.ZipFile(pack) as zf:
        lines = {json.loads(line)["id"]: line for line in zf.read(evidence.RATINGS_JSONL).decode().splitlines()}
    engine = db.make_engine(str(town.db))
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(*[db.ratings.c[k] for k in _COLUMNS]).where(
                db.ratings.c.id.in_(list(lines)))).mappings().all()
    finally:
        engine.dispose()
    assert len(rows) == len(lines) == 14
    for m in rows:
        assert _dumps(record_of(m)) == lines[m["id"]]
