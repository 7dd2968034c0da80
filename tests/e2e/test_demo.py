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



def stop_demo(demo: subprocess.Popen) -> None:
    """Stop `hailong demo` and its children (server, kiosk) as Ctrl-C would; kill what lingers."""
    os.killpg(demo.pid, signal.SIGTERM)
    try:
        demo.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(10)

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
        stop_demo(demo)
    assert not up(base), "the demo's server should stop with the demo"

    # the server started again on the same town.db still holds it
    server = start_server(tmp_path / "town.db", port, log=tmp_path / "server.log", timeout=30)
    try:
        again = all_ratings(base, token)
        assert any(r["id"] == new["id"] and r["comment"] == "Cán bộ rất tận tình" for r in again)
        assert len(again) == len(local) + 1
    finally:
        stop(server)


def xtest_click(x: int, y: int) -> None:
    """A real mouse click at window pixel (x, y) from the top-left, through X (XTest), as a finger on the panel."""
    import ctypes
    x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
    xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    xtst.XTestFakeMotionEvent(display, -1, x, y, 0)
    xtst.XTestFakeButtonEvent(display, 1, 1, 0)
    xtst.XTestFakeButtonEvent(display, 1, 0, 100)
    x11.XFlush(display)
    x11.XCloseDisplay(display)


def test_demo_prints_a_receipt_to_a_png_that_scans_back(xvfb, tmp_path):
    """Issue 10: in `hailong demo` a receipt printed as the staff panel prints lands in demo-data/prints/
    as a PNG; written into demo-data/scan it reaches the running kiosk's scanner, which opens its rating."""
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([sys.executable, "-m", "hailong", "demo", "--dir", str(tmp_path), "--port", str(port)],
                            cwd=ROOT, env=xvfb, stdout=log,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until(lambda: (tmp_path / "scan").exists(), 120, what="the demo's scan pipe", step=0.3)

        def printed():     # the same Printer the staff panel uses ([printer] save_dir); the key comes by sync
            proc = subprocess.run([sys.executable, "-m", "hailong", "receipt", "print", "--config",
                                   str(tmp_path / "config.toml"), "--officer", "cb-001", "--dossier", "HS-DEMO-1"],
                                  cwd=ROOT, capture_output=True, text=True)
            return proc.returncode == 0 and proc
        proc = wait_until(printed, 60, what="a receipt printed in the demo", step=1)
        assert "valid until" in proc.stdout
        pngs = sorted((tmp_path / "prints").glob("*-receipt-*.png"))
        assert len(pngs) == 1 and pngs[0].with_suffix(".qr.txt").exists()
        text = (tmp_path / "demo.log").read_text("utf-8")
        assert "Printer:" in text and str(tmp_path / "prints") in text and str(tmp_path / "scan") in text
        with open(tmp_path / "scan", "w") as pipe:           # as the README says: the PNG's path
            pipe.write(f"{pngs[0]}\n")
        # the kiosk opens the rate screen for cb-001: a real click on "Rất hài lòng" (left of three, 1280×800)
        # holds the tap as the visit's draft, with the receipt's dossier

        def tapped():
            xtest_click(225, 490)
            store = KioskStore(tmp_path / "kiosk.db")
            try:
                draft = store.draft() or {}
                rows = [r for r in store.iter_records() if r.get("dossier_code") == "HS-DEMO-1"]
            finally:
                store.close()
            return draft.get("dossier_code") == "HS-DEMO-1" and draft or (rows and rows[0])
        held = wait_until(tapped, 20, what="a rating for the scanned receipt's dossier", step=1)
        assert held["officer_id"] == "cb-001" and held["source"] == "receipt" and held["receipt_id"]
    except BaseException:
        print((tmp_path / "demo.log").read_text("utf-8")[-4000:])
        raise
    finally:
        stop_demo(demo)
