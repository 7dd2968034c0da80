"""`hailong demo`: server, kiosk window and agent on one machine, nothing to configure.

The demo's history reaches the town server through the real agents; a
rating stored on the running kiosk arrives within seconds and is still
there after the server is stopped and started again.
"""
import json
import os
import signal
import subprocess
import sys

import requests
from helpers import ROOT, free_port, http_ok, start_server, stop, wait_until

from kiosk.store import KioskStore


def all_ratings(base, token):
    out, after = [], None
    while True:
        params = {"limit": 1000} | ({"after": after} if after else {})
        body = requests.get(f"{base}/api/v1/ratings", params=params,
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        out += body["ratings"]
        after = body["next"]
        if not after:
            return out


def up(base):
    return http_ok(base + "/openapi.json")


def test_demo_runs_syncs_and_survives_a_server_restart(xvfb, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([sys.executable, "-m", "hailong", "demo", "--dir", str(tmp_path), "--port", str(port)],
                            cwd=ROOT, env=xvfb, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_until(lambda: up(base), 90, what="the demo's town server", step=0.3)
        token = json.loads(subprocess.run(
            [sys.executable, "-m", "hailong", "admin", "--db", str(tmp_path / "town.db"), "create-token",
             "--username", "admin", "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)["token"]
        local = {}
        for db in ("kiosk.db", "kiosk-DT-MC-02.db"):
            store = KioskStore(tmp_path / db)
            local.update({r["id"]: r["hash"] for r in store.iter_records()})
            store.close()
        assert len(local) > 2000, "the demo should bring a year of history"
        # the history of both kiosks arrives, each rating once, as the kiosks hold it
        held = wait_until(lambda: (lambda rs: rs if len(rs) >= len(local) else None)(all_ratings(base, token)),
                          60, what="the demo history on the server", step=0.3)
        assert len(held) == len(local) and {r["id"]: r["hash"] for r in held} == local

        # a rating taken now by the running kiosk (its store, as the app writes it) is synced within seconds
        cfg_text = (tmp_path / "config.toml").read_text("utf-8")
        key = cfg_text.split('key = "')[1].split('"')[0]
        store = KioskStore(tmp_path / "kiosk.db", "DT-MC-01", key)
        new = store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3,
                           comment="Cán bộ rất tận tình")
        store.close()
        wait_until(lambda: any(r["id"] == new["id"] for r in all_ratings(base, token)), 30,
                   what="the new rating on the server", step=0.3)
    except BaseException:
        print((tmp_path / "demo.log").read_text("utf-8")[-4000:])
        raise
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
    assert not up(base), "the demo's server should stop with the demo"

    # the server started again on the same town.db still holds it
    server = start_server(tmp_path / "town.db", port, log=tmp_path / "server.log", timeout=30)
    try:
        again = all_ratings(base, token)
        assert any(r["id"] == new["id"] and r["comment"] == "Cán bộ rất tận tình" for r in again)
        assert len(again) == len(local) + 1
    finally:
        stop(server)
