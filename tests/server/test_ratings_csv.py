"""The streamed CSV of ratings (GET /api/v1/ratings.csv) and `hailong pull --format csv --raw` over it.

On both engines: the file is byte for byte the one the JSON pages write (hostile cells included:
formulas, line breaks, quotes, controls, v1 and v2 records); a commune's token gets its unit only;
bad query strings get 400/422; an answer cut mid-stream is cut back and fetched again, or leaves a
file the next pull completes; an older server (404) gets the JSON pages. On PostgreSQL: the cursor
never skips a rating that commits late (tests/server/test_cursor_order.py's way).
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
import requests
from faultproxy import FaultProxy, ServerThread, _read_body, _read_head, sealed_ratings
from helpers import ROOT, wait_until
from sqlalchemy import insert

from sync import protocol, pull
from sync.server.core import db
from sync.server.core.admin_ops import create_token, create_user, enrol_kiosk

CSV = "/api/v1/ratings.csv"
A, B = "13321", "99999"
HOSTILE = ["=1+1", "+84 912", "-5", "@SUM(A1)", "\tindent", "\rcr", "dòng 1\ndòng 2", "a\r\nb", 'he said "hi", then',
           "ctl\x01\x1f here", "", "  lead space", "Cán bộ hướng dẫn tận tình", "a,b", "\\.", "'quoted'"]


def _row(i: int, unit: str, **over) -> dict:
    text = HOSTILE[i % len(HOSTILE)]
    row = dict(id=str(uuid.UUID(int=i + 1)), kiosk_id=f"K-{unit}", seq=i + 1, created_at="2026-11-02T09:00:00+07:00",
               unit_code=unit, desk_id="quay-1" if i % 5 else "=quay", officer_id=f"cb-{i % 4}",
               dossier_code=HOSTILE[(i + 3) % len(HOSTILE)] or None, procedure_code=None if i % 2 else "1.001193",
               receipt_id=None, level=1 + i % 3, reasons=('["thai_do", "huong_dan"]' if i % 2 else '["thai_do","tiến_độ"]') if i % 3 == 0 else "[]",
               comment=text if i % 4 else None, source="walk_up", flags='["=x"]' if i % 7 == 0 else "[]",
               prev_hash="0" * 64, hash=f"{i:064x}", sig="2" * 64,
               received_at=f"2026-11-02T02:00:{i % 60:02d}.000+00:00", corrected_at="2026-11-02T09:00:00+07:00",
               wire_version=1 if i % 2 else 2, survey="hl3" if i % 6 else "mttq-can-bo",
               answers='{"q2":3,"q1":null,"a_b":1}' if i % 6 == 0 else "{}",
               server_flags='["unknown_officer"]' if i % 9 == 0 else "[]")
    return {**row, **over}


@pytest.fixture
def town(town_db):
    server = ServerThread(town_db)
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", A)
        create_user(conn, "tinh", "viewer", "mật khẩu tỉnh")
        create_user(conn, "xa-a", "viewer", "mật khẩu xã a", unit_code=A)
        server.token = create_token(conn, "tinh")
        server.token_a = create_token(conn, "xa-a")
        conn.execute(insert(db.ratings), [_row(i, A if i % 3 else B) for i in range(60)])
    yield server
    server.stop()


def get(town, params, token=None):
    return requests.get(town.url + CSV, params=params, timeout=30,
                        headers={"Authorization": f"Bearer {token or town.token}"})


def json_path_file(town, path, token=None):
    pull.pull_to(town.url, token or town.token, "csv", path, None, path.with_name(path.name + ".state"),
                 limit=7, raw=True, stream=False)
    return path.read_bytes()


def run_pull(town, *args, token=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HAILONG_TOKEN": token or town.token, "LANGUAGE": "en"}
    return subprocess.run([sys.executable, "-m", "hailong", "pull", "--server", args[0], "--format", "csv", "--raw",
                           "--no-progress", *args[1:]], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_the_streamed_file_is_the_json_path_s_byte_for_byte(town, tmp_path):
    want = json_path_file(town, tmp_path / "json.csv")
    assert want.startswith(b"\xef\xbb\xbfid,kiosk_id,") and b"'=1+1" in want and b'"dong' not in want
    r = get(town, {"after": "", "header": "true"})
    assert r.status_code == 200 and r.headers["X-Hailong-Count"] == "60" and r.headers["X-Hailong-Next"]
    assert b"\xef\xbb\xbf" + r.content == want
    out = tmp_path / "streamed.csv"
    r = run_pull(town, town.url, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Added 60 rows" in r.stdout
    assert out.read_bytes() == want
    # in ranges: the next cursor of each, and the file the same
    parts, after = [], ""
    while True:
        r = get(town, {"after": after, "limit": "11"})
        assert r.status_code == 200
        if r.headers["X-Hailong-Count"] == "0":
            assert "X-Hailong-Next" not in r.headers and r.content == b""
            break
        parts.append(r.content)
        after = r.headers["X-Hailong-Next"]
    assert want.split(b"\r\n", 1)[1] == b"".join(parts)
    # and adding to the file: only the new ones, under the one header
    with town.engine.begin() as conn:
        conn.execute(insert(db.ratings), [_row(i, A) for i in range(60, 64)])
    r = run_pull(town, town.url, "--out", str(out))
    assert r.returncode == 0 and "Added 4 rows" in r.stdout and "(64 in all)" in r.stdout, r.stdout + r.stderr
    assert out.read_bytes() == json_path_file(town, tmp_path / "json2.csv")


def test_a_commune_gets_its_own_unit_only(town, tmp_path):
    want = json_path_file(town, tmp_path / "json.csv", token=town.token_a)
    out = tmp_path / "a.csv"
    r = run_pull(town, town.url, "--out", str(out), token=town.token_a)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == want
    rows = list(csv.reader(io.StringIO(want.decode("utf-8-sig"), newline="")))[1:]
    assert [r[0] for r in rows] == [str(uuid.UUID(int=i + 1)) for i in range(60) if i % 3]
    assert {r[4] for r in rows} == {A}
    r = get(town, {"header": "1"}, token=town.token_a)
    assert r.headers["X-Hailong-Count"] == "40" and f",{B},".encode() not in r.content


@pytest.mark.parametrize("query", ["after=-1", "after=abc", "after=1%200R%201=1", "after=" + "9" * 19,
                                   "after=1.5", "limit=0", "limit=-3", "limit=abc", "limit=1000001",
                                   "limit=" + "9" * 13, "limit=1e3", "header=maybe", "after=%00", "limit=%ff"])
def test_bad_query_strings_get_a_clear_4xx(town, query):
    r = requests.get(f"{town.url}{CSV}?{query}", headers={"Authorization": f"Bearer {town.token}"}, timeout=30)
    assert r.status_code in (400, 422), (query, r.status_code, r.text)
    assert r.json()["detail"]


def test_no_token_or_a_kiosk_s_token_is_refused(town):
    assert requests.get(town.url + CSV, timeout=30).status_code == 401
    r = requests.get(town.url + CSV, timeout=30, headers={"Authorization": f"Bearer {town.k1['token']}"})
    assert r.status_code in (401, 403)


class CutProxy(FaultProxy):
    """FaultProxy with one more fault: ``cut:N`` relays the first N bytes of the server's answer, then closes."""

    def _serve(self, client):
        try:
            head, rest = _read_head(client)
            fault = self._next_fault(head)
            response = self._forward(_read_body(client, head, rest))
            if fault.startswith("cut:"):
                response = response[:int(fault.split(":")[1])]
            client.sendall(response)
        except (OSError, TypeError):
            pass
        finally:
            client.close()


def test_an_answer_cut_mid_stream_is_fetched_again_or_left_for_the_next_pull(town, tmp_path):
    want = json_path_file(town, tmp_path / "json.csv")
    proxy = CutProxy(town.port, match="ratings.csv")
    try:
        proxy.add("cut:900", "cut:2500")           # two answers cut mid-row, the third whole
        out = tmp_path / "retried.csv"
        r = run_pull(town, proxy.url, "--out", str(out), "--retries", "3")
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == want and proxy.faults_left() == 0
        # no tries left: the pull fails, the file and its cursor stay as they were; the next one completes it
        out = tmp_path / "resumed.csv"
        state = tmp_path / "resumed.csv.cursor.json"
        first_half = want[:want.index(b"\r\n", len(want) // 2) + 2]
        n_first = first_half.count(b"\r\n") - 1
        r = run_pull(town, proxy.url, "--out", str(out), "--after", "", "--retries", "0")
        assert r.returncode == 0
        proxy.add("cut:1500")
        with town.engine.begin() as conn:
            conn.execute(insert(db.ratings), [_row(i, A) for i in range(60, 70)])
        before, cursor_before = out.read_bytes(), json.loads(state.read_text())["after"]
        r = run_pull(town, proxy.url, "--out", str(out), "--retries", "0")
        assert r.returncode != 0 and "no answer" in r.stderr.lower() or "IncompleteRead" in r.stderr, r.stderr
        assert out.read_bytes() == before and json.loads(state.read_text())["after"] == cursor_before
        r = run_pull(town, proxy.url, "--out", str(out))
        assert r.returncode == 0 and "Added 10 rows" in r.stdout, r.stdout + r.stderr
        assert out.read_bytes() == json_path_file(town, tmp_path / "json2.csv")
        assert n_first >= 0
    finally:
        proxy.close()


def test_an_older_server_without_the_route_gets_the_json_pages(town, tmp_path, monkeypatch):
    want = json_path_file(town, tmp_path / "json.csv")
    seen = []
    real_get = requests.Session.get

    def spy(self, url, *a, **kw):
        seen.append(url)
        return real_get(self, url, *a, **kw)
    monkeypatch.setattr(requests.Session, "get", spy)
    monkeypatch.setattr(pull, "PATH_RATINGS_CSV", "/api/v1/ratings.csv-not-here")   # a 404, as before 0.4
    out = tmp_path / "old.csv"
    assert pull.pull_to(town.url, town.token, "csv", out, None, tmp_path / "s.json", limit=25, raw=True)[0] == 60
    assert out.read_bytes() == want
    assert seen[0].endswith("not-here") and all(u.endswith(protocol.PATH_RATINGS) for u in seen[1:]) and len(seen) > 2
    seen.clear()
    monkeypatch.setattr(pull, "PATH_RATINGS_CSV", CSV)
    out.unlink()
    assert pull.pull_to(town.url, town.token, "csv", out, None, tmp_path / "s2.json", raw=True)[0] == 60
    assert out.read_bytes() == want and all(u.endswith(CSV) for u in seen)


def test_the_cursor_never_skips_a_rating_that_commits_late(pg_server):
    from sync.server.core import leases
    town = pg_server
    with town.engine.begin() as conn:
        create_user(conn, "an", "admin", "mật khẩu dài")
        token = create_token(conn, "an")

    def pull_all(after=""):
        got = []
        while True:
            r = requests.get(town.url + CSV, params={"after": after, "limit": 7},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert r.status_code == 200, r.text
            got += [ln.split(",")[0] for ln in r.text.split("\r\n") if ln]
            if r.headers["X-Hailong-Count"] == "0":
                return got, after
            after = r.headers["X-Hailong-Next"]

    late_id = str(uuid.uuid4())
    engine = db.make_engine(town.db)
    late = engine.connect()
    tx = late.begin()
    leases.ratings_lock(late)
    late.execute(insert(db.ratings).values(_row(0, A, id=late_id, kiosk_id="K2")))
    body, records = town.kiosk.batch(20)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(town.kiosk.post(town.url, body, str(uuid.uuid4()))))
    sender.start()
    import dbtools
    wait_until(lambda: dbtools.scalar(town.db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                               "AND NOT granted") >= 1, what="the batch waiting for the lock")
    first, cursor = pull_all()
    assert first == []
    tx.commit()
    late.close()
    sender.join(60)
    assert answers and answers[0].status_code == 200, answers
    rest, _ = pull_all(cursor)
    assert sorted(first + rest) == sorted([late_id, *[r["id"] for r in records]])
    assert len(rest) == len(set(rest)) == 21
    engine.dispose()


def test_sealed_ratings_through_a_batch_are_the_same_in_both_paths(town, tmp_path):
    recs = sealed_ratings("K1", town.k1["key"], 30)
    for rec in recs[::5]:
        rec.update()
    import gzip
    body = gzip.compress(json.dumps({"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00",
                                     "ratings": recs}, ensure_ascii=False).encode())
    r = requests.post(town.url + protocol.PATH_BATCH, data=body, timeout=30, headers={
        "Authorization": f"Bearer {town.k1['token']}", "Idempotency-Key": str(uuid.uuid4()),
        "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    want = json_path_file(town, tmp_path / "json.csv")
    assert b"\xef\xbb\xbf" + get(town, {"header": "1"}).content == want


ROW_CHECK = ["a,=b", "a,-", ",", "a,,b", "x,", "=", "", "ok", "dòng\u2028mới", "tab\there", "\x7f del", "\ufeffbom",
             "a\x0bb", "end\r", "\n", '""', "@", "a,@b,", "-1,5"]


def test_the_row_check_gives_the_same_bytes_as_the_rule_on_every_cell(town, tmp_path):
    """One cell that needs the rule in a row of plain ones, at the start, in the middle, at the end; commas
    before formula starts inside a value; empty strings and NULLs beside them (streamed vs the csv module)."""
    rows = []
    for i, text in enumerate(ROW_CHECK):
        for j, col in enumerate(("kiosk_id", "comment", "dossier_code", "sig", "officer_id")):
            over = {"comment": "plain", col: (text or None) if col in ("comment", "dossier_code") and i % 3 == 0 else text}
            rows.append(_row(1000 + i * 5 + j, A, id=str(uuid.UUID(int=10_000 + i * 5 + j)), seq=10_000 + i * 5 + j,
                             **over))
    with town.engine.begin() as conn:
        conn.execute(insert(db.ratings), rows)
    want = json_path_file(town, tmp_path / "json.csv")
    r = get(town, {"header": "1", "limit": "1000"})
    assert r.status_code == 200 and r.headers["X-Hailong-Count"] == str(60 + len(rows))
    assert b"\xef\xbb\xbf" + r.content == want
