"""`hailong admin backup` / `restore` (issue 14) on both engines: online backups while batches arrive, restore,
every rating and chain verified after, rotation, modes, refusals."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from faultproxy import BatchKiosk, ServerThread, server_ratings

from sync import protocol
from sync.server.admin_cli import admin
from sync.server.core import backup as core_backup
from sync.server.core.admin_ops import enrol_kiosk
from sync.server.core.db import make_engine


def cli(*args):
    return CliRunner().invoke(admin, list(map(str, args)), catch_exceptions=False)


@pytest.fixture
def town(town_db):
    server = ServerThread(town_db)
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        server.k2 = enrol_kiosk(conn, "K2", "13321")
    server.db = str(town_db)
    yield server
    server.stop()


def post_batches(server, kiosk: BatchKiosk, batches: int, n: int = 50) -> None:
    for _ in range(batches):
        body, _recs = kiosk.batch(n)
        r = kiosk.post(server.url, body, str(uuid.uuid4()))
        assert r.status_code == 200, r.text


def test_backup_while_batches_arrive_then_restore_verifies(town, tmp_path, another_town_db):
    k1, k2 = BatchKiosk("K1", town.k1), BatchKiosk("K2", town.k2)
    post_batches(town, k1, 4)
    stop = threading.Event()
    sent = []

    def writer():
        while not stop.is_set():
            post_batches(town, k2, 1, 20)
            sent.append(1)
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        from helpers import wait_until
        wait_until(lambda: len(sent) >= 2, what="batches arriving")
        made = core_backup.backup(town.engine, town.db, tmp_path / "bk", keep=3)
        wait_until(lambda: len(sent) >= 4, what="more batches after the backup")
    finally:
        stop.set()
        thread.join(30)
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert made.size > 0 and not [p for p in (tmp_path / "bk").iterdir() if p.name.startswith(".")]
    with town.engine.connect() as conn:
        last = core_backup.last_backup(conn)
    assert last["path"] == str(made.path) and last["size"] == made.size and last["at"] == made.at

    target = another_town_db("restored")
    result = cli("--db", target, "restore", made.path)
    assert result.exit_code == 0, result.output
    engine = make_engine(str(target))
    try:
        got = {k: server_ratings(engine, k) for k in ("K1", "K2")}
        with engine.connect() as conn:
            assert core_backup.check_chains(conn)["ratings"] == len(got["K1"]) + len(got["K2"])
    finally:
        engine.dispose()
    # a consistent moment: K1 whole (it had finished), K2 a prefix of what it sent, each chain verifying
    assert [r["seq"] for r in got["K1"]] == list(range(1, 201))
    assert 40 <= len(got["K2"]) < 20 * len(sent) + 1
    assert [r["seq"] for r in got["K2"]] == list(range(1, len(got["K2"]) + 1))
    assert protocol.verify_chain(got["K1"], town.k1["key"]) == (None, None)
    assert protocol.verify_chain(got["K2"], town.k2["key"]) == (None, None)
    live = {r["id"]: r for r in server_ratings(town.engine, "K2")}
    assert all(live[r["id"]]["hash"] == r["hash"] for r in got["K2"])


def test_rotation_keeps_the_newest_and_the_cli_says_so(town, tmp_path):
    post_batches(town, BatchKiosk("K1", town.k1), 1, 10)
    folder = tmp_path / "bk"
    folder.mkdir()
    foreign = folder / "notes.txt"
    foreign.write_text("keep me")
    ext = core_backup.SQLITE_EXT if town.engine.dialect.name == "sqlite" else core_backup.PG_EXT
    planted = folder / f"town-20000101T000000000000Z{ext}"   # the oldest name of all, but a symlink
    planted.symlink_to(foreign)
    made = []
    for _ in range(4):
        result = cli("--db", town.db, "backup", "--dir", folder, "--keep", 2)
        assert result.exit_code == 0, result.output
        made.append(sorted(folder.glob(f"town-2*{ext}"))[-1])
    left = core_backup.backupfiles.backups(folder, "town", ext)
    assert left == sorted(set(made), reverse=True)[:2]
    assert planted.is_symlink() and foreign.read_text() == "keep me"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in left)


def test_hostile_paths_get_a_clear_line(town, tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    result = cli("--db", town.db, "backup", "--dir", a_file)
    assert result.exit_code != 0 and "afile" in result.output
    result = cli("--db", town.db, "restore", tmp_path / "missing.db")
    assert result.exit_code == 1 and "missing.db" in result.output
    result = cli("--db", town.db, "restore", tmp_path)
    assert result.exit_code != 0
    junk = tmp_path / "town-20260101T000000000000Z.db"
    junk.write_bytes(b"not a backup at all")
    result = cli("--db", town.db, "restore", junk)
    assert result.exit_code == 1 and ("KHÔNG" in result.output or "FAILED" in result.output)
    # nothing of the town was touched
    assert len(server_ratings(town.engine, "K1")) == 0


def test_pg_tool_older_than_the_server_is_refused_by_name():
    with pytest.raises(core_backup.BackupError, match="postgresql-client-99"):
        core_backup.pg_tool("pg_dump", 99)


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_a_tampered_sqlite_backup_is_refused_and_the_town_kept(town, tmp_path, another_town_db):
    post_batches(town, BatchKiosk("K1", town.k1), 1, 10)
    made = core_backup.backup(town.engine, town.db, tmp_path / "bk")
    con = sqlite3.connect(made.path)
    con.execute("UPDATE ratings SET comment = 'sửa' WHERE seq = 4 AND kiosk_id = 'K1'")
    con.commit()
    con.close()
    target = another_town_db("restored")
    result = cli("--db", target, "restore", made.path)
    assert result.exit_code == 1 and "K1" in result.output and "4" in result.output, result.output
    assert not Path(target).exists()
    with pytest.raises(core_backup.BackupError):    # the backup is checked before it counts, too
        core_backup._check_sqlite_town(made.path)


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_restore_refuses_a_running_or_newer_town_without_force(town, tmp_path):
    k1 = BatchKiosk("K1", town.k1)
    post_batches(town, k1, 1, 10)
    made = core_backup.backup(town.engine, town.db, tmp_path / "bk")
    town.stop()
    # another process holds town.db open (a running server): refused, then --force
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL');"
        "c.execute('SELECT count(*) FROM ratings').fetchone(); print('open', flush=True); sys.stdin.read()"),
        town.db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = cli("--db", town.db, "restore", made.path)
        assert result.exit_code == 1 and "--force" in result.output, result.output
    finally:
        holder.stdin.close()
        holder.wait(30)
    # newer: a rating received after the backup's time
    engine = make_engine(town.db)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ratings SET received_at = '2999-01-01T00:00:00Z' WHERE seq = 10")
    engine.dispose()
    result = cli("--db", town.db, "restore", made.path)
    assert result.exit_code == 1 and ("mới hơn" in result.output or "newer" in result.output), result.output
    result = cli("--db", town.db, "restore", made.path, "--force")
    assert result.exit_code == 0, result.output
    asides = list(Path(town.db).parent.glob("town.db.replaced-*"))
    assert [p for p in asides if not p.name.endswith(("-wal", "-shm"))]
    town.stop = lambda: None     # stopped above


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_disk_full_is_said_and_leaves_nothing_behind(town, tmp_path):
    post_batches(town, BatchKiosk("K1", town.k1), 2, 50)
    folder = tmp_path / "bk"
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000))\n"
              "from sync.server.admin_cli import admin\n"
              "admin(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", script, "--db", town.db, "backup", "--dir", str(folder)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 1, done.stderr
    assert ("đĩa" in done.stderr or "disk" in done.stderr) and str(folder) in done.stderr, done.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("engine_name", ["postgresql"], indirect=True)
def test_pg_restore_over_a_running_town_is_refused_then_keeps_the_old_one_aside(town, tmp_path):
    k1 = BatchKiosk("K1", town.k1)
    post_batches(town, k1, 2, 25)
    made = core_backup.backup(town.engine, town.db, tmp_path / "bk")
    assert made.path.suffix == ".dump" and stat.S_IMODE(made.path.stat().st_mode) == 0o600
    post_batches(town, k1, 1, 25)        # 75 now; the dump holds 50
    result = cli("--db", town.db, "restore", made.path)
    assert result.exit_code == 1 and "--force" in result.output, result.output     # the server's connections
    town.stop()
    result = cli("--db", town.db, "restore", made.path)
    assert result.exit_code == 1 and "--force" in result.output, result.output     # newer: 25 received since
    result = cli("--db", town.db, "restore", made.path, "--force")
    assert result.exit_code == 0, result.output
    engine = make_engine(town.db)
    try:
        held = server_ratings(engine, "K1")
    finally:
        engine.dispose()
    assert [r["seq"] for r in held] == list(range(1, 51))
    assert protocol.verify_chain(held, town.k1["key"]) == (None, None)
    aside = list((tmp_path / "bk").glob("replaced-*.dump"))
    assert len(aside) == 1 and stat.S_IMODE(aside[0].stat().st_mode) == 0o600
    pg_restore = core_backup.pg_tool("pg_restore", 15)
    assert "ratings" in core_backup.check_dump(aside[0], pg_restore)
