"""A town for the server and page tests: the hand-checked ratings, and a real running server.

``RATINGS``/``NAMES``/``make_town`` are the 12 hand-checked ratings of
tests/server/test_stats.py (quarter IV 2026: 75,0 % overall, cb-001 66,7 %),
written straight into a town.db. ``Town`` is a running ``hailong server`` set
up the way an admin does it (``hailong admin`` users, tokens, roster, kiosks)
that received those ratings through the sync API as a signed batch.
``session_for``/``csrf_of`` sign in with requests; ``sign_in``/``shot`` with a
Playwright page (the ``browser`` fixture is in tests/e2e/conftest.py).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
from helpers import ARTIFACTS as ALL_ARTIFACTS
from helpers import ROOT, free_port, start_server, stop
from sqlalchemy import create_engine, insert

from sync import protocol
from sync.server.core import db

ARTIFACTS = ALL_ARTIFACTS / "admin"


# (corrected_at, officer, desk, procedure, level, reasons, flags, comment)
RATINGS = [
    ("2026-10-01T08:00:00+07:00", "cb-001", "quay-1", "P1", 3, [], [], "Rất nhanh"),           # 1
    ("2026-10-01T09:00:00+07:00", "cb-001", "quay-1", "P1", 2, ["huong_dan"], [], None),      # 2
    ("2026-10-15T10:00:00+07:00", "cb-001", "quay-1", "P2", 1, ["thai_do", "so_lan_di_lai"], [],
     "Phải đi lại ba lần"),                                                                   # 3
    ("2026-10-15T10:00:05+07:00", "cb-001", "quay-1", "P2", 1, ["thai_do"], ["rapid_repeat"], None),  # 4 misuse
    ("2026-11-02T14:00:00+07:00", "cb-002", "quay-1", "P1", 3, [], [], None),                 # 5
    ("2026-11-02T15:00:00+07:00", "cb-002", "quay-1", None, 1, ["nhung_nhieu"], [], "Đòi tiền"),  # 6
    ("2026-11-20T08:30:00+07:00", "cb-004", "quay-2", "P2", 2, [], [], None),                 # 7
    ("2026-12-31T23:59:59+07:00", "cb-004", "quay-2", "P2", 3, [], [], None),                 # 8 last second of Q4
    ("2027-01-01T00:00:00+07:00", "cb-004", "quay-2", "P2", 1, ["thai_do"], [], "Năm mới"),   # 9 next quarter
    ("2026-09-30T23:59:59+07:00", "cb-001", "quay-1", "P1", 1, [], [], "Quý trước"),          # 10 previous quarter
    ("2026-12-01T07:00:00+07:00", "cb-004", "quay-2", "P1", 3, [], ["rapid_repeat", "x"], None),  # 11 misuse
    ("2026-10-01T06:30:00+07:00", "cb-002", "quay-1", "P1", 2, [], [], None),                 # 12 (UTC: 30 Sept)
]


NAMES = {
    "units": [{"code": "13321", "name": "UBND xã Đồng Tâm", "address": "Xã Đồng Tâm"}],
    "desks": [{"id": "quay-1", "unit_code": "13321", "name": "Quầy số 1 — Tư pháp, Hộ tịch"},
              {"id": "quay-2", "unit_code": "13321", "name": "Quầy số 2 — Đất đai, Xây dựng"}],
    "officers": [{"id": "cb-001", "name": "Nguyễn Thị Hồng Nhung", "desk_id": "quay-1"},
                 {"id": "cb-002", "name": "Trần Văn Đức", "desk_id": "quay-1"},
                 {"id": "cb-004", "name": "Phạm Quốc Hưng", "desk_id": "quay-2"}],
    "procedures": [{"code": "P1", "name": "Đăng ký khai sinh"},
                   {"code": "P2", "name": "Chứng thực bản sao từ bản chính"}],
}


def make_town(path, ratings=RATINGS):
    """A town database at ``path`` (a town.db path or a URL) holding the hand-checked ratings and the roster's names."""
    engine = create_engine(db.db_url(str(path)))
    db.metadata.create_all(engine)
    with engine.begin() as conn:
        for table, rows in NAMES.items():
            conn.execute(insert(db.metadata.tables[table]), rows)
        for seq, (at, officer, desk, proc, level, reasons, flags, comment) in enumerate(ratings, 1):
            conn.execute(insert(db.ratings).values(
                id=str(uuid.UUID(int=seq)), kiosk_id="k1", seq=seq, created_at=at,
                unit_code="13321", desk_id=desk, officer_id=officer, dossier_code=f"H{seq:03d}",
                procedure_code=proc, receipt_id=None, level=level,
                reasons=json.dumps(reasons), comment=comment, source="walk_up",
                flags=json.dumps(flags), prev_hash="0" * 64, hash="1" * 64, sig="2" * 64,
                received_at=at, corrected_at=at))
    return engine


PROCEDURE_CODES = {"P1": "1.001193", "P2": "2.000908", None: None}


def hailong(db: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "hailong.cli", *args[:1], "--db", str(db), *args[1:]],
                         input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Town:
    """A running town server with its users, tokens and ratings."""

    def __init__(self, tmp: Path, db=None, server_args: tuple[str, ...] = ()):
        """``db``: a town.db path or a PostgreSQL URL (the ``town_db`` fixture); default tmp/town.db.
        ``server_args``: more options of ``hailong server`` (e.g. longer background intervals)."""
        self.tmp = tmp
        self.db = db or tmp / "town.db"
        hailong(self.db, "admin", "migrate")
        hailong(self.db, "admin", "create-user", "--username", "an", "--role", "admin", "--password-stdin",
                stdin="mật-khẩu-quản-trị\n")
        hailong(self.db, "admin", "create-user", "--username", "binh", "--role", "viewer", "--password-stdin",
                stdin="mật-khẩu-xem\n")
        hailong(self.db, "admin", "import-roster", str(ROOT / "assets" / "demo" / "roster.json"))
        kiosk = json.loads(hailong(self.db, "admin", "enrol-kiosk", "--kiosk-id", "ki-ot-1", "--unit", "13321",
                                   "--json"))
        self.kiosk_token, self.kiosk_key = kiosk["token"], kiosk["key"]
        gone = json.loads(hailong(self.db, "admin", "enrol-kiosk", "--kiosk-id", "ki-ot-cu", "--unit", "13321",
                                  "--json"))
        hailong(self.db, "admin", "revoke-kiosk", "--kiosk-id", "ki-ot-cu")
        self.revoked_kiosk_token = gone["token"]
        self.admin_token = json.loads(hailong(self.db, "admin", "create-token", "--username", "an", "--json"))["token"]
        self.viewer_token = json.loads(hailong(self.db, "admin", "create-token", "--username", "binh",
                                               "--json"))["token"]
        self.revoked_token = json.loads(hailong(self.db, "admin", "create-token", "--username", "an",
                                                "--json"))["token"]
        hailong(self.db, "admin", "revoke-token", "--token", self.revoked_token)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = start_server(self.db, self.port, *server_args, log=tmp / "server.log")
        self.send_ratings()

    def send_ratings(self):
        records, prev = [], protocol.ZERO_HASH
        for seq, (at, officer, desk, proc, level, reasons, flags, comment) in enumerate(
                sorted(RATINGS, key=lambda r: r[0]), 1):
            rec = {"id": str(uuid.uuid4()), "kiosk_id": "ki-ot-1", "seq": seq, "created_at": at,
                   "unit_code": "13321", "desk_id": desk, "officer_id": officer, "dossier_code": f"H{seq:03d}",
                   "procedure_code": PROCEDURE_CODES[proc], "receipt_id": None, "level": level,
                   "reasons": reasons, "comment": comment, "source": "walk_up", "flags": flags}
            rec = protocol.seal(rec, prev, self.kiosk_key)
            prev = rec["hash"]
            records.append(rec)
        body = {"kiosk_id": "ki-ot-1", "sent_at": datetime.now(timezone.utc).isoformat(), "ratings": records}
        r = requests.post(self.url + protocol.PATH_BATCH, json=body, timeout=30,
                          headers={"Authorization": f"Bearer {self.kiosk_token}",
                                   "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 200, r.text
        assert r.json()["acked_through"] == len(records)
        self.as_received_on_their_days()

    def as_received_on_their_days(self):
        """The hand-checked quarter runs to 1 January 2027, which may be after the real today: the
        server holds a rating from its future at the time it received it, flagged clock_future
        (DESIGN.md). These figures are the kiosk's own times, as the server holds them once those
        days have come: put them back and fold the roll-up again."""
        from sync.server.core import rollup
        from sync.server.core.settings import survey
        engine = db.make_engine(str(self.db))
        try:
            with engine.begin() as conn:
                for row in conn.execute(db.ratings.select().where(db.ratings.c.kiosk_id == "ki-ot-1")).all():
                    flags = [f for f in json.loads(row.server_flags) if not f.startswith("clock_")]
                    conn.execute(db.ratings.update().where(db.ratings.c.id == row.id).values(
                        corrected_at=row.created_at, server_flags=json.dumps(flags)))
                conn.execute(db.alerts.delete().where(db.alerts.c.kind == "clock_jump"))
                reasons = survey(conn)["reasons"]
            rollup.rebuild(engine, reasons)
        finally:
            engine.dispose()

    def stop(self):
        stop(self.proc)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def session_for(town, username, password) -> requests.Session:
    s = requests.Session()
    token = csrf_of(s.get(town.url + "/login", timeout=10).text)
    r = s.post(town.url + "/login", data={"csrf": token, "username": username, "password": password,
                                          "next": "/admin"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    return s


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, town, username, password):
    page.goto(town.url + "/admin")
    assert page.url.startswith(town.url + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(town.url + "/admin")


