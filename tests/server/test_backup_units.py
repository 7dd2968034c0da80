"""deploy/systemd: the backup timer and service of the kiosk and of the town server are what systemd accepts
(`systemd-analyze verify`, with ExecStart pointed at this checkout's hailong) and run the backup commands."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/hailong/.venv/bin/hailong"


@pytest.mark.parametrize("kind,command", [("kiosk", "hailong kiosk backup"), ("server", "backup --dir")])
def test_the_backup_units_verify(kind, command, tmp_path):
    service = (UNITS / kind / "hailong-backup.service").read_text("utf-8")
    timer = (UNITS / kind / "hailong-backup.timer").read_text("utf-8")
    assert INSTALLED in service and command in service.replace(INSTALLED, "hailong")
    assert "Unit=hailong-backup.service" in timer and "Persistent=true" in timer and "UMask=0077" in service
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here: the units' text was checked, not systemd's reading")
    hailong = Path(sys.executable).parent / "hailong"
    (tmp_path / "hailong-backup.service").write_text(service.replace(INSTALLED, str(hailong)), "utf-8")
    (tmp_path / "hailong-backup.timer").write_text(timer, "utf-8")
    done = subprocess.run(["systemd-analyze", "verify", "hailong-backup.service", "hailong-backup.timer"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # only what concerns these units: a container without a running systemd also prints lines about others
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "hailong-backup" in line]
    assert not ours, "\n".join(ours)
