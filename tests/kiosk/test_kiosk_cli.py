"""`hailong kiosk init` and `hailong kiosk verify` as an installer or inspector runs them."""
import sqlite3
import subprocess
import sys

from helpers import ROOT

from kiosk.store import KioskStore

KEY = "7e" * 32


def hailong(*args):
    return subprocess.run([sys.executable, "-m", "hailong", *args], cwd=ROOT, capture_output=True, text=True)


def config(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text(f'[kiosk]\nid = "K1"\nunit_code = "13321"\ndesk_id = "quay-1"\nkey = "{KEY}"\n', "utf-8")
    return p


def test_init_creates_then_reports_current(tmp_path):
    cfg = config(tmp_path)
    first = hailong("kiosk", "init", "--config", str(cfg))
    assert first.returncode == 0 and "schema now at version" in first.stdout
    assert (tmp_path / "kiosk.db").exists()
    again = hailong("kiosk", "init", "--config", str(cfg))
    assert again.returncode == 0 and "schema current" in again.stdout


def test_verify_ok_then_names_first_bad_seq(tmp_path):
    cfg = config(tmp_path)
    store = KioskStore(tmp_path / "kiosk.db", "K1", KEY)
    store.init()
    for level in (3, 1, 2, 3):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=level)
    store.close()
    ok = hailong("kiosk", "verify", "--config", str(cfg))
    assert ok.returncode == 0 and "OK: 4 ratings" in ok.stdout
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    conn.execute("UPDATE ratings SET level=3 WHERE seq=2")
    conn.commit()
    conn.close()
    bad = hailong("kiosk", "verify", "--config", str(cfg))
    assert bad.returncode == 1 and "BROKEN at seq 2" in bad.stderr


def test_verify_without_db_says_so(tmp_path):
    res = hailong("kiosk", "verify", "--config", str(config(tmp_path)))
    assert res.returncode == 2 and "hailong kiosk init" in res.stderr


def test_kiosk_without_a_key_says_which_key(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('[kiosk]\nid = "K1"\nunit_code = "13321"\ndesk_id = "quay-1"\n', "utf-8")
    res = hailong("kiosk", "--config", str(p))
    assert res.returncode == 2 and "[server] key: missing" in res.stderr
