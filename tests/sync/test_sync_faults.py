"""Every rating arrives exactly once, whatever the link and the processes do.

Faults come from a TCP proxy (tests/faultproxy.py) between a real agent and
a real server; the server and the agent are also killed mid-drain. After
each: the server holds exactly the kiosk's ratings, once each, the chain
verifies server-side, and no alert was raised (nothing was tampered with).
"""
import gzip
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from faultproxy import (
    FaultProxy,
    ServerProcess,
    ServerThread,
    fill_kiosk,
    open_alerts,
    server_ratings,
    write_config,
)
from helpers import ROOT, wait_until
from sqlalchemy import func, select

from sync import protocol
from sync.agent import SyncAgent
from sync.server.core.admin_ops import enrol_kiosk
from sync.server.core.db import make_engine, migrate, ratings

BATCH = protocol.PATH_BATCH


@pytest.fixture
def town(tmp_path):
    server = ServerThread(tmp_path / "town.db")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
    yield server
    server.stop()


@pytest.fixture
def proxy(town):
    p = FaultProxy(town.port, match=BATCH)
    yield p
    p.close()


def agent_via(proxy, town, store, **kw):
    opts = dict(batch_size=50, timeout=0.5, min_backoff=0.01, max_backoff=0.05)
    opts.update(kw)
    return SyncAgent(store, proxy.url, town.k1["token"], "K1", **opts)


def assert_exactly_once(engine, key, store):
    held = server_ratings(engine, "K1")
    local = list(store.iter_records())
    assert len(held) == len(local)
    assert [h["id"] for h in held] == [r["id"] for r in local]   # every rating, once, in seq order
    assert protocol.verify_chain(held, key) == (None, None)
    assert store.sync_counts()["pending"] == 0 and store.sync_counts()["quarantined"] == 0
    assert open_alerts(engine, "K1") == []


@pytest.mark.parametrize("faults", [
    ["reset"], ["reset_mid"], ["delay:1.5"], ["status:500"], ["status:503"],
    ["drop_response"], ["drop_response", "drop_response", "status:500", "reset", "drop_response"],
])
def test_faults_on_the_link_lose_and_double_nothing(town, proxy, tmp_path, faults):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 230)
    proxy.add("pass", *faults)               # the 2nd batch meets the faults
    agent = agent_via(proxy, town, store)
    result = agent.drain()
    assert proxy.faults_left() == 0
    assert result.retries >= len(faults)      # (a loaded machine may add a timeout of its own)
    assert result.synced == 230
    assert_exactly_once(town.engine, town.k1["key"], store)


def test_same_idempotency_key_and_body_on_retry_after_lost_response(town, proxy, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 20)
    proxy.add("drop_response")
    sent = []
    agent = agent_via(proxy, town, store)
    original = agent.session.request

    def spy(method, url, **kw):
        if BATCH in url:
            sent.append((kw["headers"]["Idempotency-Key"], kw["data"]))
        return original(method, url, **kw)
    agent.session.request = spy
    agent.drain()
    assert len(sent) == 2 and sent[0][0] == sent[1][0]          # the same Idempotency-Key
    ratings_sent = [json.loads(gzip.decompress(body))["ratings"] for _key, body in sent]
    assert ratings_sent[0] == ratings_sent[1]                  # the same ratings
    from sync.server.core.db import batches
    with town.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar() == 1
    assert_exactly_once(town.engine, town.k1["key"], store)


def test_retry_after_is_honoured(town, proxy, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 10)
    proxy.add("status:503:1")
    agent_via(proxy, town, store, max_backoff=5).drain()
    hits = proxy.requests_to(BATCH)
    assert [h[2] for h in hits] == ["status:503:1", "pass"]
    assert hits[1][0] - hits[0][0] >= 0.95     # waited the server's Retry-After, not the 10 ms jitter
    assert_exactly_once(town.engine, town.k1["key"], store)


def test_backoff_is_exponential_with_full_jitter_and_capped(town, proxy, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 5)
    proxy.add(*["status:500"] * 8)
    # a generous timeout: on a busy machine a 0.5 s read timeout adds a retry this test does not count
    agent_via(proxy, town, store, min_backoff=0.02, max_backoff=0.16, timeout=10).drain()
    times = [h[0] for h in proxy.requests_to(BATCH)]
    waits = [b - a for a, b in zip(times, times[1:])]
    assert len(waits) == 8
    assert max(waits) < 0.16 + 0.5           # capped (plus request time); uncapped, the 8th wait could be 5 s
    assert_exactly_once(town.engine, town.k1["key"], store)


def test_connection_refused_until_the_link_comes_back(town, proxy, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 120)
    proxy.down()
    agent = agent_via(proxy, town, store)
    worker = threading.Thread(target=agent.drain)
    worker.start()
    wait_until(lambda: agent.last_error and "no answer" in agent.last_error, what="refused connections")
    assert store.sync_counts()["pending"] == 120
    proxy.up()
    worker.join(30)
    assert not worker.is_alive()
    assert_exactly_once(town.engine, town.k1["key"], store)


def test_server_killed_and_restarted_mid_drain(tmp_path):
    db = tmp_path / "town.db"
    engine = make_engine(str(db))
    migrate(engine)
    with engine.begin() as conn:
        k1 = enrol_kiosk(conn, "K1", "13321")
    server = ServerProcess(db, tmp_path / "server.log")
    try:
        store = fill_kiosk(tmp_path / "kiosk.db", "K1", k1["key"], 6000)
        agent = SyncAgent(store, server.url, k1["token"], "K1", batch_size=50, timeout=1,
                          min_backoff=0.05, max_backoff=0.2)
        worker = threading.Thread(target=agent.drain)
        worker.start()
        wait_until(lambda: store.sync_counts()["pending"] < 5500, what="drain under way")
        server.kill()
        left = store.sync_counts()["pending"]
        assert 0 < left < 6000
        wait_until(lambda: agent.last_error, what="the agent finding the server gone")
        server.start()
        worker.join(60)
        assert not worker.is_alive()
        assert_exactly_once(engine, k1["key"], store)
    finally:
        server.stop()
        engine.dispose()


def _pending(path) -> int:
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM ratings WHERE synced_at IS NULL").fetchone()[0]
    finally:
        conn.close()


def test_agent_killed_mid_batch_then_rerun(town, proxy, tmp_path):
    fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 400).close()
    config = write_config(tmp_path, "K1", town.k1["key"], proxy.url, town.k1["token"], batch_size=100)
    proxy.add("pass", "hold:30")          # the 2nd batch commits on the server; its answer is held
    cmd = [sys.executable, "-m", "hailong", "sync", "--config", str(config), "--once"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    agent = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: len(proxy.requests_to(BATCH)) >= 2, what="second batch in flight")
        wait_until(lambda: len(server_ratings(town.engine, "K1")) == 200, what="second batch committed")
        wait_until(lambda: _pending(tmp_path / "kiosk.db") == 300, what="first batch acknowledged on the kiosk")
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
    finally:
        if agent.poll() is None:
            agent.kill()
    from kiosk.store import KioskStore
    store = KioskStore(tmp_path / "kiosk.db", "K1", town.k1["key"])
    assert store.sync_counts()["pending"] == 300      # the 2nd batch was never acknowledged locally
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "synced 300" in out.stdout
    assert_exactly_once(town.engine, town.k1["key"], store)
    with town.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ratings)).scalar() == 400
