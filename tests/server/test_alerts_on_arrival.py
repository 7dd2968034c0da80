"""Alerts are raised when their cause arrives, not when a page is opened.

A real ``hailong server`` (subprocess) receives signed batches over HTTP;
nobody opens a page; the admin API must show the alert. A kiosk that falls
silent is found by the server's own background task, once however many
server processes run on the town.db, and the alert closes when the kiosk
is heard from again.
"""
from __future__ import annotations

import json
import dbtools
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest
import requests
from helpers import ROOT, free_port, start_server, stop, wait_until

from sync import protocol


def admin(db, *args, stdin=None) -> str:
    done = subprocess.run([sys.executable, "-m", "hailong.cli", "admin", "--db", str(db), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def town(town_db, tmp_path):
    db = town_db
    kiosk = json.loads(admin(db, "enrol-kiosk", "--kiosk-id", "DT-MC-01", "--unit", "13321", "--json"))
    admin(db, "create-user", "--username", "lan", "--role", "viewer", "--password-stdin", stdin="mật khẩu dài\n")
    token = json.loads(admin(db, "create-token", "--username", "lan", "--json"))["token"]
    return {"db": db, "tmp": tmp_path, "kiosk": kiosk, "api": {"Authorization": f"Bearer {token}"}}


def serve(town, *extra):
    port = free_port()
    proc = start_server(town["db"], port, *extra, log=town["tmp"] / f"server-{port}.log")
    return proc, f"http://127.0.0.1:{port}"


class Kiosk:
    """Seals and sends ratings as a kiosk does (real HTTP, real signatures)."""

    def __init__(self, town, url):
        self.id, self.key, self.url = town["kiosk"]["kiosk_id"], town["kiosk"]["key"], url
        self.headers = {"Authorization": f"Bearer {town['kiosk']['token']}"}
        self.seq, self.prev = 0, protocol.ZERO_HASH

    def send(self, *ratings: dict) -> dict:
        records = []
        for fields in ratings:
            self.seq += 1
            rec = protocol.seal({
                "id": str(uuid.uuid4()), "kiosk_id": self.id, "seq": self.seq,
                "created_at": fields.get("created_at", datetime.now(timezone.utc).astimezone(
                    protocol.tz_from_offset("+07:00")).isoformat(timespec="seconds")),
                "unit_code": "13321", "desk_id": "quay-1", "officer_id": fields.get("officer", "cb-002"),
                "dossier_code": None, "procedure_code": None, "receipt_id": None,
                "level": fields.get("level", 1), "reasons": fields.get("reasons", []),
                "comment": fields.get("comment"), "source": "walk_up", "flags": [],
            }, self.prev, self.key)
            self.prev = rec["hash"]
            records.append(rec)
        body = {"kiosk_id": self.id, "sent_at": datetime.now(timezone.utc).isoformat(), "ratings": records}
        resp = requests.post(self.url + protocol.PATH_BATCH, json=body, timeout=30,
                             headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())})
        assert resp.status_code == 200, resp.text
        assert all(r["status"] == "accepted" for r in resp.json()["results"]), resp.text
        return resp.json()


def open_alerts(url, town, kind=None) -> list[dict]:
    resp = requests.get(url + "/api/v1/alerts", headers=town["api"], timeout=10)
    assert resp.status_code == 200, resp.text
    return [a for a in resp.json()["alerts"] if kind is None or a["kind"] == kind]


def test_a_harassment_rating_is_an_alert_within_a_minute_with_no_page_opened(town):
    proc, url = serve(town)
    try:
        kiosk = Kiosk(town, url)
        # (created before the harassment rating: a created_at that ran backwards would be corrected)
        kiosk.send({"level": 3, "created_at": "2026-11-02T14:00:00+07:00"},
                   {"level": 2, "created_at": "2026-11-02T14:30:00+07:00"})
        assert open_alerts(url, town, "nhung_nhieu") == []
        kiosk.send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Đòi tiền bồi dưỡng",
                    "created_at": "2026-11-02T15:00:00+07:00"})
        # ingest raised it in the batch's own transaction: it is there at once, well within the minute
        found = wait_until(lambda: open_alerts(url, town, "nhung_nhieu"), timeout=60, what="nhũng nhiễu alert")
        assert len(found) == 1
        alert = found[0]
        assert alert["subject"] == "cb-002" and alert["count"] == 1 and alert["month"] == "2026-11"
        assert alert["happened_at"] == "2026-11-02T15:00:00+07:00"      # when it happened, not when noticed
        assert "Đòi tiền bồi dưỡng" in alert["message"] and "02/11/2026 15:00" in alert["message"]
    finally:
        stop(proc)


def test_alerts_of_one_officer_in_one_month_are_one_alert_with_a_count(town):
    proc, url = serve(town)
    try:
        kiosk = Kiosk(town, url)
        harass = {"level": 1, "reasons": ["nhung_nhieu"], "created_at": "2026-11-05T09:00:00+07:00"}
        # October's first, in seq order: a created_at that ran backwards would be corrected to November
        kiosk.send({**harass, "created_at": "2026-10-30T09:00:00+07:00"})
        for _ in range(5):                              # fifty causes in five batches
            kiosk.send(*[harass] * 10)
        kiosk.send({**harass, "officer": "cb-004"})
        alerts = sorted((a["subject"], a["month"], a["count"]) for a in open_alerts(url, town, "nhung_nhieu"))
        assert alerts == [("cb-002", "2026-10", 1), ("cb-002", "2026-11", 50), ("cb-004", "2026-11", 1)]
        with dbtools.connect(town["db"]) as con:
            assert con.execute("SELECT count(*) FROM alerts WHERE kind = 'nhung_nhieu'").fetchone()[0] == 3
    finally:
        stop(proc)


def test_a_silent_kiosk_is_found_once_by_every_server_process_and_closes_on_contact(town):
    with dbtools.connect(town["db"]) as con:      # 1.8 s of silence is too long, for this test
        con.execute("INSERT INTO settings(key, value) VALUES ('alert_rules', ?)",
                    (json.dumps({"officer_rate_below": 80, "officer_min_ratings": 10, "kiosk_silent_hours": 0.0005}),))
        enrolled = con.execute("SELECT enrolled_at FROM kiosks").fetchone()[0]
    first, url = serve(town, "--sweep-seconds", "0.1")
    second, url2 = serve(town, "--sweep-seconds", "0.1")
    try:
        found = wait_until(lambda: open_alerts(url, town, "silent"), timeout=60, what="silent-kiosk alert")
        assert found[0]["kiosk_id"] == "DT-MC-01" and found[0]["happened_at"] == enrolled
        # both processes sweep ten times a second: after five more rounds of each, still one alert
        def sweeps(u):
            return requests.get(u + "/healthz", timeout=10).json()["background"]["sweeps"]
        start = {u: sweeps(u) for u in (url, url2)}
        wait_until(lambda: all(sweeps(u) >= start[u] + 5 for u in start), timeout=30, what="five more sweeps")
        with dbtools.connect(town["db"]) as con:
            assert con.execute("SELECT count(*) FROM alerts WHERE kind = 'silent'").fetchone()[0] == 1
        beat = {"last_seq": 0, "pending": 0, "kiosk_time": datetime.now(timezone.utc).isoformat()}
        resp = requests.post(url2 + protocol.PATH_HEARTBEAT.format(kiosk_id="DT-MC-01"), json=beat, timeout=10,
                             headers={"Authorization": f"Bearer {town['kiosk']['token']}"})
        assert resp.status_code == 200, resp.text
        assert open_alerts(url, town, "silent") == []
        closed = requests.get(url + "/api/v1/alerts?include_resolved=true", headers=town["api"], timeout=10).json()
        assert [a["note"] for a in closed["alerts"] if a["kind"] == "silent"] == ["the kiosk made contact again"]
    finally:
        stop(first)
        stop(second)
