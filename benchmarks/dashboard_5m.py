"""A year's dashboard over 5,000,000 synthetic ratings in a SQLite town.db.

Measures what the dashboard page asks of the database (Stats.dashboard:
overall figures with counts per level, by unit / desk / officer / procedure,
the monthly trend, reasons, latest comments) against the bare SQL aggregate
over the same rows in the same run (one ``SELECT count(*), sum(...)`` with
the period filter, through the plain sqlite3 module). Target: a year's
dashboard in under 1 s — which needs the daily roll-up (sync/server/core/rollup.py):
the same figures straight from the ratings are shown too, for comparison.

The database is built once (a few minutes) and kept in the temp folder:

    python benchmarks/dashboard_5m.py [N] [--rebuild]
"""
from __future__ import annotations

import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import create_engine  # noqa: E402

from sync.server.core import (
    db,
    rollup,  # noqa: E402
)
from sync.server.reports import periods
from sync.server.reports.stats import Filter, Stats  # noqa: E402

YEAR = 2026
UNITS = [f"u{i:02d}" for i in range(20)]
DESKS = [(f"{u}-q{j}", u) for u in UNITS for j in range(3)]
OFFICERS = [(f"cb-{i:04d}", DESKS[i % len(DESKS)]) for i in range(200)]
PROCEDURES = [f"1.{i:06d}" for i in range(100)]
#: a desk handles its own few procedures (as one-stop desks are organised by field)
DESK_PROCEDURES = {desk: [PROCEDURES[(i * 7 + k) % 100] for k in range(8)] + [None]
                   for i, (desk, _u) in enumerate(DESKS)}
REASONS = ["thai_do", "huong_dan", "dung_hen", "so_lan_di_lai", "nhung_nhieu"]
COMMENTS = ["Cán bộ hướng dẫn tận tình, chu đáo", "Phải chờ lâu", "Rất hài lòng", None, None, None,
            None, None, None, None]


def build(path: Path, n: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(7)
    start = datetime(YEAR, 1, 1, 7, 0)
    seconds = 365 * 86400
    hexes = [uuid.UUID(int=rnd.getrandbits(128)).hex * 2 for _ in range(1000)]
    cols = ("id, kiosk_id, seq, created_at, unit_code, desk_id, officer_id, dossier_code, procedure_code, "
            "receipt_id, level, reasons, comment, source, flags, prev_hash, hash, sig, received_at, "
            "batch_key, skew_seconds, corrected_at")
    sql = f"INSERT INTO ratings ({cols}) VALUES ({','.join('?' * 22)})"
    times = sorted(rnd.randrange(seconds) for _ in range(n))
    batch = []
    t0 = time.perf_counter()
    for seq, offset in enumerate(times, 1):
        officer, (desk, unit) = OFFICERS[rnd.randrange(len(OFFICERS))]
        at = (start + timedelta(seconds=offset)).isoformat(timespec="milliseconds") + "+07:00"
        level = rnd.choices((3, 2, 1), (55, 35, 10))[0]
        reasons = json.dumps(rnd.sample(REASONS, rnd.randrange(3)) if level == 1 else [])
        flags = '["rapid_repeat"]' if rnd.random() < 0.01 else "[]"
        batch.append((str(uuid.UUID(int=rnd.getrandbits(128))), f"k-{desk}", seq, at, unit, desk, officer,
                      f"H{seq}", rnd.choice(DESK_PROCEDURES[desk]), None, level, reasons, rnd.choice(COMMENTS),
                      "walk_up", flags, hexes[seq % 1000], hexes[(seq + 1) % 1000], hexes[(seq + 2) % 1000],
                      at, None, 0.0, at))
        if len(batch) == 50000:
            con.executemany(sql, batch)
            con.commit()
            batch.clear()
            print(f"\r  built {seq:,} ratings ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    con.executemany(sql, batch)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    print()


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 5_000_000
    path = Path(tempfile.gettempdir()) / f"hailong-bench-town-{n}.db"
    if "--rebuild" in sys.argv or not path.exists():
        for old in path.parent.glob(path.name + "*"):   # the db and its -wal/-shm
            old.unlink()
        print(f"building {path} with {n:,} ratings…")
        build(path, n)
    flt = Filter(periods.year(YEAR))
    stats = Stats(create_engine(f"sqlite:///{path}"), db.ratings, "corrected_at")

    raw = sqlite3.connect(path)
    lo, hi = f"{YEAR}-01-01T00:00:00", f"{YEAR + 1}-01-01T00:00:00"

    def bare():
        return raw.execute("SELECT count(*), sum(level >= 2) FROM ratings "
                           "WHERE corrected_at >= ? AND corrected_at < ?", (lo, hi)).fetchone()

    t_bare, (count, _sat) = timed(bare)
    print(f"ratings in the year: {count:,}")
    print(f"bare SQL aggregate (count + satisfied):      {t_bare * 1000:8.0f} ms")
    t_raw, raw_dash = timed(lambda: stats.dashboard(flt, "month"), repeat=1)
    print(f"dashboard from the ratings (one pass):       {t_raw * 1000:8.0f} ms  ratio {t_raw / t_bare:6.2f}")
    t_fold = time.perf_counter()
    rollup.rebuild(stats.engine, list(stats.reasons))      # drop the roll-up, fold every rating
    t_fold = time.perf_counter() - t_fold
    fast = Stats(stats.engine, db.ratings, "corrected_at", rollup=True)
    print(f"first roll-up of every rating (once):        {t_fold * 1000:8.0f} ms")
    t_dash, dash = timed(lambda: fast.dashboard(flt, "month"))
    assert dash.overall.total == count == raw_dash.overall.total
    assert dash.overall.rate == raw_dash.overall.rate and dash.reasons == raw_dash.reasons
    print(f"dashboard from the roll-up:                  {t_dash * 1000:8.0f} ms  ratio {t_dash / t_bare:6.2f}"
          f"  target < 1000 ms: {'OK' if t_dash < 1 else 'MISSED'}")
    t_officer, _ = timed(lambda: fast.dashboard(Filter(periods.year(YEAR), officer="cb-0007"), "month"))
    print(f"one officer's year (roll-up):                {t_officer * 1000:8.0f} ms")
    t_quarter, _ = timed(lambda: fast.dashboard(Filter(periods.quarter(YEAR, 4)), "week"))
    print(f"a quarter, weekly trend (roll-up):           {t_quarter * 1000:8.0f} ms")
    t_month, _ = timed(lambda: fast.dashboard(Filter(periods.month(YEAR, 11)), "day"))
    print(f"a month, daily trend (roll-up):              {t_month * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
