"""kiosk.health.summary: the heartbeat's and the staff panel's health dict, from real files, a real kiosk.db and backup."""
from __future__ import annotations

import os
import shutil
import stat
import time
from datetime import datetime

import pytest

from kiosk import backup, health
from kiosk.config import check
from kiosk.hours import count_tap
from kiosk.store import KioskStore

KEY = "ab" * 32


@pytest.fixture
def kiosk(tmp_path):
    cfg = check({"kiosk": {"id": "DT-MC-01", "unit_code": "13321", "desk_id": "quay-1", "key": KEY}},
                tmp_path / "config.toml")
    store = KioskStore.from_config(cfg)
    store.init()
    yield cfg, store
    store.close()


def fake_timedatectl(tmp_path, monkeypatch, body: str):
    script = tmp_path / "bin" / "timedatectl"
    script.parent.mkdir(exist_ok=True)
    script.write_text("#!/bin/sh\nenv > \"$(dirname \"$0\")/env.txt\"\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(health, "TIMEDATECTL", str(script))
    return script


def test_exactly_the_keys_and_their_types(kiosk, tmp_path, monkeypatch):
    cfg, store = kiosk
    thermal = tmp_path / "temp"
    thermal.write_text("52312\n")
    monkeypatch.setattr(health, "THERMAL_PATH", thermal)
    fake_timedatectl(tmp_path, monkeypatch, "echo yes")
    store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3)
    backup.backup(cfg.db_path, KEY)
    count_tap(store)
    started = time.monotonic() - 3725
    got = health.summary(cfg, store, started_at=started)
    assert list(got) == ["disk_free_mb", "db_bytes", "last_backup", "uptime_s", "temperature_c", "clock_synced",
                         "taps_outside_hours"]
    assert isinstance(got["disk_free_mb"], int) and isinstance(got["db_bytes"], int)
    assert abs(got["disk_free_mb"] - shutil.disk_usage(tmp_path).free // 2**20) < 64
    wal = tmp_path / "kiosk.db-wal"
    assert got["db_bytes"] == (tmp_path / "kiosk.db").stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert datetime.fromisoformat(got["last_backup"]).utcoffset().total_seconds() == 7 * 3600
    assert 3725 <= got["uptime_s"] < 3725 + 60 and isinstance(got["uptime_s"], int)
    assert got["temperature_c"] == 52.3 and got["clock_synced"] is True and got["taps_outside_hours"] == 1


def test_db_bytes_counts_the_wal(kiosk):
    cfg, store = kiosk
    for _ in range(20):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=2)
    wal = cfg.db_path.with_name("kiosk.db-wal")
    assert wal.stat().st_size > 0                       # WAL not checkpointed yet while the store is open
    assert health.db_bytes(cfg.db_path) == cfg.db_path.stat().st_size + wal.stat().st_size
    assert health.db_bytes(cfg.db_path.with_name("nothing.db")) is None


def test_last_backup_is_the_newest_checked_one(kiosk, tmp_path):
    cfg, _store = kiosk
    assert health.last_backup(cfg.db_path) is None
    made = backup.backup(cfg.db_path, KEY)
    at = datetime.fromisoformat(made.at.replace("Z", "+00:00"))
    assert datetime.fromisoformat(health.last_backup(cfg.db_path)) == at.replace(microsecond=0)
    assert health.last_backup(cfg.db_path).endswith("+07:00")
    folder = backup.default_dir(cfg.db_path)
    # a file named as a checked backup is (backups get that name only once they pass); others are not
    (folder / "kiosk-20991231T235959000000Z.db.part").write_bytes(b"x")
    (folder / "kiosk-notastamp.db").write_bytes(b"x")
    assert datetime.fromisoformat(health.last_backup(cfg.db_path)) == at.replace(microsecond=0)
    later = folder / "kiosk-20991231T170000000000Z.db"
    later.write_bytes(b"x")
    assert health.last_backup(cfg.db_path) == "2100-01-01T00:00:00+07:00"
    later.unlink()
    # the record lost: the folder still tells
    backup.state_path(cfg.db_path).unlink()
    assert datetime.fromisoformat(health.last_backup(cfg.db_path)) == at.replace(microsecond=0)


def test_last_backup_in_another_folder_from_the_record(kiosk, tmp_path):
    cfg, _store = kiosk
    made = backup.backup(cfg.db_path, KEY, folder=tmp_path / "elsewhere")
    assert health.last_backup(cfg.db_path, "+00:00") == made.at.replace("Z", "+00:00")


def test_uptime_from_the_machine_without_started_at(tmp_path, monkeypatch):
    uptime = tmp_path / "uptime"
    uptime.write_text("12345.67 99999.00\n")
    monkeypatch.setattr(health, "UPTIME_PATH", uptime)
    assert health.uptime_s() == 12345
    assert health.uptime_s(time.monotonic() - 10) in (10, 11)
    uptime.write_text("garbage")
    assert health._quiet(health.uptime_s) is None


def test_temperature_absent_or_garbage_is_none(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "THERMAL_PATH", tmp_path / "none")
    assert health.temperature_c() is None
    bad = tmp_path / "bad"
    bad.write_text("hot\n")
    monkeypatch.setattr(health, "THERMAL_PATH", bad)
    assert health._quiet(health.temperature_c) is None


@pytest.mark.parametrize("body,expected", [("echo yes", True), ("echo no", False)])
def test_clock_synced_from_timedatectl(tmp_path, monkeypatch, body, expected):
    script = fake_timedatectl(tmp_path, monkeypatch, body)
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    assert health.clock_synced() is expected
    env = (script.parent / "env.txt").read_text()
    assert "NOTIFY_SOCKET" not in env and "LC_ALL=C" in env      # a failing systemd tool would report on it


def test_clock_synced_falls_back_to_adjtimex(tmp_path, monkeypatch):
    fake_timedatectl(tmp_path, monkeypatch, "echo 'System has not been booted with systemd' >&2; exit 1")
    from_kernel = health.ntp_by_adjtimex()
    assert isinstance(from_kernel, bool)                         # the real syscall answers on Linux
    assert health.clock_synced() is from_kernel
    monkeypatch.setattr(health, "TIMEDATECTL", str(tmp_path / "no-such-tool"))
    assert health.clock_synced() is from_kernel
    monkeypatch.setattr(health, "ntp_by_adjtimex", lambda: None)
    assert health.clock_synced() is None


def test_never_raises(tmp_path, monkeypatch):
    """A kiosk.db folder gone, a closed store, broken probes: None for each, never an exception."""
    cfg = check({"kiosk": {"id": "DT-MC-01", "unit_code": "13321", "desk_id": "quay-1",
                           "db": str(tmp_path / "gone" / "kiosk.db")}}, tmp_path / "config.toml")
    store = KioskStore(tmp_path / "other.db")
    store.init()
    store.close()

    def boom():
        raise RuntimeError("probe broke")
    monkeypatch.setattr(health, "clock_synced", boom)
    monkeypatch.setattr(health, "UPTIME_PATH", tmp_path / "none")
    (tmp_path / "temp").write_text("not a number")
    monkeypatch.setattr(health, "THERMAL_PATH", tmp_path / "temp")
    assert health.summary(cfg, store) == dict.fromkeys(health.KEYS)
    assert health.summary(None, None) == dict.fromkeys(health.KEYS)


def test_cheap(kiosk, tmp_path, monkeypatch):
    """A heartbeat a minute: the summary reads a few files and runs timedatectl once."""
    cfg, store = kiosk
    calls = tmp_path / "calls"
    fake_timedatectl(tmp_path, monkeypatch, f"echo x >> {calls}; echo yes")
    health.summary(cfg, store)
    assert calls.read_text().count("x") == 1
    assert os.path.exists(cfg.db_path)
