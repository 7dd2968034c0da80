"""The server acknowledges only what it durably stored in the database it was started on.

A real ``hailong server`` subprocess and a real agent (SyncAgent, and
``hailong sync --once``): town.db is deleted, replaced, made read-only or
corrupted under the running server. From then on every batch is answered
503 (with Retry-After), nothing more is marked synced on the kiosk,
``/healthz`` answers 503 naming what is wrong, and the server's log says so
once. After a restart on a sound town.db (the backup taken before the
accident), every rating the kiosk marked synced is on the server.

Read-only, as root (the tests run as root, whom ``chmod 0400`` does not
stop): ``chattr +i`` (the kernel refuses writes even to root, through
already open descriptors too), a read-only bind mount of town.db's folder
(EROFS), and ``chmod 0400`` (the server takes a mode without the owner's
write bit as read-only, whoever it runs as). The first two are skipped where
the machine does not allow them.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from faultproxy import fill_kiosk, open_alerts, server_ratings, write_config
from helpers import ROOT, free_port, start_server, stop, wait_until

from sync import protocol
from sync.agent import SyncAgent, TransientError
from sync.server.core.admin_ops import enrol_kiosk
from sync.server.core.db import make_engine, migrate


@dataclass
class Town:
    db: Path
    port: int
    proc: subprocess.Popen
    k1: dict
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restart(self) -> None:
        stop(self.proc)
        self.proc = start_server(self.db, self.port, log=self.log, timeout=30)

    def health(self) -> requests.Response:
        return requests.get(self.url + "/healthz", timeout=10)


@pytest.fixture
def town(tmp_path):
    db = tmp_path / "town" / "town.db"
    engine = make_engine(str(db))
    migrate(engine)
    with engine.begin() as conn:
        k1 = enrol_kiosk(conn, "K1", "13321")
    engine.dispose()
    log = tmp_path / "server.log"
    port = free_port()
    t = Town(db, port, start_server(db, port, log=log, timeout=30), k1, log)
    yield t
    stop(t.proc)


def agent_for(town, store) -> SyncAgent:
    return SyncAgent(store, town.url, town.k1["token"], "K1", batch_size=50, timeout=10,
                     min_backoff=0.01, max_backoff=0.05)


def synced_ids(store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT id FROM ratings WHERE synced_at IS NOT NULL")}


def backup(db: Path, to: Path) -> None:
    """A consistent copy of the running server's town.db (SQLite's online backup)."""
    src, dst = sqlite3.connect(db), sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def post_batch(town, store) -> requests.Response:
    records = store.pending(limit=10)
    body = {"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00", "ratings": records}
    import uuid
    return requests.post(town.url + protocol.PATH_BATCH, data=json.dumps(body),
                         headers={"Authorization": f"Bearer {town.k1['token']}", "Idempotency-Key": str(uuid.uuid4()),
                                  "Content-Type": "application/json"}, timeout=10)


def assert_unhealthy(town, store, words: str, before: set[str]) -> dict:
    """Batches 503 with Retry-After, nothing more marked synced, /healthz 503 naming the problem."""
    reply = post_batch(town, store)
    assert reply.status_code == 503, reply.text
    assert reply.headers.get("Retry-After", "").isdigit()
    assert "database unhealthy" in reply.json()["detail"] and words in reply.json()["detail"]
    with pytest.raises(TransientError):
        agent_for(town, store).drain(deadline=time.monotonic() + 1.5)
    assert synced_ids(store) == before
    health = town.health()
    assert health.status_code == 503
    body = health.json()
    assert body["ok"] is False and words in body["database"] and "background" in body
    return body


def unhealthy_lines(town) -> list[str]:
    return [ln for ln in town.log.read_text("utf-8", "replace").splitlines() if "DATABASE UNHEALTHY" in ln]


def test_healthz_is_ok_on_a_sound_database(town):
    reply = town.health()
    assert reply.status_code == 200
    assert reply.json()["ok"] is True and reply.json()["database"] == "ok"
    assert reply.json()["background"]["running"] is True
    assert reply.json()["notify"]["running"] is True      # the mail and webhook sender


def test_deleted_town_db_gets_503_and_nothing_synced_is_lost(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk" / "kiosk.db", "K1", town.k1["key"], 120)
    assert agent_for(town, store).drain().synced == 120
    backup(town.db, tmp_path / "nightly.db")

    os.remove(town.db)                               # a careless installer, under the running server
    fill_kiosk(store.path, "K1", town.k1["key"], 80)
    before = synced_ids(store)
    body = assert_unhealthy(town, store, "deleted", before)
    assert str(town.db) in body["database"]
    # the real `hailong sync --once` too: it retries the 503s, gives up, marks nothing
    config = write_config(store.path.parent, "K1", town.k1["key"], town.url, town.k1["token"])
    run = subprocess.run([sys.executable, "-m", "hailong", "sync", "--config", str(config), "--once",
                          "--give-up-after", "2", "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert run.returncode == 1, run.stderr
    assert "80 ratings still pending" in run.stderr
    assert synced_ids(store) == before and store.sync_counts()["pending"] == 80
    assert len(unhealthy_lines(town)) == 1          # said once, clearly, however many batches came

    # restart on the backup: every rating the kiosk marked synced is there, the rest arrives now
    stop(town.proc)
    for suffix in ("-wal", "-shm"):
        Path(f"{town.db}{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "nightly.db", town.db)
    town.restart()
    assert town.health().json()["ok"] is True
    assert agent_for(town, store).drain().synced == 80
    engine = make_engine(str(town.db))
    try:
        held = server_ratings(engine, "K1")
        assert synced_ids(store) <= {r["id"] for r in held}
        assert [r["id"] for r in held] == [r["id"] for r in store.iter_records()]
        assert protocol.verify_chain(held, town.k1["key"]) == (None, None)
        assert open_alerts(engine, "K1") == []
    finally:
        engine.dispose()


def test_replaced_town_db_gets_503(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk" / "kiosk.db", "K1", town.k1["key"], 60)
    assert agent_for(town, store).drain().synced == 60
    other = town.db.with_name("other.db")
    backup(town.db, other)
    os.replace(other, town.db)                       # same content, another file
    fill_kiosk(store.path, "K1", town.k1["key"], 20)
    assert_unhealthy(town, store, "replaced", synced_ids(store))
    assert len(unhealthy_lines(town)) == 1


def _chattr(flag: str, path: Path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def _read_only_bind(folder: Path, on: bool) -> bool:
    if not on:   # the server holds town.db open, so a plain umount may be refused as busy: detach lazily then
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode == 0:
            return True
        return subprocess.run(["umount", "-l", str(folder)], capture_output=True).returncode == 0
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode != 0:
        return False
    if subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(folder)], capture_output=True)
        return False
    return True


@pytest.mark.parametrize("how", ["chattr", "bind_ro", "chmod"])
def test_read_only_town_db_gets_503_until_writable_again(town, tmp_path, how):
    store = fill_kiosk(tmp_path / "kiosk" / "kiosk.db", "K1", town.k1["key"], 60)
    assert agent_for(town, store).drain().synced == 60
    if how == "chattr":
        if not _chattr("+i", town.db):
            pytest.skip("chattr +i not possible here")
        undo = lambda: _chattr("-i", town.db)   # noqa: E731
    elif how == "bind_ro":
        if not _read_only_bind(town.db.parent, True):
            pytest.skip("no read-only bind mount here")
        undo = lambda: _read_only_bind(town.db.parent, False)   # noqa: E731
    else:
        os.chmod(town.db, 0o400)
        undo = lambda: os.chmod(town.db, 0o600)   # noqa: E731
    try:
        fill_kiosk(store.path, "K1", town.k1["key"], 20)
        assert_unhealthy(town, store, "read-only", synced_ids(store))
    finally:
        undo()
    # writable again: the same server takes the batches, nothing lost or doubled (a bind mount's undo
    # may take a moment to reach the server's next check: wait on it)
    wait_until(lambda: town.health().json()["ok"] is True, 20, "/healthz ok again")
    assert agent_for(town, store).drain().synced == 20
    engine = make_engine(str(town.db))
    try:
        assert [r["id"] for r in server_ratings(engine, "K1")] == [r["id"] for r in store.iter_records()]
    finally:
        engine.dispose()


def test_corrupt_town_db_gets_503(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk" / "kiosk.db", "K1", town.k1["key"], 60)
    assert agent_for(town, store).drain().synced == 60
    with open(town.db, "r+b") as fh:                  # the header overwritten
        fh.write(b"\xde\xad\xbe\xef" * 25)
        fh.flush()
        os.fsync(fh.fileno())
    fill_kiosk(store.path, "K1", town.k1["key"], 20)
    assert_unhealthy(town, store, "corrupt", synced_ids(store))
    assert len(unhealthy_lines(town)) == 1


def test_a_server_started_on_a_corrupt_file_says_so_and_does_not_serve(tmp_path):
    db = tmp_path / "town.db"
    db.write_bytes(b"this is not a database, just a file of the same name" * 100)
    run = subprocess.run([sys.executable, "-m", "hailong", "server", "--db", str(db), "--port", str(free_port())],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=60)
    assert run.returncode != 0
    assert "cannot open the database" in run.stderr and "not a database" in run.stderr


def test_a_commit_that_went_to_a_replaced_file_is_not_acknowledged(tmp_path, monkeypatch):
    """The file is swapped while the batch is inside its transaction: the commit lands in the old
    inode, and the check after the commit answers 503 instead of 200 (the kiosk resends)."""
    from faultproxy import ServerThread

    from sync.server.core import ingest
    server = ServerThread(tmp_path / "town.db")
    try:
        with server.engine.begin() as conn:
            k1 = enrol_kiosk(conn, "K1", "13321")
        real = ingest.ingest

        def ingest_then_swap(conn, *args, **kwargs):
            reply = real(conn, *args, **kwargs)
            copy = tmp_path / "copy.db"
            shutil.copy(tmp_path / "town.db", copy)
            os.replace(copy, tmp_path / "town.db")   # before the commit, after the check at the start
            return reply
        monkeypatch.setattr(ingest, "ingest", ingest_then_swap)
        store = fill_kiosk(tmp_path / "kiosk.db", "K1", k1["key"], 30)
        agent = SyncAgent(store, server.url, k1["token"], "K1", batch_size=50, timeout=10,
                          min_backoff=0.01, max_backoff=0.05)
        with pytest.raises(TransientError):
            agent.drain(deadline=time.monotonic() + 1)
        assert synced_ids(store) == set()
        assert store.sync_counts()["pending"] == 30
        assert server.app.state.health.problem() is not None
    finally:
        server.stop()


def test_sqlite_error_codes_mean_unhealthy_and_bugs_do_not(tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DatabaseError, IntegrityError

    from sync.server.core.health import DbHealth
    db = tmp_path / "town.db"
    engine = make_engine(str(db))
    migrate(engine)
    health = DbHealth(engine)
    assert health.problem() is None
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        try:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        except IntegrityError as exc:
            assert health.classify(exc) is None            # a constraint: the caller's bug, not the disk
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 200)
    try:
        with create_engine(f"sqlite:///{junk}").connect() as conn:
            conn.exec_driver_sql("SELECT * FROM sqlite_master")
    except DatabaseError as exc:
        found = health.classify(exc)
    assert found and "corrupt" in found
    assert "corrupt" in health.problem()                 # until a restart
