"""The sync agent against a real town server: drain, config, heartbeat, quarantine, tampering."""
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from faultproxy import (
    demo_town,
    fill_kiosk,
    open_alerts,
    server_ratings,
    write_config,
)
from helpers import ROOT, free_port, wait_until
from sqlalchemy import select

from sync import protocol
from sync.agent import SyncAgent
from sync.server.core.db import kiosks


@pytest.fixture
def town(tmp_path):
    server = demo_town(tmp_path)
    yield server
    server.stop()


def agent_for(town, store, **kw):
    opts = dict(batch_size=100, timeout=2, min_backoff=0.01, max_backoff=0.1, interval=0.2, heartbeat_interval=0.2)
    opts.update(kw)
    return SyncAgent(store, town.url, town.k1["token"], "K1", **opts)


def assert_exactly_once(town, store):
    held = server_ratings(town.engine, "K1")
    local = list(store.iter_records())
    assert [h["id"] for h in held] == [r["id"] for r in local]
    assert protocol.verify_chain(held, town.k1["key"]) == (None, None)
    assert store.sync_counts()["pending"] == 0


def test_drain_backlog_config_and_heartbeat(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk" / "kiosk.db", "K1", town.k1["key"], 750)
    agent = agent_for(town, store)
    result = agent.sync_once()
    assert (result.synced, result.batches, result.rejected) == (750, 8, 0)
    assert_exactly_once(town, store)
    assert agent.acked_through == 750
    assert result.bytes_sent / 750 < 200
    # config applied to the store, photos downloaded beside kiosk.db
    officer = store.officer("cb-001")
    assert officer["name"] == "Nguyễn Thị Hồng Nhung"
    assert officer["photo"].endswith(".png") and os.path.getsize(officer["photo"]) > 100
    assert protocol.check_pin("111111", officer["pin_hash"])
    assert json.loads(store.get_meta("server_scale")) == 3
    assert json.loads(store.get_meta("server_reasons"))[0]["code"] == "thai_do"
    assert len(json.loads(store.get_meta("receipt_key"))) == 64
    assert agent.pull_config() is False  # 304: nothing to apply
    with town.engine.connect() as conn:
        row = conn.execute(select(kiosks).where(kiosks.c.id == "K1")).mappings().one()
    assert (row["last_seq"], row["pending"], row["acked_through"]) == (750, 0, 750)


def test_agent_thread_sends_new_ratings_and_stops(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 3)
    agent = agent_for(town, store).start()
    try:
        wait_until(lambda: store.sync_counts()["pending"] == 0, what="first drain")
        store.key_hex, store.kiosk_id = town.k1["key"], "K1"
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-002", level=3, comment="Rất tốt")
        agent.nudge()
        wait_until(lambda: store.sync_counts()["pending"] == 0, what="new rating synced")
    finally:
        agent.stop()
    assert not agent.running
    assert_exactly_once(town, store)
    assert server_ratings(town.engine, "K1")[-1]["comment"] == "Rất tốt"


def test_roster_change_reaches_the_kiosk_without_restart(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 1)
    seen = []
    agent = agent_for(town, store, on_config=seen.append)
    agent.pull_config()
    from sync.server.core.db import officers
    with town.engine.begin() as conn:
        conn.execute(officers.update().where(officers.c.id == "cb-002").values(title="Phó Chủ tịch UBND xã"))
    assert agent.pull_config() is True
    assert store.officer("cb-002")["title"] == "Phó Chủ tịch UBND xã"
    assert len(seen) == 2


def tamper(db_path, *statements):
    conn = sqlite3.connect(db_path)
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("how,alert_kinds,quarantined", [
    ("deleted", ["gap"], 0),
    ("edited", ["gap", "signature"], 1),
    ("reordered", ["gap", "signature", "signature"], 2),
    ("forged_sig", ["gap", "signature"], 1),
    ("malformed", ["gap"], 1),   # refused as a whole batch (422), the culprit quarantined, the rest resent
])
def test_tampering_on_the_kiosk_raises_the_right_alert(town, tmp_path, how, alert_kinds, quarantined):
    path = tmp_path / "kiosk.db"
    fill_kiosk(path, "K1", town.k1["key"], 10).close()
    if how == "deleted":
        tamper(path, "DELETE FROM ratings WHERE seq = 4")
    elif how == "edited":
        tamper(path, "UPDATE ratings SET level = 3, comment = 'sửa lại' WHERE seq = 4")
    elif how == "reordered":
        tamper(path, "UPDATE ratings SET seq = -1 WHERE seq = 4", "UPDATE ratings SET seq = 4 WHERE seq = 5",
               "UPDATE ratings SET seq = 5 WHERE seq = -1")
    elif how == "malformed":
        tamper(path, "UPDATE ratings SET level = 99 WHERE seq = 4")
    elif how == "forged_sig":
        tamper(path, "UPDATE ratings SET sig = '" + "ab" * 32 + "' WHERE seq = 4")
    from kiosk.store import KioskStore
    store = KioskStore(path, "K1", town.k1["key"])
    result = agent_for(town, store).sync_once()
    assert result.rejected == quarantined
    counts = store.sync_counts()
    assert counts["pending"] == 0 and counts["quarantined"] == quarantined   # never blocks the rest
    alerts = open_alerts(town.engine, "K1")
    # alerts of one kind about one kiosk in one month are one alert that counts its causes
    assert sorted(kind for a in alerts for kind in [a["kind"]] * a["count"]) == alert_kinds
    assert len(alerts) == len(set(alert_kinds))
    gap = [a for a in alerts if a["kind"] == "gap"][0]
    assert gap["seq_from"] == 4
    held = [r["seq"] for r in server_ratings(town.engine, "K1")]
    assert held[:3] == [1, 2, 3] and 10 in held
    if quarantined:
        bad = [r for r in store.iter_records() if r["sync_error"]]
        assert all(("refused by server (422)" if how == "malformed" else "rejected by server") in r["sync_error"]
                   for r in bad)


def test_hailong_sync_once_cli(town, tmp_path):
    fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 450).close()
    config = write_config(tmp_path, "K1", town.k1["key"], town.url, town.k1["token"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "hailong", "sync", "--config", str(config), "--once"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "synced 450" in out.stdout and "pending 0" in out.stdout
    assert len(server_ratings(town.engine, "K1")) == 450
    again = subprocess.run([sys.executable, "-m", "hailong", "sync", "--config", str(config), "--once"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0 and "synced 0" in again.stdout


@pytest.mark.parametrize("change,words", [
    ({"url": ""}, "[server] url: empty"), ({"batch_size": 0}, "[server] batch_size"),
    ({"token": "hk_wrong"}, "server refused this kiosk (401)"),
])
def test_hailong_sync_config_and_token_errors(town, tmp_path, change, words):
    fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 2).close()
    config = write_config(tmp_path, "K1", town.k1["key"], town.url, town.k1["token"])
    text = config.read_text()
    for key, value in change.items():
        new = f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}"
        text = "\n".join(new if line.startswith(f"{key} =") else line for line in text.splitlines())
    config.write_text(text)
    out = subprocess.run([sys.executable, "-m", "hailong", "sync", "--config", str(config), "--once",
                          "--give-up-after", "5"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode in (1, 2)
    assert words in out.stderr and "Traceback" not in out.stderr


def test_hailong_sync_keeps_running_until_sigterm(town, tmp_path):
    import signal
    import time

    from kiosk.store import KioskStore
    fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 30).close()
    config = write_config(tmp_path, "K1", town.k1["key"], town.url, town.k1["token"], interval=0.2)
    proc = subprocess.Popen([sys.executable, "-m", "hailong", "sync", "--config", str(config)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: len(server_ratings(town.engine, "K1")) == 30, what="first drain")
        store = KioskStore(tmp_path / "kiosk.db", "K1", town.k1["key"])
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-003", level=2)   # the kiosk app writes
        wait_until(lambda: len(server_ratings(town.engine, "K1")) == 31, what="new rating picked up")
        assert proc.poll() is None
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.sync_counts()["pending"] == 0


def test_sync_service_wires_agent_and_app_through_events(town, tmp_path):
    """kiosk.commands.sync_service: the config event reaches the app, the app's rating event nudges the agent.

    The app here is what the service needs of KioskApp, without Kivy; the
    real app with the real agent is tests/kiosk/test_kiosk_sync_events.py.
    """
    import threading

    from kiosk.commands import sync_service
    from kiosk.config import load
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 40)
    # interval 60 s: within the test only a nudge sends a new rating
    cfg = load(write_config(tmp_path, "K1", town.k1["key"], town.url, town.k1["token"], interval=60))

    class App:
        def __init__(self):
            self.store, self.configs, self.bound = store, [], {}

        def device_state(self):
            return {"printer": "no_paper", "scanner": "ok"}

        def config_applied(self, config=None):
            # what the store holds when the event comes, and on which thread
            self.configs.append((threading.current_thread().name, config,
                                 store.officer("cb-001") is not None, store.get_meta("receipt_key")))

        def bind(self, **handlers):
            self.bound.update(handlers)

        def unbind(self, **handlers):
            for name in handlers:
                self.bound.pop(name)

    app = App()
    stop = sync_service(cfg)(app)
    try:
        wait_until(lambda: store.sync_counts()["pending"] == 0, what="service drained")
        wait_until(lambda: app.configs, what="the config event")
        thread, config, roster_stored, key_stored = app.configs[0]
        assert thread == "hailong-sync" and roster_stored
        assert json.loads(key_stored) == config["receipt_key"] and len(config["receipt_key"]) == 64

        def printer_state():
            with town.engine.connect() as conn:
                return conn.execute(select(kiosks.c.printer_state).where(kiosks.c.id == "K1")).scalar()
        wait_until(lambda: printer_state() == "no_paper", what="heartbeat with the app's device state")

        fill_kiosk(tmp_path / "kiosk.db", "K1", town.k1["key"], 1)      # a citizen's rating…
        assert store.sync_counts()["pending"] == 1
        app.bound["on_rating_stored"](app, store.pending(1)[0])          # …and the app's event
        wait_until(lambda: store.sync_counts()["pending"] == 0, timeout=10, what="the nudged agent")
    finally:
        stop()
    assert app.bound == {} and len(app.configs) == 1
    assert not any(t.name == "hailong-sync" and t.is_alive() for t in threading.enumerate())
    offline = load(write_config(tmp_path, "K1", town.k1["key"], "", ""))
    assert sync_service(offline)(App()) is None


def test_config_listeners_hear_each_new_config_once_and_never_stop_the_sync(town, tmp_path):
    store = fill_kiosk(tmp_path / "kiosk" / "kiosk.db", "K1", town.k1["key"], 5)
    agent = agent_for(town, store)
    heard = []

    def broken(_config):
        raise RuntimeError("a listener's own bug")
    agent.on_config_applied(broken)
    forget = agent.on_config_applied(heard.append)
    assert agent.pull_config() is True and len(heard) == 1     # stored, told, despite the broken one
    assert store.officer("cb-001") is not None
    assert agent.pull_config() is False and len(heard) == 1    # 304: nothing new, no event
    forget()
    store.set_meta("config_etag", None)
    assert agent.pull_config() is True and len(heard) == 1     # removed: not told any more


def test_pending_wire_is_pending_as_json(tmp_path):
    store = fill_kiosk(tmp_path / "kiosk.db", "K1", "cd" * 32, 40)
    store.mark_synced([r["id"] for r in store.pending(5)])
    store.record_sync_error(store.pending(1)[0]["id"], "rejected by server: test")
    wire = store.pending_wire(20, after_seq=10)
    assert [json.loads(w["wire"]) for w in wire] == store.pending(20, after_seq=10)
    assert [w["seq"] for w in wire] == list(range(11, 31))
    assert json.loads(wire[28 - 11]["wire"])["comment"] == "Cán bộ hướng dẫn tận tình"   # seq 28
    assert [json.loads(w["wire"])["seq"] for w in store.pending_wire(3)] == [7, 8, 9]


def test_a_wrong_server_quarantines_nothing(tmp_path):
    """A web server answering 404 to everything: the ratings stay pending, the error says why."""
    import http.server
    import threading

    from sync.agent import SyncError

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        do_POST = do_GET

        def log_message(self, *args):
            pass
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), NotFound)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        store = fill_kiosk(tmp_path / "kiosk.db", "K1", "cd" * 32, 5)
        agent = SyncAgent(store, f"http://127.0.0.1:{port}", "hk_x", "K1", timeout=2)
        with pytest.raises(SyncError, match="404"):
            agent.drain()
    finally:
        httpd.shutdown()
    assert store.sync_counts()["pending"] == 5 and store.sync_counts()["quarantined"] == 0
