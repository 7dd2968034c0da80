"""`hailong update` (issue 14): a new version installed beside the running one, the database backed up and
migrated, the service started and checked; a version that does not start is rolled back, code and database.

Real parts: an installation laid out as deploy/install.sh makes it (PREFIX/.venv, a non-editable install
of this tree), new versions built by pip from copies of this tree (0.7.0; 0.7.1 broken on purpose), the
databases hailong 0.1.0 wrote (tests/fixtures/v0_1_0), a real `hailong server` on 127.0.0.1 started and
stopped by the commands `--start-command` / `--stop-command` give (there is no systemd here; on a machine
systemctl is used and the check is the same /healthz).

The venvs have none of the dependencies of their own: a .pth file points at this checkout's .venv, so
that a release costs a pip install of hailong alone (seconds, no network).
"""
from __future__ import annotations

import os
import shutil
import site
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import ROOT, free_port
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from v010 import build, dump_rows, kiosk_site, rows, same_fields

from sync.server.core.backup import check_chains

SKIP = {".venv", ".git", "test-artifacts", "demo-data", "build", "__pycache__", ".pytest_cache", "node_modules"}


def _tree_copy(to: Path, version: str, broken: str | None = None) -> Path:
    """This tree as version ``version``; ``broken``: a module (path) that raises when imported."""
    shutil.copytree(ROOT, to, ignore=lambda d, names: [n for n in names if n in SKIP or n.endswith(".egg-info")])
    setup = to / "setup.py"
    setup.write_text(setup.read_text("utf-8").replace('version="0.6.0"', f'version="{version}"'), "utf-8")
    if broken:
        target = to / broken
        target.write_text(target.read_text("utf-8") + '\nraise RuntimeError("broken on purpose by the update test")\n',
                          "utf-8")
    return to


def _pip_install(venv: Path, source: Path) -> None:
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           "--no-build-isolation", str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("sources")
    return {"0.6.0": _tree_copy(base / "v060", "0.6.0"), "0.7.0": _tree_copy(base / "v070", "0.7.0"),
            "server-broken": _tree_copy(base / "v071s", "0.7.1", broken="sync/server/app.py"),
            "kiosk-broken": _tree_copy(base / "v071k", "0.7.1", broken="kiosk/commands.py")}


def installed(prefix: Path, sources) -> Path:
    """PREFIX/.venv holding hailong 0.6.0 (not editable), as deploy/install.sh leaves it."""
    venv = prefix / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    deps = next((venv / "lib").glob("python3*/site-packages"))
    (deps / "hailong-test-deps.pth").write_text(site.getsitepackages()[0] + "\n", "utf-8")
    _pip_install(venv, sources["0.6.0"])
    return venv


def hailong(prefix: Path, *args, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(prefix / ".venv" / "bin" / "python"), "-m", "hailong", *args], capture_output=True,
                          text=True, timeout=900, env={**env, "LANGUAGE": "en"}, cwd=prefix, **kw)


def version(prefix: Path) -> str:
    done = hailong(prefix, "--version")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def chains(db: Path) -> dict:
    """Every kiosk's chain verified: {"kiosks", "ratings"} (raises naming the first broken link)."""
    engine = create_engine(f"sqlite:///{db}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return check_chains(conn)
    finally:
        engine.dispose()


def test_a_server_updates_and_a_broken_version_is_rolled_back(tmp_path, sources):
    prefix = tmp_path / "opt-hailong"
    installed(prefix, sources)
    db = build("town", tmp_path / "town.db")                   # what 0.1.0 wrote
    before = dump_rows("town", "ratings", "id")
    assert hailong(prefix, "admin", "--db", str(db), "migrate").returncode == 0   # installing 0.6.0 did this
    port = free_port()
    pid, log = tmp_path / "server.pid", tmp_path / "server.log"
    start = (f"nohup {{venv}}/bin/python -m hailong server --db {db} --port {port} >>{log} 2>&1 </dev/null & "
             f"echo $! > {pid}")
    stop = f"if [ -f {pid} ]; then kill $(cat {pid}); while kill -0 $(cat {pid}) 2>/dev/null; do sleep 0.1; done; fi"
    health = f"http://127.0.0.1:{port}/healthz"
    common = ["--role", "server", "--prefix", str(prefix), "--db", str(db), "--start-command", start,
              "--stop-command", stop, "--health-url", health, "--timeout", "40"]
    assert subprocess.run(start.replace("{venv}", str(prefix / ".venv")), shell=True, timeout=30).returncode == 0
    try:
        up = hailong(prefix, "update", str(sources["0.7.0"]), *common)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "0.6.0 -> 0.7.0" in up.stdout and "migrates a copy of the database" in up.stdout
        assert version(prefix) == "0.7.0" and (prefix / ".venv").is_symlink()
        assert requests.get(health, timeout=5).json()["ok"] is True
        assert same_fields(before, rows(db, "ratings", "id")) == []
        backups = sorted((prefix / "updates").glob("*/town-*.db"))
        assert len(backups) == 1 and (backups[0].stat().st_mode & 0o777) == 0o600
        assert chains(db) == {"kiosks": 2, "ratings": len(before)}

        # a version that does not start: the old one runs again, on its own database
        down = hailong(prefix, "update", str(sources["server-broken"]), *common)
        assert down.returncode == 3, down.stdout + down.stderr
        assert "0.7.1" in down.stderr and "0.7.0" in down.stderr and "rolled back" in down.stderr.lower()
        assert version(prefix) == "0.7.0"
        assert requests.get(health, timeout=5).json()["ok"] is True
        assert same_fields(before, rows(db, "ratings", "id")) == []
        assert chains(db) == {"kiosks": 2, "ratings": len(before)}
        releases = sorted(p.name.split("-", 1)[1] for p in (prefix / "releases").iterdir())
        assert releases == ["0.6.0", "0.7.0", "0.7.1"]     # kept: the admin can look at what failed
    finally:
        subprocess.run(stop, shell=True, timeout=60)


def test_a_kiosk_updates_from_0_1_0_data_and_a_broken_version_changes_nothing(tmp_path, sources):
    prefix = tmp_path / "opt-hailong"
    installed(prefix, sources)
    config = kiosk_site(tmp_path / "site")                     # kiosk.db and config.toml of 0.1.0
    db = tmp_path / "site" / "kiosk.db"
    before = dump_rows("kiosk", "ratings", "id")
    check = f"{{venv}}/bin/python -m hailong kiosk --config {config} verify"    # the unit's stand-in
    common = ["--role", "kiosk", "--prefix", str(prefix), "--config", str(config), "--start-command", check,
              "--stop-command", "true", "--timeout", "60"]
    up = hailong(prefix, "update", str(sources["0.7.0"]), *common)
    assert up.returncode == 0, up.stdout + up.stderr
    assert version(prefix) == "0.7.0"
    assert same_fields(before, rows(db, "ratings", "id")) == []
    verified = hailong(prefix, "kiosk", "--config", str(config), "verify")
    assert verified.returncode == 0 and str(len(before)) in verified.stdout, verified.stdout + verified.stderr
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()

    # a new version whose kiosk commands cannot run fails on the trial copy: nothing stopped, nothing changed
    once = db.read_bytes()
    down = hailong(prefix, "update", str(sources["kiosk-broken"]), *common)
    assert down.returncode == 1, down.stdout + down.stderr
    assert "hailong" in down.stderr and "broken on purpose" in down.stderr
    assert version(prefix) == "0.7.0" and db.read_bytes() == once
    assert [p.name.split("-", 1)[1] for p in sorted((prefix / "releases").iterdir())] == ["0.6.0", "0.7.0"]


def test_update_refuses_what_it_cannot_do(tmp_path):
    env = {**os.environ, "LANGUAGE": "en"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "hailong", "update", *a], capture_output=True,  # noqa: E731
                                    text=True, cwd=ROOT, env=env, timeout=60)
    done = run("x", "--role", "server", "--prefix", str(tmp_path))
    assert done.returncode == 2 and "--db" in done.stderr
    done = run("x", "--role", "kiosk", "--prefix", str(tmp_path), "--config", str(tmp_path / "none.toml"))
    assert done.returncode == 2 and "none.toml" in done.stderr
    (tmp_path / "c.toml").write_text("[kiosk]\n", "utf-8")
    done = run("x", "--role", "kiosk", "--prefix", str(tmp_path / "empty"), "--config", str(tmp_path / "c.toml"))
    assert done.returncode == 1 and "bin/python" in done.stderr and "Traceback" not in done.stderr
