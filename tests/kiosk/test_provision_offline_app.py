"""Issue 14's done-when: a kiosk provisioned from a bundle with the network unplugged rates and prints.

The town server runs; the admin makes the kiosk's bundle; the server is
stopped; the kiosk is provisioned from the file; the real Kivy app under
Xvfb shows the roster at once, an officer prints a QR receipt on the pty
printer (signed with the bundle's receipt key), the printed QR read back at
the scanner rates its officer. Then the server comes back and `hailong sync
--once` delivers the rating with the bundle's new token.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from helpers import ROOT, free_port, start_server, stop
from kiosk_runs import run_scenario

from kiosk.store import KioskStore

DEMO_ROSTER = ROOT / "assets" / "demo" / "roster.json"
UI = ('[ui]\nfullscreen = true\nidle_timeout = 3\nthanks_timeout = 1\nrapid_repeat_seconds = 0\n'
      'touch_debounce_ms = 120\nstaff_pin = "2468"\nlong_press_seconds = 1\nstaff_idle_timeout = 20\n'
      '[survey]\ncomment = false\n')


def hailong(*args, stdin=None):
    proc = subprocess.run([sys.executable, "-m", "hailong", *map(str, args)], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "LANGUAGE": "vi"})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def test_provisioned_offline_the_kiosk_rates_and_prints_a_receipt(xvfb, artifacts, tmp_path):
    town = tmp_path / "town" / "town.db"
    town.parent.mkdir()
    hailong("admin", "--db", town, "import-roster", DEMO_ROSTER)
    hailong("admin", "--db", town, "enrol-kiosk", "--kiosk-id", "DT-MC-01", "--unit", "13321", "--json")
    port = free_port()
    server = start_server(town, port)
    try:
        made = hailong("admin", "--db", town, "kiosk-bundle", "--kiosk-id", "DT-MC-01", "--desk", "quay-1",
                       "--server-url", f"http://127.0.0.1:{port}", "--out", tmp_path / "usb" / "DT-MC-01.hlk")
    finally:
        stop(server)                                     # the network is unplugged from here on
    passphrase = made.stdout.strip()
    kiosk = tmp_path / "kiosk"
    kiosk.mkdir()
    config = kiosk / "config.toml"
    config.write_text(UI, "utf-8")                       # the installer's settings, before the bundle
    hailong("kiosk", "provision", tmp_path / "usb" / "DT-MC-01.hlk", "--config", config, "--passphrase-stdin",
            stdin=passphrase + "\n")
    result, _, _ = run_scenario(xvfb, config, artifacts("kiosk"), "provisioned_offline", demo=False)
    notes = result["notes"]
    assert notes["at_start"] == {"receipt_key": True, "officers": 3}, notes["at_start"]
    assert notes["officers_on_welcome"]
    assert notes["print_outcome"][0], notes["print_outcome"]
    assert notes["jobs"] >= 1 and len(notes["printed_codes"]) == 1, notes
    assert notes["rate_officer"] == "Trần Văn Đức"
    assert notes["counts"]["pending"] == 1 and notes["counts"]["total"] == 1, notes["counts"]
    cfg_text = config.read_text("utf-8")
    key = next(line.split('"')[1] for line in cfg_text.splitlines() if line.startswith("key ="))
    store = KioskStore(kiosk / "kiosk.db", "DT-MC-01", key)
    (record,) = store.records()
    assert record["source"] == "receipt" and record["officer_id"] == "cb-002" and record["dossier_code"] == "HS-0042"
    store.close()
    hailong("kiosk", "verify", "--config", config)
    # the link comes back: the bundle's token delivers the rating
    server = start_server(town, port)
    try:
        hailong("sync", "--config", config, "--once")
    finally:
        stop(server)
    with sqlite3.connect(town) as conn:
        rows = conn.execute("SELECT kiosk_id, officer_id, dossier_code FROM ratings").fetchall()
    assert rows == [("DT-MC-01", "cb-002", "HS-0042")]
    assert KioskStore(kiosk / "kiosk.db", "DT-MC-01", key).sync_counts()["pending"] == 0
