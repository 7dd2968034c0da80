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

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate
from sqlalchemy import create_engine

from sync.server.core import (
    db,
    rollup,
)
from sync.server.reports import periods
from sync.server.reports.stats import Filter, Stats

TOWN = generate.Town()      # the shared generator's default town (benchmarks/generate.py)
YEAR = generate.YEAR
UNITS = TOWN.units
DESKS = TOWN.desks
OFFICERS = TOWN.officers
PROCEDURES = TOWN.procedures
DESK_PROCEDURES = TOWN.desk_procedures
REASONS = generate.REASONS


def build(path: Path, n: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO ratings ({', '.join(generate.COLUMNS)}) VALUES ({','.join('?' * len(generate.COLUMNS))})"
    batch = []
    t0 = time.perf_counter()
    for row in generate.ratings(TOWN, n):
        batch.append(row)
        if len(batch) == 50000:
            con.executemany(sql, batch)
            con.commit()
            batch.clear()
            print(f"\r  built {row[2]:,} ratings ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
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
