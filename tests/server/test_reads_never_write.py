"""Reads never write: no GET of a page or an API route changes town.db or opens a write transaction.

Two ways of looking:

* from outside, against a real ``hailong server`` (the Town of tests/town.py):
  ``PRAGMA data_version`` of town.db, read through a separate sqlite3
  connection, changes whenever another connection commits a change to the
  file; it must hold across loading every GET;
* from inside, with the app in this process: SQLAlchemy's ``begin`` event on
  ``app.state.engine`` (the write engine; GETs read through
  ``app.state.reader``) must not fire once during those GETs.

Every GET route of the app must be in ``GETS`` (test_every_get_route_is_tried),
so a new page or API route is held to the rule as soon as it exists.
"""
from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path

import dbtools
import pytest
import requests
from helpers import ROOT
from sqlalchemy import event
from starlette.routing import Route
from starlette.testclient import TestClient
from town import PROCEDURE_CODES, RATINGS, Town, session_for

from sync import protocol
from sync.server.app import create_app
from sync.server.core import admin_ops

# (path, who calls it: "session" signed in as an admin, "api" admin API token, "kiosk" kiosk token, None nobody)
GETS = [
    ("/", "session"), ("/login", None), ("/healthz", None), ("/openapi.json", None), ("/docs", None),
    ("/docs/oauth2-redirect", None), ("/redoc", None), ("/static/style.css", None),
    ("/admin", "session"), ("/admin?period=2026-Q4", "session"), ("/admin?period=nonsense", "session"),
    ("/admin?period=2026&unit=13321&desk=quay-1", "session"),
    ("/admin/officers/cb-001?period=2026-Q4", "session"), ("/admin/officers/no-such-officer", "session"),
    ("/admin/comments?period=2026-Q4", "session"), ("/admin/comments?period=2026&officer=cb-001&page=2", "session"),
    ("/static-docs/swagger-ui.css", None),
    ("/admin/alerts", "session"),
    ("/admin/alerts?state=all&kind=nhung_nhieu&subject=cb-002&month=2026-11&page=2", "session"),
    ("/admin/alerts?state=resolved&page=abc&kind=nope", "session"),
    ("/admin/kiosks", "session"), ("/admin/kiosks?revoke=ki-ot-1", "session"),
    ("/admin/kiosks?bundle=ki-ot-1", "session"),
    ("/admin/roster", "session"), ("/admin/roster?imported=1&officers=2", "session"),
    ("/admin/letters", "session"),
    ("/admin/evidence", "session"), ("/admin/evidence?period=2026-Q4", "session"),
    ("/admin/cases", "session"), ("/admin/cases?status=all&kind=nope&page=abc&officer=cb-001", "session"),
    ("/admin/cases?status=overdue", "session"), ("/admin/cases/new?officer=cb-001", "session"),
    ("/admin/cases/1", "session"), ("/admin/cases/1/letter?dossier=nope", "session"),
    ("/admin/scores", "session"), ("/admin/scores?period=2026&unit=13321", "session"),
    ("/admin/scores/export?fmt=xlsx&period=2026", "session"), ("/admin/scores/export?fmt=docx&period=2026", "session"),
    ("/admin/surveys/hl3/report.docx", "session"), ("/admin/surveys/hl3/report.docx?period=2026-Q4&lang=en", "session"),
    ("/admin/surveys", "session"), ("/admin/surveys/new?from=mttq-can-bo", "session"),
    ("/admin/surveys/hl3", "session"), ("/admin/surveys/hl3?from=2026-10-01&to=2026-12-31", "session"),
    ("/admin/surveys/hl3/preview?lang=en", "session"), ("/admin/surveys/hl3/edit", "session"),
    ("/admin/surveys/hl3.json", "session"),
    ("/api/v1/cases", "api"), ("/api/v1/cases?overdue=1&status=open&kind=manual", "api"),
    ("/admin/export?fmt=csv&period=2026-Q4", "session"), ("/admin/export?fmt=xlsx&period=2026", "session"),
    ("/admin/export?fmt=docx&period=2026-Q4", "session"), ("/admin/export?fmt=pdf", "session"),
    ("/lang/en?next=/admin/alerts", "session"), ("/admin/alerts", "session"), ("/lang/vi", "session"),
    ("/api/v1/reports/dashboard?period=2026-Q4", "api"), ("/api/v1/reports/dashboard?period=2026&step=week", "api"),
    ("/admin?period=2026&survey=hl3", "session"), ("/api/v1/reports/dashboard?period=2026&survey=hl3", "api"),
    ("/admin/export?fmt=csv&period=2026&survey=hl3", "session"),
    ("/api/v1/ratings", "api"), ("/api/v1/ratings?after=3&limit=2", "api"),
    ("/api/v1/ratings.csv?header=1", "api"), ("/api/v1/ratings.csv?after=3&limit=2", "api"),
    ("/api/v1/alerts", "api"), ("/api/v1/alerts?include_resolved=true", "api"), ("/api/v1/names", "api"),
    ("/api/v1/kiosks/ki-ot-1/config", "kiosk"), ("/api/v1/photos/cb-001", "kiosk"),
    # the phone page (a valid receipt's page and photo: tests/server/test_phone_page.py checks they write nothing)
    ("/r/not-a-receipt", None), ("/r/eyJ2IjoxfQ.AAAA/photo", None),
    ("/log", None), ("/log?code=0123456789abcdef", None), ("/log?code=HL1.eyJ2IjoxfQ.AAAA", None),
    # the public log (issue 15): public, no sign-in
    ("/api/v1/log/checkpoint", None), ("/api/v1/log/key", None), ("/api/v1/log/leaf?index=0", None),
    ("/api/v1/log/proof?receipt=0123456789abcdef", None), ("/api/v1/log/consistency?from=1&to=1", None),
]


def data_version(con: sqlite3.Connection) -> int:
    return con.execute("PRAGMA data_version").fetchone()[0]


def _state_of(db):
    """What tells that the database changed: SQLite's data_version (any commit by another connection);
    on PostgreSQL, every row of every table (a small town: the pages' test data)."""
    if not dbtools.is_postgresql(db):
        con = sqlite3.connect(db)
        return lambda: data_version(con)

    def rows_of_every_table():
        return {t: sorted(map(repr, (tuple(r.values()) for r in dbtools.rows(db, f'SELECT * FROM "{t}"'))))
                for t in dbtools.table_names(db)}
    return rows_of_every_table


def _route_of(path: str) -> str:
    return path.split("?")[0]


def _get_routes(routes):
    """(path template, compiled regex) of every GET route, included routers walked into."""
    for r in routes:
        included = getattr(r, "original_router", None)           # FastAPI's include_router
        if included is not None:
            yield from _get_routes(included.routes)
        elif isinstance(r, Route) or hasattr(r, "methods"):
            if "GET" in (getattr(r, "methods", None) or set()):
                yield r.path, r.path_regex


def test_every_get_route_is_tried(tmp_path):
    app = create_app(str(tmp_path / "town.db"))
    tried = [_route_of(p) for p, _who in GETS]
    found = list(_get_routes(app.routes))
    app.state.engine.dispose()
    assert {"/admin", "/admin/alerts", "/api/v1/reports/dashboard", "/api/v1/ratings"} <= {p for p, _r in found}
    missing = [path for path, regex in found if not any(regex.match(p) for p in tried)]
    assert not missing, f"GET routes this test does not load: {missing}"


def _load_every_get(get) -> list[tuple[str, int]]:
    """GET every path in GETS with ``get(path, who)``; (path, status) of each."""
    out = []
    for path, who in GETS:
        r = get(path, who)
        out.append((path, r.status_code))
    return out


def _check_statuses(statuses):
    for path, status in statuses:
        if path in ("/admin?period=nonsense",):
            assert status == 422, (path, status)          # the page says the period is wrong, in words
        elif path in ("/api/v1/log/proof?receipt=0123456789abcdef",):
            assert status == 404, (path, status)      # no rating holds that receipt: said so
        elif path in ("/admin/officers/no-such-officer", "/admin/cases/1/letter?dossier=nope"):
            assert status == 404, (path, status)
        elif path == "/admin/export?fmt=pdf":
            assert status == 422, (path, status)
        elif path.startswith("/r/"):                      # the phone page's refusals: a page that says why
            assert status in (400, 403), (path, status)
        else:
            assert status in (200, 303), (path, status)


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    # the background rounds (sweep, notifier) write by design; an hour apart, none falls inside the GETs
    # however slow the machine (once, under a full `make test` beside it, one did: 2 -> 3)
    t = Town(tmp_path_factory.mktemp("town"), server_args=("--sweep-seconds", "3600", "--notify-seconds", "3600"))
    yield t
    t.stop()


def test_no_get_changes_town_db_on_a_real_server(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    headers = {"api": {"Authorization": f"Bearer {town.admin_token}"},
               "kiosk": {"Authorization": f"Bearer {town.kiosk_token}"}}

    def get(path, who):
        if who == "session":
            return s.get(town.url + path, allow_redirects=False, timeout=60)
        return requests.get(town.url + path, headers=headers.get(who, {}), allow_redirects=False, timeout=60)

    con = sqlite3.connect(town.db)
    try:
        con.execute("SELECT count(*) FROM ratings").fetchone()   # the pages have something to show
        before = data_version(con)
        statuses = _load_every_get(get)
        after = data_version(con)
        assert after == before, f"town.db changed during the GETs ({before} -> {after})"
    finally:
        con.close()
    _check_statuses(statuses)


# --- in this process: no write transaction on the write engine ------------------------------

def _sealed_batch(kiosk_key: str) -> dict:
    records, prev = [], protocol.ZERO_HASH
    for seq, (at, officer, desk, proc, level, reasons, flags, comment) in enumerate(
            sorted(RATINGS, key=lambda r: r[0]), 1):
        rec = {"id": str(uuid.uuid4()), "kiosk_id": "ki-ot-1", "seq": seq, "created_at": at,
               "unit_code": "13321", "desk_id": desk, "officer_id": officer, "dossier_code": f"H{seq:03d}",
               "procedure_code": PROCEDURE_CODES[proc], "receipt_id": None, "level": level,
               "reasons": reasons, "comment": comment, "source": "walk_up", "flags": flags}
        rec = protocol.seal(rec, prev, kiosk_key)
        prev = rec["hash"]
        records.append(rec)
    return {"kiosk_id": "ki-ot-1", "sent_at": datetime.now(timezone.utc).isoformat(), "ratings": records}


def test_no_get_opens_a_write_transaction_in_process(town_db, tmp_path: Path):
    app = create_app(str(town_db), media_dir=tmp_path / "media")
    engine = app.state.engine
    with engine.begin() as conn:
        admin_ops.create_user(conn, "an", "admin", "mật-khẩu-quản-trị")
        api_token = admin_ops.create_token(conn, "an")
        admin_ops.import_roster(conn, ROOT / "assets" / "demo" / "roster.json", tmp_path / "media")
        kiosk = admin_ops.enrol_kiosk(conn, "ki-ot-1", "13321")
    client = TestClient(app, base_url="http://127.0.0.1")     # no lifespan: no background task
    kiosk_auth = {"Authorization": f"Bearer {kiosk['token']}"}
    r = client.post(protocol.PATH_BATCH, json=_sealed_batch(kiosk["key"]),
                    headers={**kiosk_auth, "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 200, r.text
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post("/login", data={"csrf": csrf, "username": "an", "password": "mật-khẩu-quản-trị",
                                    "next": "/admin"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    headers = {"api": {"Authorization": f"Bearer {api_token}"}, "kiosk": kiosk_auth}
    anonymous = TestClient(app, base_url="http://127.0.0.1")

    def get(path, who):
        if who == "session":
            return client.get(path, follow_redirects=False)
        return anonymous.get(path, headers=headers.get(who, {}), follow_redirects=False)

    begins = []

    def on_begin(conn):
        begins.append(conn)

    state = _state_of(town_db)
    event.listen(engine, "begin", on_begin)
    try:
        before = state()
        statuses = _load_every_get(get)
        after = state()
        assert not begins, f"{len(begins)} transaction(s) on the write engine during GETs"
        assert after == before, f"town.db changed during the GETs ({before} -> {after})"
        _check_statuses(statuses)
        # the listener does see a write: a POST of the same session
        csrf = client.get("/admin/alerts").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = client.post("/admin/alerts/rules", data={"csrf": csrf, "officer_rate_below": "75",
                                                     "officer_min_ratings": "5", "kiosk_silent_hours": "12"},
                        follow_redirects=False)
        assert r.status_code == 303 and begins
        assert state() != after
    finally:
        event.remove(engine, "begin", on_begin)
        engine.dispose()
