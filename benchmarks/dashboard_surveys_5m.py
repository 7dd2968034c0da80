"""A year's dashboard over 5,000,000 ratings on mixed surveys, with and without ``survey=``.

The town of ``dashboard_5m.py`` (2026, 20 units, 60 desks, 200 officers, 100
procedures, 1 % misuse) on three surveys at once, as issue 12 runs them:

* units u00–u04 ask the Front's 5-level campaign ``mttq-2026`` (three extra
  questions: on time 2 levels, trips 3 levels, attitude 5 levels) all year;
* units u05–u07 ask the 3-level dossier evaluation ``ho-so-2026-q4`` (three
  questions) in the fourth quarter, the one-tap ``hl3`` before;
* every other desk asks ``hl3``.

40 % of ratings come from a receipt with the appointment date (signed
``on_time`` 80 % / ``late`` 20 %); an extra question is skipped (null) 10 % of
the time, and 5 % of the campaign's citizens leave after the headline tap
(``answers`` {}).

What is timed is what the server answers, in process (Starlette's
TestClient over ``create_app``, no lifespan: no background task): the
dashboard page ``/admin?period=2026`` (signed in), the same with
``survey=mttq-2026`` (its questions, its 5 levels), and the reports API
``/api/v1/reports/dashboard`` with and without ``survey=``. Baseline in the
same run: the bare SQL aggregate of the same period through plain sqlite3
(``SELECT count(*), sum(level >= 2)`` with the period filter) — and, for
scale, the per-survey figures straight from the ratings (one grouped scan).
Target: each page and API call under 1 s.

The database is built once (long: ~15–20 min for 5 M on a shared 2-core
machine, plus the first fold of the roll-up) and kept in the temp folder:

    python benchmarks/dashboard_surveys_5m.py [--rows N] [--rebuild]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate
from sqlalchemy import create_engine

from sync.server.core import admin_ops, db, rollup
from sync.server.reports import periods
from sync.server.reports import survey_results as sr
from sync.server.reports.stats import Filter

#: the town of dashboard_5m.py, from the benchmarks' shared generator (benchmarks/generate.py);
#: the ratings are drawn here (their own seed, surveys, answers, receipts)
TOWN = generate.Town()
YEAR = generate.YEAR
UNITS = TOWN.units
DESKS = TOWN.desks
OFFICERS = TOWN.officers
PROCEDURES = TOWN.procedures
DESK_PROCEDURES = TOWN.desk_procedures
REASONS = generate.REASONS
COMMENTS = generate.COMMENTS
FRONT_UNITS = frozenset(UNITS[:5])
DOSSIER_UNITS = frozenset(UNITS[5:8])
Q4_START = f"{YEAR}-10-01"


def _labels(*words):
    n = len(words)
    return {str(n - i): {"vi": w, "en": w} for i, w in enumerate(words)}


FRONT = {
    "id": "mttq-2026", "title": {"vi": "Khảo sát của Ủy ban MTTQ năm 2026", "en": "Fatherland Front survey 2026"},
    "by": "Ủy ban MTTQ Việt Nam", "scale": 5,
    "labels": _labels("Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng", "Rất không hài lòng"),
    "satisfied": [5, 4], "reasons": [{"code": c, "vi": c, "en": c} for c in REASONS],
    "questions": [
        {"code": "dung_hen", "text": {"vi": "Hồ sơ có được trả đúng hẹn không?", "en": "On time?"}, "scale": 2,
         "labels": _labels("Có", "Không"), "satisfied": [2]},
        {"code": "so_lan", "text": {"vi": "Ông/Bà phải đi lại mấy lần?", "en": "Trips?"}, "scale": 3,
         "labels": _labels("1 lần", "2 lần", "3 lần trở lên"), "satisfied": [3]},
        {"code": "thai_do", "text": {"vi": "Thái độ của cán bộ?", "en": "Attitude?"}, "scale": 5,
         "labels": _labels("Rất tốt", "Tốt", "Bình thường", "Kém", "Rất kém"), "satisfied": [5, 4]},
    ],
    "from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31", "units": sorted(FRONT_UNITS), "desks": [],
}
DOSSIER = {
    "id": "ho-so-2026-q4", "title": {"vi": "Đánh giá giải quyết hồ sơ quý IV", "en": "Dossier evaluation Q4"},
    "by": "Bộ phận Một cửa", "scale": 3, "labels": _labels("Rất hài lòng", "Hài lòng", "Không hài lòng"),
    "satisfied": [3, 2], "reasons": [{"code": c, "vi": c, "en": c} for c in REASONS],
    "questions": [
        {"code": "dung_hen", "text": {"vi": "Đúng hẹn?", "en": "On time?"}, "scale": 2,
         "labels": _labels("Đúng hẹn", "Trễ hẹn"), "satisfied": [2]},
        {"code": "so_lan_di_lai", "text": {"vi": "Số lần đi lại?", "en": "Trips?"}, "scale": 3,
         "labels": _labels("1 lần", "2 lần", "3 lần trở lên"), "satisfied": [3]},
        {"code": "thai_do", "text": {"vi": "Thái độ?", "en": "Attitude?"}, "scale": 3,
         "labels": _labels("Rất hài lòng", "Hài lòng", "Không hài lòng"), "satisfied": [3, 2]},
    ],
    "from": Q4_START, "to": f"{YEAR}-12-31", "units": sorted(DOSSIER_UNITS), "desks": [],
}
SURVEYS = {"hl3": None, FRONT["id"]: FRONT, DOSSIER["id"]: DOSSIER}
#: satisfied levels of the headline per survey (the bare aggregate counts level >= 2, the plain hl3 rule)
PASSWORD = "mật-khẩu-đo-đạc"


def _answers(rnd: random.Random, doc: dict) -> str:
    if doc is FRONT and rnd.random() < 0.05:
        return "{}"                                     # left after the headline tap
    out = {}
    for q in doc["questions"]:
        out[q["code"]] = None if rnd.random() < 0.10 else rnd.choices(
            range(q["scale"], 0, -1), (60, 25, 10, 3, 2)[:q["scale"]])[0]
    return json.dumps(out, separators=(",", ":"))


def build(path: Path, n: int) -> None:
    engine = db.make_engine(str(path))
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(db.units.insert(), [{"code": u, "name": f"UBND xã {u}"} for u in UNITS])
        conn.execute(db.desks.insert(), [{"id": d, "unit_code": u, "name": f"Quầy {d}"} for d, u in DESKS])
        conn.execute(db.officers.insert(), [{"id": o, "name": f"Cán bộ {o}", "desk_id": d} for o, (d, _u) in OFFICERS])
        conn.execute(db.procedures.insert(), [{"code": p, "name": f"Thủ tục {p}"} for p in PROCEDURES])
        admin_ops.add_survey(conn, FRONT)
        admin_ops.add_survey(conn, DOSSIER)
        admin_ops.create_user(conn, "bench", "admin", PASSWORD)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-2000000")     # 2 GB: the indexes stay in memory while 5 M rows go in
    rnd = random.Random(12)
    start = datetime(YEAR, 1, 1, 7, 0)
    seconds = 365 * 86400
    hexes = [uuid.UUID(int=rnd.getrandbits(128)).hex * 2 for _ in range(1000)]
    cols = ("id, kiosk_id, seq, created_at, unit_code, desk_id, officer_id, dossier_code, procedure_code, "
            "receipt_id, level, reasons, comment, source, flags, prev_hash, hash, sig, received_at, "
            "batch_key, skew_seconds, corrected_at, survey, answers, wire_version, server_flags")
    sql = f"INSERT INTO ratings ({cols}) VALUES ({','.join('?' * 26)})"
    times = sorted(rnd.randrange(seconds) for _ in range(n))
    batch = []
    t0 = time.perf_counter()
    for seq, offset in enumerate(times, 1):
        officer, (desk, unit) = OFFICERS[rnd.randrange(len(OFFICERS))]
        at = (start + timedelta(seconds=offset)).isoformat(timespec="milliseconds") + "+07:00"
        if unit in FRONT_UNITS:
            doc = FRONT
        elif unit in DOSSIER_UNITS and at >= Q4_START:
            doc = DOSSIER
        else:
            doc = None
        if doc is FRONT:
            level = rnd.choices((5, 4, 3, 2, 1), (40, 30, 18, 8, 4))[0]
        else:
            level = rnd.choices((3, 2, 1), (55, 35, 10))[0]
        bad = level == 1 or (doc is FRONT and level <= 2)
        reasons = json.dumps(rnd.sample(REASONS, rnd.randrange(3)) if bad else [])
        flags = []
        receipt = rnd.random() < 0.40
        if receipt:
            flags.append("on_time" if rnd.random() < 0.80 else "late")
        if rnd.random() < 0.01:
            flags.append("rapid_repeat")
        # ids in insertion order (the unique index grows at its end: a random UUID's page splits made
        # the build slow past a million rows); what is timed never reads them
        batch.append((str(uuid.UUID(int=seq)), f"k-{desk}", seq, at, unit, desk, officer,
                      f"H{seq}", rnd.choice(DESK_PROCEDURES[desk]), f"r{seq:08d}" if receipt else None, level, reasons,
                      rnd.choice(COMMENTS), "receipt" if receipt else "walk_up", json.dumps(flags),
                      hexes[seq % 1000], hexes[(seq + 1) % 1000], hexes[(seq + 2) % 1000], at, None, 0.0, at,
                      doc["id"] if doc else "hl3", _answers(rnd, doc) if doc else "{}", 2, "[]"))
        if len(batch) == 50000:
            con.executemany(sql, batch)
            con.commit()
            batch.clear()
            print(f"\r  built {seq:,} ratings ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    con.executemany(sql, batch)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    print(f"\n  built in {time.perf_counter() - t0:.0f} s")


def timed(fn, repeat=3):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def _client(path: Path):
    from starlette.testclient import TestClient

    from sync.server.app import create_app
    app = create_app(str(path))
    client = TestClient(app)           # not as a context manager: no lifespan, no background catch-up
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = client.post("/login", data={"csrf": csrf, "username": "bench", "password": PASSWORD, "next": "/admin"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    with app.state.engine.begin() as conn:
        token = admin_ops.create_token(conn, "bench")
    return client, token


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000, help="ratings to build (default 5,000,000)")
    ap.add_argument("--rebuild", action="store_true", help="build the town again")
    args = ap.parse_args()
    n = args.rows
    path = Path(tempfile.gettempdir()) / f"hailong-bench-surveys-{n}.db"
    if args.rebuild or not path.exists():
        for old in path.parent.glob(path.name + "*"):   # the db and its -wal/-shm
            old.unlink()
        print(f"building {path} with {n:,} ratings on three surveys…")
        build(path, n)
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        folded = conn.execute(rollup.cursor_table.select()).all()
    top = sqlite3.connect(path).execute("SELECT max(pk) FROM ratings").fetchone()[0]
    if {r.name: r.pk for r in folded}.get("ratings") != top:
        t = time.perf_counter()
        rollup.rebuild(engine, REASONS)         # the first fold after the upgrade (migration 0007), in chunks
        print(f"first fold of the roll-up, {top:,} ratings in chunks of {rollup.CHUNK:,}: "
              f"{time.perf_counter() - t:.0f} s")

    flt = Filter(periods.year(YEAR))
    raw = sqlite3.connect(path)
    lo, hi = f"{YEAR}-01-01T00:00:00", f"{YEAR + 1}-01-01T00:00:00"

    def bare():
        return raw.execute("SELECT count(*), sum(level >= 2) FROM ratings "
                           "WHERE corrected_at >= ? AND corrected_at < ?", (lo, hi)).fetchone()

    t_bare, (count, _sat) = timed(bare)
    print(f"ratings in the year: {count:,}")
    print(f"bare SQL aggregate (count + satisfied):        {t_bare * 1000:8.0f} ms  ratio   1.00")
    t_scan, scanned = timed(lambda: sr.survey_breakdown_raw(engine, flt), repeat=1)
    print(f"per-survey figures straight from the ratings:  {t_scan * 1000:8.0f} ms  ratio {t_scan / t_bare:6.2f}")
    t_roll, rolled = timed(lambda: sr.survey_breakdown(engine, flt))
    assert rolled == scanned, "the roll-up's per-survey figures differ from the ratings'"
    print(f"per-survey figures from the roll-up:           {t_roll * 1000:8.0f} ms  ratio {t_roll / t_bare:6.2f}")
    t_q, qs = timed(lambda: sr.question_results(engine, flt, FRONT))
    print(f"the campaign's questions from the roll-up:     {t_q * 1000:8.0f} ms  ratio {t_q / t_bare:6.2f}")

    from sync.server.reports.stats import town_stats
    from sync.server.web.dashboard import survey_figures
    for label, f in (("", flt), (", survey=mttq-2026", Filter(periods.year(YEAR), survey="mttq-2026"))):
        def figures(f=f):
            stats = town_stats(engine)
            stats = stats.for_survey(f.survey) if f.survey else stats
            return stats.dashboard(f, "month", comments=15), survey_figures(engine, stats, f)
        t_fig, (dash, extra) = timed(figures)
        assert dash.overall.total == sum(s.total for s in extra["survey_rows"])
        print(f"{'the page figures (no chart)' + label + ':':<46} {t_fig * 1000:8.0f} ms  ratio {t_fig / t_bare:6.2f}  "
              f"target < 1000 ms: {'OK' if t_fig < 1 else 'MISSED'}")

    client, token = _client(path)
    auth = {"Authorization": f"Bearer {token}"}
    rows = []
    for label, url, headers in (
            ("dashboard page, a year", "/admin?period=2026", None),
            ("dashboard page, a year, survey=mttq-2026", "/admin?period=2026&survey=mttq-2026", None),
            ("officer page, a year", "/admin/officers/cb-0007?period=2026", None),
            ("reports API, a year", "/api/v1/reports/dashboard?period=2026", auth),
            ("reports API, a year, survey=mttq-2026", "/api/v1/reports/dashboard?period=2026&survey=mttq-2026",
             auth),
            ("reports API, a quarter (day roll-up), survey=",
             "/api/v1/reports/dashboard?period=2026-Q4&survey=ho-so-2026-q4", auth)):
        t0 = time.perf_counter()
        first = client.get(url, headers=headers)        # the page's trend chart drawn (matplotlib)
        cold = time.perf_counter() - t0
        t, r = timed(lambda u=url, h=headers: client.get(u, headers=h))   # drawn once: from the cache
        assert first.status_code == r.status_code == 200, (url, r.status_code, r.text[:300])
        rows.append((label, cold, t))
        print(f"{label + ':':<46} {t * 1000:8.0f} ms  ratio {t / t_bare:6.2f}  "
              f"target < 1000 ms: {'OK' if t < 1 else 'MISSED'}  (first request {cold * 1000:.0f} ms)")
    doc = client.get("/api/v1/reports/dashboard?period=2026", headers=auth).json()
    assert doc["overall"]["total"] == count == sum(s["total"] for s in doc["surveys"])
    front = client.get("/api/v1/reports/dashboard?period=2026&survey=mttq-2026", headers=auth).json()
    assert [q["code"] for q in front["questions"]] == ["level", "dung_hen", "so_lan", "thai_do"]
    assert front["questions"][0]["answered"] == qs[0].answered
    print("checked: the town's total = the sum of its surveys; the roll-up = the ratings, per survey")


if __name__ == "__main__":
    main()
