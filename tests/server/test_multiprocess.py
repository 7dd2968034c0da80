"""Several `hailong server` processes on one PostgreSQL (issue 13): exactly-once across them, background work once.

Real subprocesses (tests/helpers.start_server) on a database of the session's
throwaway cluster; PostgreSQL only (SQLite has one process by design, and
``--workers`` refuses it).
"""
from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
import requests
from dbtools import rows, scalar
from faultproxy import BatchKiosk as Kiosk
from helpers import ROOT, free_port, start_server, stop, wait_until

from sync import protocol

KIOSKS = 4


@pytest.fixture(scope="module")
def pg_town(pg_cluster, tmp_path_factory):
    """A migrated town on a fresh PostgreSQL database with kiosks K1..K4; (url, {kiosk: enrolment}, media)."""
    from sync.server.core.admin_ops import enrol_kiosk, import_roster
    from sync.server.core.db import make_engine, migrate
    url = pg_cluster.new_database("mp")
    media = tmp_path_factory.mktemp("media")
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        kiosks = {f"K{i}": enrol_kiosk(conn, f"K{i}", "13321") for i in range(1, KIOSKS + 1)}
        import_roster(conn, ROOT / "assets" / "demo" / "roster.json", media)
    engine.dispose()
    return url, kiosks, media


@pytest.fixture(scope="module")
def two(pg_town, tmp_path_factory):
    """Two server processes on the same database; [(proc, url), (proc, url)]."""
    url, _kiosks, media = pg_town
    log = tmp_path_factory.mktemp("logs") / "servers.log"
    procs = []
    try:
        for _ in range(2):
            port = free_port()
            procs.append((start_server(url, port, "--media", str(media), log=log), f"http://127.0.0.1:{port}"))
        yield procs
    finally:
        for proc, _u in procs:
            stop(proc)


def tail_of(url: str, kiosk_id: str) -> tuple[int, str | None]:
    got = rows(url, "SELECT seq, hash FROM ratings WHERE kiosk_id = :k ORDER BY seq DESC LIMIT 1", k=kiosk_id)
    return (got[0]["seq"] + 1, got[0]["hash"]) if got else (1, None)


def kiosk_of(pg_town, kiosk_id: str) -> Kiosk:
    url, kiosks, _m = pg_town
    seq, prev = tail_of(url, kiosk_id)
    return Kiosk(kiosk_id, kiosks[kiosk_id], seq, prev)


def at_once(*calls):
    """Run the calls in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        try:
            out[i] = fn()
        except Exception as exc:   # noqa: BLE001 - the assertion shows it
            out[i] = exc
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def assert_chain_whole(url: str, kiosk_id: str) -> int:
    """Seqs 1..n each once, each prev_hash the hash before; no open gap, no chain/conflict alert; returns n."""
    got = rows(url, "SELECT seq, hash, prev_hash FROM ratings WHERE kiosk_id = :k ORDER BY seq", k=kiosk_id)
    assert [r["seq"] for r in got] == list(range(1, len(got) + 1))
    prev = protocol.ZERO_HASH
    for r in got:
        assert r["prev_hash"] == prev, f"chain broken at seq {r['seq']}"
        prev = r["hash"]
    # a later batch that arrived first raises a gap the earlier one closes; none may stay open, and
    # nothing may look like a broken chain or a conflict
    false = rows(url, "SELECT kind, params FROM alerts WHERE kiosk_id = :k AND (kind IN ('chain', 'conflict') "
                      "OR (kind = 'gap' AND resolved_at IS NULL))", k=kiosk_id)
    assert false == []
    return len(got)


def test_the_same_batch_at_two_processes_at_once_is_stored_once_and_both_answers_are_equal(pg_town, two):
    url = pg_town[0]
    kiosk = kiosk_of(pg_town, "K1")
    (_p, a), (_q, b) = two
    for _ in range(12):
        body, recs = kiosk.batch(40)
        key = str(uuid.uuid4())
        ra, rb = at_once(lambda: kiosk.post(a, body, key), lambda: kiosk.post(b, body, key))
        assert ra.status_code == 200, ra.text
        assert rb.status_code == 200, rb.text
        assert ra.json() == rb.json()
        assert {r["status"] for r in ra.json()["results"]} == {"accepted"}
        assert ra.json()["acked_through"] == recs[-1]["seq"]
    assert assert_chain_whole(url, "K1") == kiosk.seq - 1
    assert scalar(url, "SELECT count(*) FROM batches WHERE kiosk_id = 'K1'") == 12


def test_the_same_ratings_under_two_keys_at_two_processes_are_stored_once(pg_town, two):
    url = pg_town[0]
    kiosk = kiosk_of(pg_town, "K2")
    (_p, a), (_q, b) = two
    for _ in range(8):
        body, recs = kiosk.batch(30)
        ra, rb = at_once(lambda: kiosk.post(a, body, str(uuid.uuid4())),
                         lambda: kiosk.post(b, body, str(uuid.uuid4())))
        assert ra.status_code == rb.status_code == 200, (ra.text, rb.text)
        statuses = sorted(",".join(sorted({r["status"] for r in x.json()["results"]})) for x in (ra, rb))
        assert statuses == ["accepted", "duplicate"]   # one stored them, the other saw them stored
        assert ra.json()["acked_through"] == rb.json()["acked_through"] == recs[-1]["seq"]
    assert assert_chain_whole(url, "K2") == kiosk.seq - 1


def test_consecutive_batches_of_one_kiosk_at_two_processes_keep_the_chain(pg_town, two):
    url = pg_town[0]
    kiosk = kiosk_of(pg_town, "K3")
    (_p, a), (_q, b) = two
    for _ in range(8):
        first, _r1 = kiosk.batch(25)
        second, recs = kiosk.batch(25)
        r1, r2 = at_once(lambda: kiosk.post(a, first, str(uuid.uuid4())),
                         lambda: kiosk.post(b, second, str(uuid.uuid4())))
        assert r1.status_code == r2.status_code == 200, (r1.text, r2.text)
    assert assert_chain_whole(url, "K3") == kiosk.seq - 1
    assert scalar(url, "SELECT acked_through FROM kiosks WHERE id = 'K3'") == kiosk.seq - 1


def test_a_key_replayed_on_the_other_process_gets_the_same_bytes(pg_town, two):
    kiosk = kiosk_of(pg_town, "K4")
    (_p, a), (_q, b) = two
    body, _recs = kiosk.batch(10)
    key = str(uuid.uuid4())
    first = kiosk.post(a, body, key)
    again = kiosk.post(b, body, key)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    other, _r = kiosk.batch(3)
    refused = kiosk.post(b, other, key)
    assert refused.status_code == 422 and "Idempotency-Key" in refused.json()["detail"]


def test_a_process_killed_mid_batch_loses_nothing_and_stores_nothing_twice(pg_town, tmp_path):
    url, _k, media = pg_town
    kiosk = kiosk_of(pg_town, "K1")
    log = tmp_path / "kill.log"
    pa, pb = free_port(), free_port()
    a = start_server(url, pa, "--media", str(media), log=log)
    b = start_server(url, pb, "--media", str(media), log=log)
    try:
        before = kiosk.seq - 1
        body, recs = kiosk.batch(5000)
        key = str(uuid.uuid4())
        result = {}
        sender = threading.Thread(target=lambda: result.setdefault("r", _swallow(
            lambda: kiosk.post(f"http://127.0.0.1:{pa}", body, key))))
        sender.start()
        # in flight: process a holds the kiosk's batch lock inside its transaction
        wait_until(lambda: scalar(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") > 0,
                   60, what="the batch's transaction on process a")
        a.kill()
        a.wait(10)
        sender.join(60)
        assert not isinstance(result.get("r"), requests.Response) or result["r"].status_code != 200
        again = kiosk.post(f"http://127.0.0.1:{pb}", body, key)
        assert again.status_code == 200, again.text
        assert again.json()["acked_through"] == recs[-1]["seq"]
        assert assert_chain_whole(url, "K1") == before + 5000
        # and the roll-up counts each stored rating once
        assert scalar(url, "SELECT sum(total) FROM rollup_day") == scalar(url, "SELECT count(*) FROM ratings")
    finally:
        stop(a)
        stop(b)


def _swallow(fn):
    try:
        return fn()
    except requests.RequestException as exc:
        return exc


def test_a_silent_kiosk_raises_one_alert_with_two_processes_sweeping(pg_cluster, tmp_path):
    from sync.server.core.admin_ops import enrol_kiosk
    from sync.server.core.clock import iso, utcnow
    from sync.server.core.db import make_engine, migrate
    url = pg_cluster.new_database("silent")
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        enrol_kiosk(conn, "S1", "13321")
        conn.exec_driver_sql("UPDATE kiosks SET last_seen = %s WHERE id = 'S1'",
                             (iso(utcnow() - timedelta(days=2)),))
    engine.dispose()
    log = tmp_path / "silent.log"
    procs = [start_server(url, free_port(), "--media", str(tmp_path / "m"), "--sweep-seconds", "0.05", log=log)
             for _ in range(2)]
    try:
        def sweeps():
            return [requests.get(f"http://127.0.0.1:{_port(p)}/healthz", timeout=5).json() for p in procs]
        wait_until(lambda: scalar(url, "SELECT count(*) FROM alerts WHERE kiosk_id = 'S1' AND kind = 'silent'") > 0,
                   30, what="the silent alert")
        seen = scalar(url, "SELECT count(*) FROM alerts")
        assert seen >= 1
        # both processes go on sweeping many rounds; still one alert, one case
        start = _rounds(url, procs)
        wait_until(lambda: all(n >= s + 10 for n, s in zip(_rounds(url, procs), start)), 30, what="more sweeps")
        assert scalar(url, "SELECT count(*) FROM alerts WHERE kiosk_id = 'S1' AND kind = 'silent'") == 1
        assert scalar(url, "SELECT count(*) FROM cases") <= 1
        del sweeps
    finally:
        for p in procs:
            stop(p)


def _port(proc: subprocess.Popen) -> int:
    return int(proc.args[proc.args.index("--port") + 1])


def _rounds(url: str, procs) -> list[int]:
    """Background rounds each process has done (/healthz)."""
    out = []
    for p in procs:
        doc = requests.get(f"http://127.0.0.1:{_port(p)}/healthz", timeout=5).json()
        out.append(_find(doc, "sweeps"))
    return out


def _find(doc, name):
    if isinstance(doc, dict):
        if name in doc and isinstance(doc[name], int):
            return doc[name]
        for v in doc.values():
            got = _find(v, name)
            if got is not None:
                return got
    return None


def test_workers_share_one_port_and_store_every_batch_once(pg_town, tmp_path):
    url = pg_town[0]
    port = free_port()
    proc = start_server(url, port, "--media", str(pg_town[2]), "--workers", "2", log=tmp_path / "workers.log")
    server = f"http://127.0.0.1:{port}"
    try:
        kiosks = [kiosk_of(pg_town, k) for k in pg_town[1]]
        before = scalar(url, "SELECT count(*) FROM ratings")
        sent = []
        for _ in range(5):
            batches = [(k, *k.batch(20), str(uuid.uuid4())) for k in kiosks]
            sent += [b for b in batches]
            replies = at_once(*[(lambda k=k, body=body, key=key: k.post(server, body, key))
                                for k, body, _r, key in batches])
            assert [r.status_code for r in replies] == [200] * len(kiosks)
        # each batch once more (a retry after a lost reply): all duplicates of what is held
        for k, body, _recs, key in sent[-len(kiosks):]:
            assert k.post(server, body, str(uuid.uuid4())).json()["results"][0]["status"] == "duplicate"
        assert scalar(url, "SELECT count(*) FROM ratings") == before + 5 * 20 * len(kiosks)
        for k in kiosks:
            assert_chain_whole(url, k.id)
        assert scalar(url, "SELECT sum(total) FROM rollup_day") == scalar(url, "SELECT count(*) FROM ratings")
    finally:
        stop(proc)


def test_workers_refused_on_sqlite(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hailong", "server", "--db", str(tmp_path / "town.db"),
                          "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert out.returncode != 0
    assert "--workers" in out.stderr and "PostgreSQL" in out.stderr
    assert not (tmp_path / "town.db").exists()
