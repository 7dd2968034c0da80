"""``hailong demo``: a town server, a kiosk window and its sync agent on one machine.

Everything lives in ./demo-data (git-ignored): town.db with a demo admin,
two enrolled kiosks and the demo roster; the kiosks' config.toml and
kiosk.db, with a year of history. Nothing to configure: it goes through the
same public commands an installer would use (``hailong admin``, ``hailong
server``, ``hailong sync``, ``hailong kiosk``).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from kiosk.roster import DEMO_ROSTER
from sync.filemodes import private_dir, write_private

DEMO_ADMIN = ("admin", "hailong-demo")
#: kiosk id -> desk; the first is the window, the second only brings its history.
KIOSKS = {"DT-MC-01": "quay-1", "DT-MC-02": "quay-2"}


def free_port(preferred: int = 8080) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def run_cli(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "hailong", *args], input=stdin,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise click.ClickException(f"hailong {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def wait_for(url: str, timeout: float = 30) -> None:
    import requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the demo server did not answer at {url}")


def kiosk_config(folder: Path, kiosk_id: str, desk: str, enrolment: dict, port: int) -> Path:
    path = folder / ("config.toml" if desk == "quay-1" else f"config-{kiosk_id}.toml")
    write_private(path, f"""# written by `hailong demo`
[kiosk]
id = "{kiosk_id}"
unit_code = "13321"
desk_id = "{desk}"
db = "{'kiosk.db' if desk == 'quay-1' else f'kiosk-{kiosk_id}.db'}"

[server]
url = "http://127.0.0.1:{port}"
token = "{enrolment['token']}"
key = "{enrolment['key']}"
interval = 2
heartbeat_interval = 10

[ui]
fullscreen = false
show_cursor = true
staff_pin = "1234"
""")   # holds the kiosk's token and key: 0600
    return path


def prepare(folder: Path, port: int) -> dict[str, Path]:
    """Create (once) town.db, the enrolments and the kiosks' history; return each kiosk's config."""
    from hailong.demo_history import fill
    from kiosk.config import load
    from kiosk.store import KioskStore

    private_dir(folder)   # 0700 when created here: town.db, kiosk.db, tokens and keys live in it
    town = folder / "town.db"
    enrolments_file = folder / "enrolments.json"
    fresh = not enrolments_file.exists()
    if fresh:
        click.echo("Preparing the demo town server (roster, admin, kiosks)…")
        run_cli("admin", "--db", str(town), "import-roster", str(DEMO_ROSTER))
        run_cli("admin", "--db", str(town), "set-receipt-key")
        run_cli("admin", "--db", str(town), "create-user", "--username", DEMO_ADMIN[0], "--role", "admin",
                "--password-stdin", stdin=DEMO_ADMIN[1] + "\n")
        enrolments = {kid: json.loads(run_cli("admin", "--db", str(town), "enrol-kiosk", "--kiosk-id", kid,
                                              "--unit", "13321", "--json")) for kid in KIOSKS}
        write_private(enrolments_file, json.dumps(enrolments))
    enrolments = json.loads(enrolments_file.read_text("utf-8"))
    configs = {kid: kiosk_config(folder, kid, desk, enrolments[kid], port) for kid, desk in KIOSKS.items()}
    if fresh:
        click.echo("Writing a year of demo ratings into the kiosks' stores…")
        for kid, desk in KIOSKS.items():
            cfg = load(configs[kid])
            store = KioskStore(cfg.db_path, kid, cfg.kiosk_key, cfg.kiosk["utc_offset"])
            store.init()
            fill(store, desk)
            store.close()
    return configs


@click.command()
@click.option("--dir", "folder", default="demo-data", show_default=True, type=click.Path(file_okay=False),
              help="where the demo's databases and config live")
@click.option("--port", default=8080, show_default=True, help="town server port (another is used if taken)")
def demo(folder, port):
    """Town server + kiosk + sync agent on demo data, nothing to configure."""
    folder = Path(folder).resolve()
    port = free_port(port)
    configs = prepare(folder, port)
    server = subprocess.Popen([sys.executable, "-m", "hailong", "server", "--db", str(folder / "town.db"),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/openapi.json")
        for kid, config in configs.items():
            if kid != "DT-MC-01":  # the window's own agent syncs DT-MC-01
                run_cli("sync", "--config", str(config), "--once", "--no-progress")
        click.echo(f"\nTown server:  {base}/   (sign in as {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]})")
        click.echo(f"Kiosk config: {configs['DT-MC-01']}")
        click.echo("Kiosk:        the window that opens now. Hold the clock (top-right) 3 s for the PIN pad:")
        click.echo("              1234 leaves kiosk mode; an officer's PIN (111111, 222222, 333333) opens the staff panel.\n")
        os.environ.setdefault("KIVY_NO_ARGS", "1")
        from kiosk.commands import run_kiosk
        from kiosk.config import load
        run_kiosk(load(configs["DT-MC-01"]), demo=True)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
