"""``hailong demo``: a town server, a kiosk window and its sync agent on one machine.

Everything lives in ./demo-data (git-ignored): town.db with a demo admin,
an enrolled kiosk and the demo roster; the kiosk's config.toml and kiosk.db.
Nothing to configure: it goes through the same public commands an installer
would use (``hailong admin``, ``hailong server``, ``hailong kiosk``).
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

DEMO_ADMIN = ("admin", "hailong-demo")


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


def prepare(folder: Path, port: int) -> Path:
    """Create (once) the demo town.db and the kiosk's config.toml; return the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    town = folder / "town.db"
    enrolment_file = folder / "enrolment.json"
    if not enrolment_file.exists():
        run_cli("admin", "--db", str(town), "import-roster", str(DEMO_ROSTER))
        run_cli("admin", "--db", str(town), "create-user", "--username", DEMO_ADMIN[0], "--role", "admin",
                "--password-stdin", stdin=DEMO_ADMIN[1] + "\n")
        enrolment = json.loads(run_cli("admin", "--db", str(town), "enrol-kiosk", "--kiosk-id", "DT-MC-01",
                                       "--unit", "13321", "--json"))
        enrolment_file.write_text(json.dumps(enrolment), "utf-8")
        try:
            run_cli("admin", "--db", str(town), "seed-demo", "--days", "400")
        except click.ClickException as exc:  # older servers: no demo history, still a demo
            click.echo(f"(no demo history: {exc.message.splitlines()[0]})")
    enrolment = json.loads(enrolment_file.read_text("utf-8"))
    config = folder / "config.toml"
    config.write_text(f"""# written by `hailong demo`
[kiosk]
id = "{enrolment['kiosk_id']}"
unit_code = "13321"
desk_id = "quay-1"
db = "kiosk.db"

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
""", "utf-8")
    return config


@click.command()
@click.option("--dir", "folder", default="demo-data", show_default=True, type=click.Path(file_okay=False),
              help="where the demo's databases and config live")
@click.option("--port", default=8080, show_default=True, help="town server port (another is used if taken)")
def demo(folder, port):
    """Town server + kiosk + sync agent on demo data, nothing to configure."""
    folder = Path(folder).resolve()
    port = free_port(port)
    config = prepare(folder, port)
    server = subprocess.Popen([sys.executable, "-m", "hailong", "server", "--db", str(folder / "town.db"),
                               "--host", "127.0.0.1", "--port", str(port)])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/openapi.json")
        click.echo(f"\nTown server:  {base}/   (admin pages; sign in as {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]})")
        click.echo(f"Kiosk config: {config}")
        click.echo("Kiosk:        the window that opens now; staff PIN 1234 (hold the top-right corner 3 s)")
        click.echo("              officers' PINs for the staff panel: 1111, 2222, 3333\n")
        os.environ.setdefault("KIVY_NO_ARGS", "1")
        from kiosk.config import load
        from kiosk.ui.app import run
        run(load(config), demo=True)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
