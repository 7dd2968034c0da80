"""Secrets stay secret: what hailong creates is 0600 (files) / 0700 (folders), and a database
others can read is warned about at start, by the server and by the kiosk.

Every command runs under umask 022, the usual default, under which a plain
create gives 0644: the modes below come from hailong, not from the umask.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from faultproxy import write_config
from helpers import ROOT, free_port, start_server, stop

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def umask_022():
    os.umask(0o022)


def hailong(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hailong", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=120, preexec_fn=umask_022, **kw)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private_db(db: Path) -> None:
    assert mode(db) == 0o600, f"{db}: {mode(db):04o}"
    for suffix in ("-wal", "-shm"):
        side = Path(f"{db}{suffix}")
        if side.exists():
            assert mode(side) == 0o600, f"{side}: {mode(side):04o}"


def test_admin_enrol_kiosk_creates_a_private_town_db(tmp_path):
    db = tmp_path / "srv" / "town.db"
    run = hailong("admin", "--db", str(db), "enrol-kiosk", "--kiosk-id", "K1", "--unit", "13321", "--json")
    assert run.returncode == 0, run.stderr
    assert mode(db.parent) == 0o700
    assert_private_db(db)


def test_server_start_creates_private_town_db_and_media(tmp_path):
    db = tmp_path / "srv" / "town.db"
    log = tmp_path / "server.log"
    proc = start_server(db, free_port(), log=log, preexec_fn=umask_022)
    try:
        assert mode(db.parent) == 0o700
        assert_private_db(db)
        assert Path(f"{db}-wal").exists()        # the running server's WAL follows the file's mode
        assert mode(db.parent / "media") == 0o700
    finally:
        stop(proc)
    assert "readable by" not in log.read_text("utf-8", "replace")


def test_server_warns_once_at_start_when_town_db_is_readable_by_others(tmp_path):
    db = tmp_path / "town.db"
    assert hailong("admin", "--db", str(db), "migrate").returncode == 0
    os.chmod(db, 0o644)
    log = tmp_path / "server.log"
    proc = start_server(db, free_port(), log=log)
    stop(proc)
    lines = [ln for ln in log.read_text("utf-8", "replace").splitlines() if "readable by" in ln]
    assert len(lines) == 1 and str(db) in lines[0] and "0644" in lines[0], lines


def _kiosk_config(folder: Path, db: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, "K1", "ab" * 32, "", "")
    config.write_text(config.read_text("utf-8").replace('db = "kiosk.db"', f'db = "{db}"'), "utf-8")
    return config


def test_kiosk_init_creates_a_private_kiosk_db(tmp_path):
    config = _kiosk_config(tmp_path / "kiosk", "data/kiosk.db")
    run = hailong("kiosk", "init", "--config", str(config))
    assert run.returncode == 0, run.stderr
    db = tmp_path / "kiosk" / "data" / "kiosk.db"
    assert mode(db.parent) == 0o700
    assert_private_db(db)
    assert "readable by" not in run.stderr


def test_kiosk_warns_when_kiosk_db_is_readable_by_others(tmp_path):
    config = _kiosk_config(tmp_path / "kiosk", "kiosk.db")
    assert hailong("kiosk", "init", "--config", str(config)).returncode == 0
    db = tmp_path / "kiosk" / "kiosk.db"
    os.chmod(db, 0o644)
    run = hailong("kiosk", "init", "--config", str(config))
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if "readable by" in ln]
    assert len(lines) == 1 and str(db) in lines[0] and "0644" in lines[0], run.stderr


def test_demo_writes_its_configs_and_folder_private(tmp_path):
    from hailong.demo import kiosk_config
    from sync.filemodes import private_dir

    old = os.umask(0o022)
    try:
        folder = private_dir(tmp_path / "demo-data")
        path = kiosk_config(folder, "DT-MC-01", "quay-1", {"token": "t" * 40, "key": "ab" * 32}, 8080)
    finally:
        os.umask(old)
    assert mode(folder) == 0o700
    assert mode(path) == 0o600
