"""`hailong pull` against a real town server: pages, formats, the remembered cursor, errors."""
import csv
import gzip
import json
import os
import subprocess
import sys
import uuid

import pytest
import requests
from faultproxy import ServerThread, sealed_ratings
from helpers import ROOT

from sync import protocol
from sync.server.core.admin_ops import create_token, create_user, enrol_kiosk


@pytest.fixture
def town(tmp_path):
    server = ServerThread(tmp_path / "town.db")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        create_user(conn, "an", "viewer", "password-an")
        server.token = create_token(conn, "an")
    server.recs = []
    yield server
    server.stop()


def send(town, n):
    start = len(town.recs) + 1
    prev = town.recs[-1]["hash"] if town.recs else None
    recs = sealed_ratings("K1", town.k1["key"], n, start_seq=start, prev_hash=prev)
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00",
                                     "ratings": recs}, ensure_ascii=False).encode())
    r = requests.post(town.url + protocol.PATH_BATCH, data=body, timeout=10, headers={
        "Authorization": f"Bearer {town.k1['token']}", "Idempotency-Key": str(uuid.uuid4()),
        "Content-Encoding": "gzip"})
    assert r.status_code == 200
    town.recs += recs


def pull(town, *args, token=None):
    return subprocess.run([sys.executable, "-m", "hailong", "pull", "--server", town.url,
                           "--token", token or town.token, *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_pull_jsonl_then_only_what_is_new(town, tmp_path):
    send(town, 25)
    out = tmp_path / "ratings.jsonl"
    r = pull(town, "--format", "jsonl", "--out", str(out), "--limit", "10")
    assert r.returncode == 0, r.stderr
    assert "25 ratings written" in r.stdout
    got = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [g["id"] for g in got] == [x["id"] for x in town.recs]
    assert {k: got[6][k] for k in protocol.RECORD_FIELDS} == town.recs[6]   # "Cán bộ hướng dẫn tận tình"
    assert got[0]["received_at"]
    state = json.loads((tmp_path / "ratings.jsonl.cursor.json").read_text())
    assert state["after"] and state["count"] == 25
    send(town, 4)
    r = pull(town, "--format", "jsonl", "--out", str(out))
    assert "4 ratings written" in r.stdout
    assert [json.loads(x)["seq"] for x in out.read_text("utf-8").splitlines()] == [26, 27, 28, 29]
    r = pull(town, "--format", "jsonl", "--out", str(out))
    assert "0 ratings written" in r.stdout
    r = pull(town, "--format", "jsonl", "--out", str(out), "--full")
    assert "29 ratings written" in r.stdout


def test_pull_csv_and_xlsx_keep_vietnamese(town, tmp_path):
    send(town, 8)
    out = tmp_path / "ratings.csv"
    assert pull(town, "--format", "csv", "--out", str(out)).returncode == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")        # Excel reads it as UTF-8
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 8 and rows[6]["comment"] == "Cán bộ hướng dẫn tận tình"
    assert rows[2]["reasons"] == "thai_do"
    xlsx = tmp_path / "ratings.xlsx"
    assert pull(town, "--format", "xlsx", "--out", str(xlsx)).returncode == 0
    from openpyxl import load_workbook
    sheet = load_workbook(xlsx).active
    values = list(sheet.values)
    assert values[0][:3] == ("id", "kiosk_id", "seq") and len(values) == 9
    assert values[7][values[0].index("comment")] == "Cán bộ hướng dẫn tận tình"


@pytest.mark.parametrize("which,words", [("kiosk", "403"), ("bad", "401"), ("down", "no answer")])
def test_pull_errors_are_clear_and_keep_the_cursor(town, tmp_path, which, words):
    send(town, 3)
    out = tmp_path / "r.jsonl"
    assert pull(town, "--format", "jsonl", "--out", str(out)).returncode == 0
    state = (tmp_path / "r.jsonl.cursor.json").read_text()
    if which == "down":
        town.stop()
        r = subprocess.run([sys.executable, "-m", "hailong", "pull", "--server", town.url, "--token", town.token,
                            "--format", "jsonl", "--out", str(out), "--timeout", "1", "--retries", "1"], capture_output=True,
                           text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    else:
        r = pull(town, "--format", "jsonl", "--out", str(out), token=town.k1["token"] if which == "kiosk" else "x")
    assert r.returncode == 1 and words in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "r.jsonl.cursor.json").read_text() == state
    assert len(out.read_text().splitlines()) == 3
    if which == "down":
        town.stop = lambda: None


def test_pull_to_xlsx_refuses_more_than_a_sheet_holds_and_keeps_the_old_file(town, tmp_path, monkeypatch):
    from sync import pull as pull_mod
    send(town, 12)
    out, state = tmp_path / "r.xlsx", tmp_path / "r.xlsx.cursor.json"
    out.write_bytes(b"previous pull")
    monkeypatch.setattr(pull_mod, "XLSX_MAX_RATINGS", 10)   # Excel's 1,048,575, made small
    with pytest.raises(pull_mod.PullError, match="at most 10 ratings"):
        pull_mod.pull_to(town.url, town.token, "xlsx", out, None, state, limit=5)
    assert out.read_bytes() == b"previous pull" and not state.exists()
    assert not (tmp_path / "r.xlsx.part").exists()
    # a jsonl pull of the same: one line per rating, as the server sent it
    count, cursor = pull_mod.pull_to(town.url, town.token, "jsonl", tmp_path / "r.jsonl", None,
                                     tmp_path / "j.json", limit=5)
    lines = (tmp_path / "r.jsonl").read_text("utf-8").splitlines()
    assert count == 12 and cursor == "12" and len(lines) == 12
    assert [{k: json.loads(line)[k] for k in protocol.RECORD_FIELDS} for line in lines] == town.recs
