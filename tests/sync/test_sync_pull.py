"""`hailong pull` against a real town server: pages, formats, the remembered cursor, errors,
adding to the file of the last pull, the web export's columns."""
import csv
import gzip
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from faultproxy import ServerThread, sealed_ratings
from helpers import ROOT

from sync import columns, protocol
from sync.server.core.admin_ops import create_token, create_user, enrol_kiosk
from sync.server.reports import exports


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


def pull(town, *args, token=None, lang=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if lang:
        env.update(LANGUAGE=lang, LANG=lang)
    return subprocess.run([sys.executable, "-m", "hailong", "pull", "--server", town.url,
                           "--token", token or town.token, *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=env)


def test_pull_jsonl_then_only_what_is_new(town, tmp_path):
    send(town, 25)
    out = tmp_path / "ratings.jsonl"
    r = pull(town, "--format", "jsonl", "--out", str(out), "--limit", "10")
    assert r.returncode == 0, r.stderr
    assert f"Added 25 rows to {out} (25 in all)" in r.stdout
    got = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [g["id"] for g in got] == [x["id"] for x in town.recs]
    assert {k: got[6][k] for k in protocol.RECORD_FIELDS} == town.recs[6]   # "Cán bộ hướng dẫn tận tình"
    assert got[0]["received_at"]
    state = json.loads((tmp_path / "ratings.jsonl.cursor.json").read_text())
    assert state["after"] and state["count"] == 25
    send(town, 4)
    r = pull(town, "--format", "jsonl", "--out", str(out))
    assert "Added 4 rows" in r.stdout and "(29 in all)" in r.stdout
    assert [json.loads(x)["seq"] for x in out.read_text("utf-8").splitlines()] == list(range(1, 30))
    r = pull(town, "--format", "jsonl", "--out", str(out))
    assert "Added 0 rows" in r.stdout and "(29 in all)" in r.stdout
    r = pull(town, "--format", "jsonl", "--out", str(out), "--full")      # --full: the file written again
    assert "Added 29 rows" in r.stdout and "(29 in all)" in r.stdout
    assert [json.loads(x)["seq"] for x in out.read_text("utf-8").splitlines()] == list(range(1, 30))


def test_pull_csv_and_xlsx_keep_vietnamese(town, tmp_path):
    send(town, 8)
    out = tmp_path / "ratings.csv"
    assert pull(town, "--format", "csv", "--out", str(out)).returncode == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")        # Excel reads it as UTF-8
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 8 and rows[6]["Ý kiến"] == "Cán bộ hướng dẫn tận tình"
    assert rows[2]["Lý do"] == "Thái độ"
    xlsx = tmp_path / "ratings.xlsx"
    assert pull(town, "--format", "xlsx", "--out", str(xlsx)).returncode == 0
    from openpyxl import load_workbook
    sheet = load_workbook(xlsx).active
    values = list(sheet.values)
    assert list(values[0]) == columns.HEADERS and len(values) == 9
    assert values[7][values[0].index("Ý kiến")] == "Cán bộ hướng dẫn tận tình"


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
        pull_mod.pull_to(town.url, town.token, "xlsx", out, None, state, limit=5, replace=True)
    assert out.read_bytes() == b"previous pull" and not state.exists()
    assert not (tmp_path / "r.xlsx.part").exists()
    # a jsonl pull of the same: one line per rating, as the server sent it
    count, cursor = pull_mod.pull_to(town.url, town.token, "jsonl", tmp_path / "r.jsonl", None,
                                     tmp_path / "j.json", limit=5)
    lines = (tmp_path / "r.jsonl").read_text("utf-8").splitlines()
    assert count == 12 and cursor == "12" and len(lines) == 12
    assert [{k: json.loads(line)[k] for k in protocol.RECORD_FIELDS} for line in lines] == town.recs



def csv_rows(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_a_second_pull_adds_the_new_rows_under_the_one_header(town, tmp_path):
    """The issue: a second, incremental run left pull.csv with its header only (4,072 rows lost)."""
    send(town, 8)
    out = tmp_path / "pull.csv"
    assert pull(town, "--format", "csv", "--out", str(out), "--limit", "3").returncode == 0
    send(town, 4)
    r = pull(town, "--format", "csv", "--out", str(out), lang="vi_VN.UTF-8")
    assert r.returncode == 0, r.stderr
    assert f"Đã thêm 4 dòng vào {out} (tổng 12)" in r.stdout
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1
    rows = csv_rows(out)
    assert rows[0] == columns.HEADERS and rows.count(columns.HEADERS) == 1
    ids = [r[columns.KEYS.index("id")] for r in rows[1:]]
    assert ids == [x["id"] for x in town.recs]                      # every rating once, in order
    state = json.loads((tmp_path / "pull.csv.cursor.json").read_text())
    assert (state["rows"], state["count"], state["format"], state["raw"]) == (12, 4, "csv", False)
    r = pull(town, "--format", "csv", "--out", str(out))             # nothing new: nothing lost either
    assert "Added 0 rows" in r.stdout and "(12 in all)" in r.stdout and len(csv_rows(out)) == 13


def test_excel_is_written_again_with_the_old_rows_and_the_new(town, tmp_path):
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    send(town, 5)
    out = tmp_path / "pull.xlsx"
    assert pull(town, "--format", "xlsx", "--out", str(out)).returncode == 0
    send(town, 3)
    r = pull(town, "--format", "xlsx", "--out", str(out))
    assert r.returncode == 0 and "Added 3 rows" in r.stdout and "(8 in all)" in r.stdout, r.stdout + r.stderr
    ws = load_workbook(out).active
    rows = list(ws.values)
    assert list(rows[0]) == columns.HEADERS and len(rows) == 9
    assert [r[columns.KEYS.index("seq")] for r in rows[1:]] == list(range(1, 9))
    for key in ("time", "received_at"):                  # real date cells, old rows and new alike
        col = columns.KEYS.index(key) + 1
        cells = [ws.cell(row=i, column=col) for i in range(2, 10)]
        assert all(isinstance(c.value, datetime) and c.is_date and c.value.microsecond == 0 for c in cells)
        assert {c.number_format for c in cells} == {"dd/mm/yyyy hh:mm"}
    assert ws.auto_filter.ref == f"A1:{get_column_letter(len(columns.KEYS))}9"
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (int(ws.page_setup.fitToWidth), int(ws.page_setup.fitToHeight)) == (1, 0)
    assert ws.freeze_panes == "A2" and ws.print_area.endswith("!$A$1:$L$9")   # the web export's printout
    assert not (tmp_path / "pull.xlsx.part").exists()


def test_the_columns_and_words_are_the_web_export_s(town, tmp_path):
    send(town, 8)
    out, rawjl = tmp_path / "pull.csv", tmp_path / "raw.jsonl"
    assert pull(town, "--format", "csv", "--out", str(out)).returncode == 0
    assert pull(town, "--format", "jsonl", "--out", str(rawjl)).returncode == 0
    rows = csv_rows(out)
    assert rows[0] == [h for _k, h in exports.HEADERS]                # the one list (sync/columns.py)
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    recs = [json.loads(line) for line in rawjl.read_text("utf-8").splitlines()]
    vn = timezone(timedelta(hours=7))
    for row, rec in zip(body, recs):
        for head, field in (("Thời gian", "created_at"), ("Thời gian nhận", "received_at")):
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[head]), row[head]   # no µs, no offset
            moment = datetime.fromisoformat(rec[field]).astimezone(vn)
            assert row[head] == moment.strftime("%Y-%m-%d %H:%M:%S")                     # local, +07:00
        assert row["Mức độ (chữ)"] == {3: "Rất hài lòng", 2: "Hài lòng", 1: "Không hài lòng"}[rec["level"]]
        assert row["Nguồn"] == "Trực tiếp" and row["Tính vào tỷ lệ"] == "Có"
        assert row["Mã cán bộ"] == row["Cán bộ"] == rec["officer_id"] and row["Quầy"] == rec["desk_id"]   # no names
    assert body[2]["Lý do"] == "Thái độ" and body[6]["Ý kiến"] == "Cán bộ hướng dẫn tận tình"


def test_the_cells_carry_the_roster_s_names_as_the_web_export_does(town, tmp_path):
    """The server's /api/v1/names gives the pull the words the web export writes (issue 10)."""
    from sqlalchemy import insert

    from sync.server.core import db
    with town.engine.begin() as conn:
        conn.execute(insert(db.units).values(code="13321", name="UBND xã Đồng Tâm"))
        conn.execute(insert(db.desks).values(id="quay-1", unit_code="13321", name="Quầy số 1 — Tư pháp"))
        conn.execute(insert(db.officers), [{"id": f"cb-00{i}", "name": f"Cán bộ số {i}", "desk_id": "quay-1",
                                            "active": i != 3} for i in range(1, 6)])
    send(town, 6)
    out = tmp_path / "pull.csv"
    r = pull(town, "--format", "csv", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = csv_rows(out)
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    by_id = {rec["id"]: rec for rec in town.recs}
    assert len(body) == 6
    for row in body:
        officer = by_id[row["Mã đánh giá"]]["officer_id"]
        assert row["Mã cán bộ"] == officer
        assert row["Cán bộ"] == f"Cán bộ số {officer[-1]}"     # a deactivated officer (cb-003) keeps the name
        assert row["Quầy"].startswith("Quầy số 1 — Tư pháp") and row["Đơn vị"].startswith("UBND xã Đồng Tâm"), row
    names = requests.get(town.url + "/api/v1/names", headers={"Authorization": f"Bearer {town.token}"},
                         timeout=10).json()
    assert names["officers"]["cb-003"] == "Cán bộ số 3" and names["scale"] == 3
    assert "hl3" in names["surveys"] and names["reasons"]["thai_do"] == ["Thái độ", "Attitude"]
    # --raw and JSON Lines keep the codes, as sent
    assert pull(town, "--format", "csv", "--out", str(tmp_path / "raw.csv"), "--raw").returncode == 0
    raw = csv_rows(tmp_path / "raw.csv")
    assert {row[raw[0].index("officer_id")] for row in raw[1:]} == {rec["officer_id"] for rec in town.recs}


def test_raw_keeps_field_names_and_codes(town, tmp_path):
    send(town, 8)
    out = tmp_path / "raw.csv"
    assert pull(town, "--format", "csv", "--out", str(out), "--raw").returncode == 0
    rows = csv_rows(out)
    assert rows[0][:3] == ["id", "kiosk_id", "seq"] and "received_at" in rows[0]
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert body[2]["reasons"] == "thai_do" and body[0]["created_at"] == town.recs[0]["created_at"]
    send(town, 2)
    assert pull(town, "--format", "csv", "--out", str(out), "--raw").returncode == 0
    assert len(csv_rows(out)) == 11 and csv_rows(out).count(rows[0]) == 1


def test_mixing_columns_or_formats_is_refused_and_the_file_kept(town, tmp_path):
    send(town, 3)
    out = tmp_path / "pull.csv"
    assert pull(town, "--format", "csv", "--out", str(out)).returncode == 0
    before = out.read_bytes()
    r = pull(town, "--format", "csv", "--out", str(out), "--raw")
    assert r.returncode == 1 and "header row does not match" in r.stderr and "--raw" in r.stderr
    r = pull(town, "--format", "jsonl", "--out", str(out))
    assert r.returncode == 1 and "is a CSV file, not JSON Lines" in r.stderr
    assert out.read_bytes() == before and "Traceback" not in r.stderr
    r = pull(town, "--format", "csv", "--out", str(out), "--raw", "--full")    # --full: written again, raw
    assert r.returncode == 0 and csv_rows(out)[0][0] == "id" and len(csv_rows(out)) == 4


def test_an_output_without_its_state_is_refused_a_state_without_its_output_starts_over(town, tmp_path):
    send(town, 4)
    out, state = tmp_path / "pull.csv", tmp_path / "pull.csv.cursor.json"
    assert pull(town, "--format", "csv", "--out", str(out)).returncode == 0
    state.unlink()
    before = out.read_bytes()
    r = pull(town, "--format", "csv", "--out", str(out))
    assert r.returncode == 1 and "its state file" in r.stderr and "--full" in r.stderr and "--after" in r.stderr
    assert out.read_bytes() == before and not state.exists()
    r = pull(town, "--format", "csv", "--out", str(out), "--after", "2")        # the admin says where it stopped
    assert r.returncode == 0 and "Added 2 rows" in r.stdout and "(6 in all)" in r.stdout
    out.unlink()
    send(town, 1)
    r = pull(town, "--format", "csv", "--out", str(out))
    assert r.returncode == 0 and "is not there" in r.stderr and "pulling everything again" in r.stderr
    assert "Added 5 rows" in r.stdout and len(csv_rows(out)) == 6


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_append_cut_short_is_cut_back_and_fetched_again(town, tmp_path, fmt):
    """Killed mid-append (rows written, state not moved): the next pull has each rating once."""
    send(town, 4)
    out = tmp_path / f"pull.{fmt}"
    assert pull(town, "--format", fmt, "--out", str(out)).returncode == 0
    with out.open("ab") as fh:                      # what a pull killed before its fsync + state left behind
        fh.write(b'{"half": "a row' if fmt == "jsonl" else b"2026-03-02 09:20:00,half a ro")
    send(town, 3)
    r = pull(town, "--format", fmt, "--out", str(out))
    assert r.returncode == 0 and "interrupted" in r.stderr and "(7 in all)" in r.stdout, r.stdout + r.stderr
    if fmt == "csv":
        seqs = [int(r[columns.KEYS.index("seq")]) for r in csv_rows(out)[1:]]
    else:
        seqs = [json.loads(line)["seq"] for line in out.read_text("utf-8").splitlines()]
    assert seqs == list(range(1, 8))


def test_counts_are_written_the_way_each_language_writes_them(monkeypatch):
    from sync import pull as pull_mod
    monkeypatch.setattr(pull_mod._, "language", "vi")
    assert pull_mod._number(4084) == "4.084" and pull_mod._number(1_048_575) == "1.048.575"
    monkeypatch.setattr(pull_mod._, "language", "en")
    assert pull_mod._number(4084) == "4,084" and pull_mod._number(12) == "12"


def test_an_older_server_without_names_gives_codes_and_a_bad_answer_is_named(tmp_path):
    """A 0.2 server has no /api/v1/names (404): the cells hold codes; a non-JSON answer is a clear error."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from helpers import free_port
    from sync import pull as pull_module

    class Old(BaseHTTPRequestHandler):
        def do_GET(self):
            code, body = (404, b'{"detail":"Not Found"}') if self.path.startswith("/api/v1/names") else (200, b"<html>")
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Old)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        look = pull_module.fetch_lookups(url, "t", timeout=5, retries=0)
        assert look.officers == {} and look.units == {}
        Old.do_GET = lambda self: (self.send_response(200), self.send_header("Content-Length", "6"),
                                   self.end_headers(), self.wfile.write(b"<html>"))
        with pytest.raises(pull_module.PullError, match="hailong"):
            pull_module.fetch_lookups(url, "t", timeout=5, retries=0)
    finally:
        server.shutdown()
        server.server_close()
