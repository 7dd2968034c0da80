"""`hailong kiosk backup` / `restore` (issue 14) on real kiosk.db files: a backup while the kiosk appends,
restore with every rating and the chain verified, rotation, hostile paths, modes 0600, refusals."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from faultproxy import fill_kiosk
from helpers import wait_until

from kiosk import backup as kb
from kiosk.commands import kiosk
from kiosk.store import KioskStore

KEY = "5a" * 32


@pytest.fixture
def site(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[kiosk]\nid = "K1"\nunit_code = "13321"\ndesk_id = "quay-1"\ndb = "kiosk.db"\n'
        f'key = "{KEY}"\n', "utf-8")
    fill_kiosk(tmp_path / "kiosk.db", "K1", KEY, 300).close()
    return tmp_path


def cli(site, *args):
    return CliRunner().invoke(kiosk, ["--config", str(site / "config.toml"), *map(str, args)],
                              catch_exceptions=False)


def append(store, n=1):
    for _ in range(n):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3)


def test_backup_while_the_kiosk_appends_is_consistent_and_verifies(site):
    store = KioskStore(site / "kiosk.db", "K1", KEY)
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            append(store)
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    made = []
    try:
        for _ in range(3):
            before = store.last_seq()
            wait_until(lambda: store.last_seq() >= before + 5, what="the kiosk appending")
            made.append(kb.backup(site / "kiosk.db", KEY, site / "bk", keep=5))
    finally:
        stop.set()
        thread.join(30)
    counts = []
    for m in made:
        assert stat.S_IMODE(m.path.stat().st_mode) == 0o600
        copy = KioskStore(m.path)
        assert copy.verify(KEY) == (None, None)
        counts.append(copy.count())
        assert copy.last_seq() == copy.count()
        copy.close()
    assert counts == sorted(counts) and counts[0] > 300
    assert store.last_seq() > counts[-1] or store.last_seq() == counts[-1]
    store.close()
    assert stat.S_IMODE((site / "bk").stat().st_mode) == 0o700
    state = kb.last_backup(site / "kiosk.db")
    assert state["path"] == str(made[-1].path) and state["size"] == made[-1].size and state["ratings"] == counts[-1]
    assert stat.S_IMODE(kb.state_path(site / "kiosk.db").stat().st_mode) == 0o600


def test_restore_then_every_rating_and_the_chain_verify(site):
    result = cli(site, "backup", "--dir", site / "bk")
    assert result.exit_code == 0, result.output
    backup_file = next((site / "bk").glob("kiosk-*.db"))
    original = {r["id"]: r["hash"] for r in KioskStore(site / "kiosk.db").iter_records()}
    (site / "kiosk.db").unlink()            # kiosk.db lost
    for side in ("-wal", "-shm"):
        Path(str(site / "kiosk.db") + side).unlink(missing_ok=True)
    result = cli(site, "restore", backup_file)
    assert result.exit_code == 0, result.output
    restored = KioskStore(site / "kiosk.db")
    assert {r["id"]: r["hash"] for r in restored.iter_records()} == original
    restored.close()
    assert stat.S_IMODE((site / "kiosk.db").stat().st_mode) == 0o600
    assert cli(site, "verify").exit_code == 0
    assert backup_file.read_bytes()[:16] == b"SQLite format 3\x00"   # the backup itself untouched, still there


def test_restore_refuses_newer_and_running_without_force_and_keeps_the_old_aside(site):
    assert cli(site, "backup", "--dir", site / "bk").exit_code == 0
    backup_file = next((site / "bk").glob("kiosk-*.db"))
    store = KioskStore(site / "kiosk.db", "K1", KEY)
    append(store, 3)
    store.close()
    result = cli(site, "restore", backup_file)
    assert result.exit_code == 1 and "303" in result.output and "--force" in result.output, result.output
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "c.execute('SELECT count(*) FROM ratings').fetchone(); print('open', flush=True); sys.stdin.read()"),
        str(site / "kiosk.db")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = cli(site, "restore", backup_file)
        assert result.exit_code == 1 and ("đang được dùng" in result.output or "in use" in result.output), result.output
    finally:
        holder.stdin.close()
        holder.wait(30)
    result = cli(site, "restore", backup_file, "--force")
    assert result.exit_code == 0, result.output
    aside = [p for p in site.glob("kiosk.db.replaced-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1
    kept = KioskStore(aside[0])
    assert kept.last_seq() == 303
    kept.close()
    back = KioskStore(site / "kiosk.db")
    assert back.last_seq() == 300
    back.close()


def test_rotation_keeps_n_newest_and_never_a_foreign_file(site):
    folder = site / "bk"
    folder.mkdir(mode=0o700)
    foreign = folder / "kiosk-notes.db"
    foreign.write_text("mine")
    planted = folder / "kiosk-20000101T000000000000Z.db"
    planted.symlink_to(site / "config.toml")
    names = []
    for _ in range(4):
        assert cli(site, "backup", "--dir", folder, "--keep", 2).exit_code == 0
        names.append(kb.backupfiles.backups(folder, "kiosk", ".db")[0])
    assert kb.backupfiles.backups(folder, "kiosk", ".db") == [names[3], names[2]]
    assert planted.is_symlink() and foreign.read_text() == "mine" and (site / "config.toml").exists()
    assert cli(site, "backup", "--dir", folder, "--keep", 0).exit_code == 2


def test_hostile_input_gets_a_clear_line_and_touches_nothing(site):
    before = (site / "kiosk.db").read_bytes()
    tampered = site / "bad.db"
    assert cli(site, "backup", "--dir", site / "bk").exit_code == 0
    tampered.write_bytes(next((site / "bk").glob("kiosk-*.db")).read_bytes())
    con = sqlite3.connect(tampered)
    con.execute("UPDATE ratings SET level = 1 WHERE seq = 7")
    con.commit()
    con.close()
    result = cli(site, "restore", tampered)
    assert result.exit_code == 1 and ("HỎNG ở số 7" in result.output or "BROKEN at seq 7" in result.output), result.output
    junk = site / "junk.db"
    junk.write_text("not sqlite")
    result = cli(site, "restore", junk)
    assert result.exit_code == 1 and ("KHÔNG" in result.output or "FAILED" in result.output)
    result = cli(site, "restore", site / "none.db")
    assert result.exit_code == 1 and "none.db" in result.output
    result = cli(site, "restore", site)          # a folder
    assert result.exit_code != 0
    a_file = site / "afile"
    a_file.write_text("x")
    result = cli(site, "backup", "--dir", a_file)
    assert result.exit_code != 0 and "afile" in result.output
    assert (site / "kiosk.db").read_bytes() == before
    assert not [p for p in site.iterdir() if p.name.startswith(".")]


def test_disk_full_is_said_exit_1_and_the_last_good_backup_stays(site):
    assert cli(site, "backup", "--dir", site / "bk").exit_code == 0
    good = kb.backupfiles.backups(site / "bk", "kiosk", ".db")
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000))\n"
              "from kiosk.commands import kiosk\n"
              "kiosk(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", script, "--config", str(site / "config.toml"), "backup",
                           "--dir", str(site / "bk"), "--keep", "1"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 1, done.stderr
    assert ("đĩa" in done.stderr or "disk" in done.stderr) and str(site / "bk") in done.stderr, done.stderr
    assert kb.backupfiles.backups(site / "bk", "kiosk", ".db") == good
    assert sorted(p.name for p in (site / "bk").iterdir()) == [good[0].name]
