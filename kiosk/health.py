"""The kiosk's health in one small dict: disk, kiosk.db, backups, uptime, temperature, clock, hours. No Kivy.

:func:`summary` is what the sync agent's heartbeat sends (``state["health"]``)
and what the staff panel says in words. Every probe is a module-level
function or path, so tests (and odd machines) replace it; none ever raises:
a probe that cannot tell gives None. Cheap enough for every heartbeat (one
``statvfs``, a few ``stat``, two small reads, at most one short
``timedatectl`` run).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

#: where the probes read (tests point them at files of their own)
THERMAL_PATH = Path("/sys/class/thermal/thermal_zone0/temp")
UPTIME_PATH = Path("/proc/uptime")
TIMEDATECTL = "timedatectl"
TIMEDATECTL_TIMEOUT = 3.0

KEYS = ("disk_free_mb", "db_bytes", "last_backup", "uptime_s", "temperature_c", "clock_synced",
        "taps_outside_hours")


def _quiet(probe, *args):
    """Run one probe; any failure is None (the summary never raises)."""
    try:
        return probe(*args)
    except Exception:          # noqa: BLE001 - a broken probe must never take the kiosk or the heartbeat down
        log.debug("health probe %s failed", getattr(probe, "__name__", probe), exc_info=True)
        return None


# -- the probes -------------------------------------------------------------------------------------

def disk_free_mb(db_path: Path) -> int | None:
    """Free space (for this user, MiB) of the filesystem that holds kiosk.db."""
    folder = Path(db_path).parent
    return int(shutil.disk_usage(folder).free // (1024 * 1024))


def db_bytes(db_path: Path) -> int | None:
    """kiosk.db plus its -wal (the WAL holds what is not checkpointed yet); None without kiosk.db."""
    db_path = Path(db_path)
    try:
        size = db_path.stat().st_size
    except FileNotFoundError:
        return None
    try:
        size += Path(str(db_path) + "-wal").stat().st_size
    except FileNotFoundError:
        pass
    return int(size)


def last_backup(db_path: Path, utc_offset: str = "+07:00") -> str | None:
    """When the newest checked backup was made, RFC 3339 at the kiosk's offset; None when there is none.

    ``hailong kiosk backup`` records its last backup beside kiosk.db
    (``kiosk.db.last-backup.json``, kiosk/backup.py) and names each file
    ``kiosk-<UTC stamp>.db``, given that name only once it is checked; both are
    read, in the recorded backup's folder and the default ``backups/``, and
    the newest counts (a state file lost or a folder restored by hand).
    """
    from kiosk import backup
    from sync import backupfiles
    from sync.protocol import tz_from_offset

    found: list[datetime] = []
    state = backup.last_backup(db_path) or {}
    folders = {backup.default_dir(db_path)}
    if isinstance(state.get("at"), str):
        try:
            at = datetime.fromisoformat(state["at"].replace("Z", "+00:00"))
            found.append(at if at.tzinfo else at.replace(tzinfo=timezone.utc))
        except ValueError:
            pass
    if isinstance(state.get("path"), str):
        folders.add(Path(state["path"]).parent)
    pattern = backupfiles.name_pattern(backup.PREFIX, backup.EXT)
    for folder in folders:
        for path in backupfiles.backups(folder, backup.PREFIX, backup.EXT)[:1]:
            stamp = pattern.fullmatch(path.name).group(1)
            found.append(datetime.strptime(stamp, backupfiles.STAMP_FORMAT).replace(tzinfo=timezone.utc))
    if not found:
        return None
    return max(found).astimezone(tz_from_offset(utc_offset)).isoformat(timespec="seconds")


def uptime_s(started_at: float | None = None) -> int | None:
    """Seconds since ``started_at`` (a ``time.monotonic()`` reading), else since the machine booted."""
    if started_at is not None:
        return max(0, int(time.monotonic() - started_at))
    return int(float(UPTIME_PATH.read_text().split()[0]))


def temperature_c(path: Path | None = None) -> float | None:
    """The SoC's temperature (°C) from thermal_zone0 (millidegrees), e.g. a Raspberry Pi; None when absent."""
    path = Path(path or THERMAL_PATH)
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return round(int(text) / 1000.0, 1)


def ntp_by_timedatectl() -> bool | None:
    """``timedatectl show -p NTPSynchronized --value``: yes / no; None when it cannot say (no systemd)."""
    if shutil.which(TIMEDATECTL) is None:
        return None
    # not systemd's notify socket: a systemd tool that fails reports ERRNO= on it, as if from the kiosk
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    try:
        proc = subprocess.run([TIMEDATECTL, "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                              text=True, timeout=TIMEDATECTL_TIMEOUT, env={**env, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    value = proc.stdout.strip().lower()
    if proc.returncode != 0 or value not in ("yes", "no"):
        return None
    return value == "yes"


#: adjtimex(2): the kernel's clock status; STA_UNSYNC set = not synchronised (what timedatectl reads too)
STA_UNSYNC = 0x0040
TIME_ERROR = 5


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 32)]     # the kernel's padding, and room to spare


def ntp_by_adjtimex() -> bool | None:
    """The kernel's own word (adjtimex with modes 0 reads only): synchronised unless STA_UNSYNC."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    tx = _Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return not (tx.status & STA_UNSYNC) and state != TIME_ERROR


def clock_synced() -> bool | None:
    """The system clock is NTP-synchronised: timedatectl when it answers, else adjtimex; None when unknown."""
    said = _quiet(ntp_by_timedatectl)
    if said is not None:
        return said
    return _quiet(ntp_by_adjtimex)


def taps_outside_hours(store) -> int | None:
    from kiosk.hours import taps_outside
    return taps_outside(store)


# -- the summary -------------------------------------------------------------------------------------

def summary(cfg, store, *, started_at: float | None = None) -> dict:
    """The kiosk's health: exactly :data:`KEYS`, each an int/str/float/bool or None when unknown.

    ``started_at``: ``time.monotonic()`` when the app or the agent started
    (``uptime_s`` counts from it; without it, the machine's uptime).
    """
    db_path = _quiet(lambda: cfg.db_path)
    offset = _quiet(lambda: cfg.kiosk["utc_offset"]) or "+07:00"
    return {
        "disk_free_mb": _quiet(disk_free_mb, db_path) if db_path is not None else None,
        "db_bytes": _quiet(db_bytes, db_path) if db_path is not None else None,
        "last_backup": _quiet(last_backup, db_path, offset) if db_path is not None else None,
        "uptime_s": _quiet(uptime_s, started_at),
        "temperature_c": _quiet(temperature_c),
        "clock_synced": _quiet(clock_synced),
        "taps_outside_hours": _quiet(taps_outside_hours, store) if store is not None else None,
    }
