"""The real kiosk app under Xvfb, unattended (issue 14): opening hours, the staff panel's health, systemd's watchdog.

Each runs tests/kiosk_driver.py in its own process (one Kivy window per process), driven by real touches.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT
from kiosk_runs import BASE_UI, DRIVER, KEY, run_scenario, toml_value

from kiosk.hours import taps_outside
from kiosk.store import KioskStore

HOURS = {d: ["07:30-11:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["07:30-11:30"]}


def write_config(tmp_path: Path, hours: dict | None = None, ui: dict | None = None) -> Path:
    lines = ["[kiosk]", 'id = "TEST-KIOSK"', 'unit_code = "13321"', 'desk_id = "quay-1"', 'db = "kiosk.db"',
             f'key = "{KEY}"', "[ui]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in {**BASE_UI, **(ui or {})}.items()]
    lines += ["[survey]", "comment = false"]
    if hours:
        lines += ["[hours]"] + [f"{day} = {json.dumps(ranges)}" for day, ranges in hours.items()]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")
    return config


def test_outside_hours_taps_do_nothing_but_count_and_the_screen_lights_at_opening(xvfb, artifacts, tmp_path):
    out = artifacts("kiosk/unattended")
    result, rows, store = run_scenario(xvfb, write_config(tmp_path, HOURS), out, "outside_hours")
    notes = result["notes"]
    # a citizen who began at 11:29 finishes after 11:30: the rating is kept, the screen was not dimmed under them
    assert notes["open_at_1129"] and notes["dimmed_during_visit"] is False and notes["rows_after_visit"] == 1
    # back on welcome after closing: the dark cover says so, in Vietnamese first, English below
    texts = notes["shot_texts"]
    assert texts["closed_title"] == "Ngoài giờ làm việc"
    assert texts["closed_hours"] == "Giờ làm việc: Thứ Hai – Thứ Sáu 07:30–11:30, 13:30–17:00\nThứ Bảy 07:30–11:30"
    assert texts["closed_opens"] == "Mở lại lúc 13:30, Thứ Hai 07/12/2026"
    assert texts["closed_other"].startswith("Outside opening hours\nOpening hours: Monday – Friday 07:30–11:30")
    assert texts["closed_other"].endswith("Opens again at 13:30, Monday 07/12/2026")
    assert texts["closed_clock"] == "11:31"
    # three taps (start button, middle of the screen, language button): no visit, no rating, no language change
    assert notes["taps_counted"] == 3
    assert notes["after_taps"] == {"screen": "welcome", "visit": "welcome", "rows": 1, "lang_same": True,
                                   "dimmed": True}
    assert (out / "closed_dimmed.png").stat().st_size > 10_000
    # the staff panel opens outside the hours and counts the ignored taps; closing it dims again
    assert notes["panel_dimmed"] is False and notes["dimmed_after_panel"] is True
    assert notes["panel_health_line"].endswith("Chạm ngoài giờ làm việc: 3")
    # 13:29:57 → the Clock event at 13:30 lights the screen by itself; a tap then starts a visit
    assert notes["still_dimmed_at_132957"] is True
    assert notes["lit_at"] >= "13:30:00" and notes["lit_at"] < "13:30:10"
    assert notes["overlay_gone"] and notes["screen_after_opening_tap"] in ("choose_officer", "rate")
    # one rating in kiosk.db, and the count survives the app: another process reads 3
    assert len(rows) == 1 and rows[0]["level"] == 3
    assert taps_outside(KioskStore(tmp_path / "kiosk.db")) == 3


def test_staff_panel_shows_health_and_the_ntp_warning(xvfb, artifacts, tmp_path):
    out = artifacts("kiosk/unattended")
    result, _rows, _store = run_scenario(xvfb, write_config(tmp_path), out, "staff_health")
    notes = result["notes"]
    # what the heartbeat gets: the app's device_state carries the summary, exactly its keys
    health = notes["device_state"]["health"]
    assert set(health) == {"disk_free_mb", "db_bytes", "last_backup", "uptime_s", "temperature_c", "clock_synced",
                           "taps_outside_hours"}
    assert health["clock_synced"] is False and health["temperature_c"] == 52.3 and health["taps_outside_hours"] == 0
    assert health["last_backup"].endswith("+07:00")
    line = notes["health_line"]
    assert line.startswith("Ổ đĩa còn trống ") and " · kiosk.db " in line and line.endswith(" · 52 °C")
    day = health["last_backup"][:10]
    assert f"Sao lưu gần nhất {day[8:10]}/{day[5:7]}/{day[:4]} " in line
    assert "Chạy liên tục " in line and "phút" in line
    assert "," in line.split(" GB")[0].split(" MB")[0][-5:]          # a Vietnamese decimal comma: "76,6 GB"
    warning = "Đồng hồ của ki-ốt chưa được đồng bộ (không có NTP): giờ trên phiếu và đánh giá có thể sai."
    assert notes["clock_line"] == warning and notes["clock_line_shown"]
    assert warning in notes["visible"] and line in notes["visible"]
    en = notes["health_line_en"]
    assert en.startswith("Disk free ") and "Last backup " in en and "Running for " in en and "." in en.split(" GB")[0]
    assert notes["clock_line_en"].startswith("The kiosk's clock is not synchronised (no NTP)")
    # the warning was logged at start too
    assert any("not NTP-synchronised" in w for w in notes["prestart"]["warnings"])
    assert (out / "staff_health.png").exists() and (out / "staff_health_en.png").exists()


def test_staff_panel_without_the_warning_when_the_clock_is_synchronised(xvfb, artifacts, tmp_path):
    """The other side: the probe says synchronised → no red line (the warning is not always there)."""
    out = artifacts("kiosk/unattended_synced")
    env = dict(xvfb, HAILONG_TEST_CLOCK_SYNCED="1")
    result, _rows, _store = run_scenario(env, write_config(tmp_path), out, "staff_health")
    notes = result["notes"]
    assert notes["health"]["clock_synced"] is True
    assert notes["clock_line"] == "" and not notes["clock_line_shown"]
    assert not any("not NTP-synchronised" in w for w in notes["prestart"]["warnings"])


def test_watchdog_ready_then_pings_from_the_main_loop(xvfb, tmp_path):
    """NOTIFY_SOCKET is a real datagram socket here; WATCHDOG_USEC 2 s → a ping about every second.

    The app says READY=1 once its first frame is shown, WATCHDOG=1 again and again; while its main loop
    is blocked (the driver hangs it 3 s) nothing comes; STOPPING=1 at the end.
    """
    out = tmp_path / "out"
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(1.0)
    env = dict(xvfb, NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="2000000")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(write_config(tmp_path)), "watchdog", str(out), "--demo"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: list[tuple[float, str]] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                data = sock.recv(4096)
            except socket.timeout:
                if proc.poll() is not None:
                    break
                continue
            got.append((time.monotonic(), data.decode()))
            if data.startswith(b"STOPPING=1"):
                break
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    result = json.loads((out / "watchdog.json").read_text("utf-8"))
    assert result.get("ok"), result.get("error") or proc.stderr.read()[-3000:]
    notes = result["notes"]
    messages = [m for _t, m in got]
    assert messages[0].startswith("READY=1\n") and "STATUS=kiosk TEST-KIOSK ready" in messages[0]
    assert messages[-1] == "STOPPING=1"
    pings = [t for t, m in got if m == "WATCHDOG=1"]
    assert len(pings) >= 5 and sum(m.startswith("READY=1") for m in messages) == 1
    assert notes["interval"] == pytest.approx(1.0)
    # while the main loop was blocked no WATCHDOG=1 left the app (CLOCK_MONOTONIC is the machine's, both sides)
    assert not [t for t in pings if notes["hang_from"] + 0.05 < t < notes["hang_to"] - 0.05]
    assert any(t > notes["hang_to"] for t in pings)
    gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
    assert gaps[-1] >= 2.5                                           # the hang shows as a gap systemd would see
    assert 0.5 < gaps[len(gaps) // 2] < 2.0                          # otherwise about every second
