"""Runs of the real kiosk app under Xvfb, one process per scripted visit (tests/kiosk_driver.py).

``run_kiosk`` writes a config.toml for one visit; ``run_scenario`` runs the
driver on a given config; ``run_devices`` adds pty scanner and printer and a
receipt key. Each returns (driver result, ratings stored, the KioskStore).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import ROOT, TESTS
from ptys import RECEIPT_KEY

from kiosk.store import KioskStore

DRIVER = TESTS / "kiosk_driver.py"
KEY = "ab" * 32
BASE_UI = {"fullscreen": True, "idle_timeout": 2, "thanks_timeout": 1, "rapid_repeat_seconds": 0,
           "touch_debounce_ms": 120, "staff_pin": "2468", "long_press_seconds": 1}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return repr(v)


def run_kiosk(xvfb, tmp_path: Path, out: Path, scenario: str, ui=None, survey=None, demo=True):
    """Run one scripted visit; returns (driver result, ratings stored, the store)."""
    ui = {**BASE_UI, **(ui or {})}
    lines = ["[kiosk]", 'id = "TEST-KIOSK"', 'unit_code = "13321"', 'desk_id = "quay-1"',
             'db = "kiosk.db"', f'key = "{KEY}"', "[ui]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in ui.items()]
    lines += ["[survey]"] + [f"{k} = {toml_value(v)}" for k, v in (survey or {}).items()]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")
    return run_scenario(xvfb, config, out, scenario, demo)


def run_scenario(xvfb, config: Path, out: Path, scenario: str, demo: bool = True):
    """Run the driver on ``config`` (its kiosk.db beside it); returns (driver result, ratings, the store)."""
    cmd = [sys.executable, str(DRIVER), str(config), scenario, str(out)] + (["--demo"] if demo else [])
    proc = subprocess.run(cmd, env=xvfb, cwd=ROOT, capture_output=True, text=True, timeout=120)
    result_file = out / f"{scenario}.json"
    assert result_file.exists(), f"driver wrote no result (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text("utf-8"))
    assert result.get("ok"), result.get("error") or proc.stderr[-3000:]
    store = KioskStore(config.parent / "kiosk.db", key_hex=KEY)
    return result, store.records(), store


UI = {"fullscreen": "true", "idle_timeout": 3, "thanks_timeout": 1, "rapid_repeat_seconds": 0,
      "touch_debounce_ms": 120, "staff_pin": '"2468"', "long_press_seconds": 1, "staff_idle_timeout": 3}


def run_devices(xvfb, tmp_path: Path, out: Path, scenario: str):
    """Run a driver scenario with pty scanner and printer; returns (result, rows, store)."""
    ui = "\n".join(f"{k} = {v}" for k, v in UI.items())
    (tmp_path / "config.toml").write_text(
        '[kiosk]\nid = "TEST-KIOSK"\nunit_code = "13321"\ndesk_id = "quay-1"\ndb = "kiosk.db"\n'
        f'key = "{KEY}"\n[receipt]\nkey = "{RECEIPT_KEY}"\n[ui]\n{ui}\n[survey]\ncomment = false\n', "utf-8")
    return run_scenario(xvfb, tmp_path / "config.toml", out, scenario)
