"""A province's reports over 50,000,000 ratings on PostgreSQL, from the roll-up (issue 13).

The province of benchmarks/generate.py (``Town.province()``: 100 communes,
300 desks, 1,000 officers, 200 procedures; a year, 2026) in a PostgreSQL
database (benchmarks/_pg_town.py: ratings by COPY, the roll-up by the
server's fold, or its set-based equivalent, checked equal by ``python
benchmarks/_pg_town.py``). Timed, each from the roll-up as the server reads it
(``town_stats``):

* the dashboard's figures of the year and of a quarter (overall, by unit —
  the province's table of communes —, by desk, officer, procedure, the
  trend, reasons, latest comments), and one commune's year;
* an officer page's figures (the year, the officer's filter, 30 comments);
* the Word report of the year (report_docx.gather + report: the dashboard,
  the score annex, the surveys, timeliness, comments count, side by side on
  PostgreSQL, and the trend chart; then the .docx);
* the yearly scores (scoring.sheet: 100 communes + 1,000 officers).

Baseline in the same run: the bare SQL aggregate of the same period over
``ratings`` (``SELECT unit_code, count(*), sum(level >= 2) … WHERE
corrected_at in period GROUP BY unit_code`` through plain psycopg), best of 3
like every figure. Target: each under 1 s.

The database is loaded once and kept (``--keep`` reuses it; without it it is
loaded again):

    python benchmarks/reports_pg_50m.py [--n 50000000] [--keep]

Skips (exit 0) when PostgreSQL's binaries are not installed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pg_town
import generate
from dashboard_5m import timed

from sync.server.core import db
from sync.server.reports import charts, periods, report_docx, scoring
from sync.server.reports.stats import Filter, town_stats

YEAR = generate.YEAR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000_000)
    ap.add_argument("--keep", action="store_true", help="reuse the loaded database when it holds --n ratings")
    ap.add_argument("--stop", action="store_true", help="stop the PostgreSQL server at the end")
    ap.add_argument("--fold", choices=("sql", "server"), default="sql",
                    help="the first roll-up: set-based (the same rows, minutes for 50 M) or core/rollup.fold")
    args = ap.parse_args()
    server = _pg_town.cluster()
    if server is None:
        print("skipped: PostgreSQL is not installed (Debian package postgresql)")
        return
    town = generate.Town.province()
    name = f"reports_{args.n}"
    try:
        if not (args.keep and _pg_town.loaded(server, name, args.n)):
            print(f"loading {args.n:,} ratings into {name}…")
            t = time.perf_counter()
            _pg_town.load(server, name, town, args.n, fold=True if args.fold == "server" else "sql")
            print(f"  loaded in {time.perf_counter() - t:.0f} s")
        run(server, name, args.n, town)
    finally:
        if args.stop:
            server.stop()


def run(server, name: str, n: int, town) -> None:
    import psycopg
    engine = db.make_engine(server.url(name))
    raw = psycopg.connect(server.url(name, "postgresql"), autocommit=True)
    with raw.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('ratings')), "
                    "pg_size_pretty(pg_total_relation_size('rollup_day')), "
                    "pg_size_pretty(pg_total_relation_size('rollup_month')), "
                    "(SELECT count(*) FROM rollup_day), (SELECT count(*) FROM rollup_month)")
        sizes = cur.fetchone()
    print(f"ratings: {n:,} ({sizes[0]}); rollup_day {sizes[3]:,} rows ({sizes[1]}), "
          f"rollup_month {sizes[4]:,} rows ({sizes[2]})")
    stats = town_stats(engine)
    names = {"unit": {u: f"UBND xã {u}" for u in town.units}, "desk": {d: d for d, _u in town.desks},
             "officer": {o: f"Cán bộ {o}" for o, _d in town.officers}, "procedure": {}}
    year, quarter = periods.year(YEAR), periods.quarter(YEAR, 4)
    officer = town.officers[7][0]
    unit = town.units[3]

    def bare(period, by="unit_code"):
        lo = period.start.astimezone(periods.VN_TZ).strftime("%Y-%m-%dT%H:%M:%S")
        hi = period.end.astimezone(periods.VN_TZ).strftime("%Y-%m-%dT%H:%M:%S")
        return lambda: raw.execute(f"SELECT {by}, count(*), sum(CASE WHEN level >= 2 THEN 1 ELSE 0 END) FROM ratings "
                                   f"WHERE corrected_at >= %s AND corrected_at < %s GROUP BY {by}", (lo, hi)).fetchall()

    figures = {"ratings": n}
    rows = []

    def line(label, seconds, base=None):
        ratio = f"  ratio {seconds / base:6.3f}" if base else ""
        ok = "OK" if seconds < 1 else "MISSED"
        print(f"{label:52} {seconds * 1000:8.0f} ms{ratio}  target < 1000 ms: {ok}", flush=True)
        rows.append((label, seconds, base))

    t_year, by_unit = timed(bare(year))
    t_quarter, _q = timed(bare(quarter))
    t_year_officer, _o = timed(bare(year, "officer_id"))
    t_year_count, (count,) = timed(lambda: raw.execute(
        "SELECT count(*) FROM ratings WHERE corrected_at >= '2026-01-01T00:00:00' "
        "AND corrected_at < '2027-01-01T00:00:00'").fetchone())
    print(f"{'bare SQL: year, count(*)':52} {t_year_count * 1000:8.0f} ms")
    print(f"{'bare SQL: year GROUP BY unit_code':52} {t_year * 1000:8.0f} ms")
    print(f"{'bare SQL: year GROUP BY officer_id':52} {t_year_officer * 1000:8.0f} ms")
    print(f"{'bare SQL: quarter 4 GROUP BY unit_code':52} {t_quarter * 1000:8.0f} ms")
    assert count == sum(r[1] for r in by_unit)   # the year (the last hours spill into 2027)

    t, dash = timed(lambda: stats.dashboard(Filter(year), periods.trend_step(year), comments=20))
    assert dash.overall.total == count and len(dash.by["unit"]) == len(town.units)
    assert {f.key: f.total for f in dash.by["unit"]} == {u: c for u, c, _s in by_unit}
    line("dashboard, the year (by unit/desk/officer/procedure)", t, t_year)
    t, qd = timed(lambda: stats.dashboard(Filter(quarter), periods.trend_step(quarter), comments=20))
    assert {f.key: f.total for f in qd.by["unit"]} == {u: c for u, c, _s in _q}
    assert sum(f.total for f in qd.trend) == qd.overall.total == sum(c for _u, c, _s in _q)
    line("dashboard, quarter 4", t, t_quarter)
    t, _d = timed(lambda: stats.dashboard(Filter(year, unit=unit), periods.trend_step(year), comments=20))
    line(f"dashboard, one commune's year ({unit})", t, t_year)
    t, _d = timed(lambda: stats.dashboard(Filter(year, officer=officer), periods.trend_step(year), comments=30))
    line(f"officer page's figures, the year ({officer})", t, t_year_officer)
    today = date(YEAR + 1, 1, 5)
    with engine.connect() as conn:
        t, sheet = timed(lambda: scoring.sheet(stats, conn, year, today))
    assert len(sheet.units) == len(town.units) and len(sheet.officers) == len(town.officers)
    line("yearly scores (scoring.sheet, 100 + 1,000)", t, t_year_officer)
    def gather_cold(flt):
        """The figures with the trend chart drawn: gather draws it beside its queries (on PostgreSQL
        they run side by side), and charts.trend_png keeps the last charts by their data."""
        charts._PNG_CACHE.clear()
        return report_docx.gather(stats, flt, names, today)

    t_gather, data = timed(lambda: gather_cold(Filter(year)))
    t_docx, body = timed(lambda: report_docx.report(data, None, today))
    undrawn = dataclasses.replace(data, trend_chart=None)
    t_again, _b = timed(lambda: (charts._PNG_CACHE.clear(), report_docx.report(undrawn, None, today))[1])
    print(f"{'  Word report: gather (figures + the chart)':52} {t_gather * 1000:8.0f} ms")
    print(f"{'  Word report: report (the .docx)':52} {t_docx * 1000:8.0f} ms  ({len(body):,} bytes)")
    print(f"{'  (the .docx drawing its own chart)':52} {t_again * 1000:8.0f} ms")
    line("Word report of the year (gather + docx)", t_gather + t_docx, t_year)
    t_og, odata = timed(lambda: gather_cold(Filter(year, officer=officer)))
    t_od, _b = timed(lambda: report_docx.report(odata, None, today))
    line("an officer's Word report of the year", t_og + t_od, t_year_officer)
    figures["rows"] = [{"what": label, "ms": round(s * 1000), "bare_ms": round(b * 1000) if b else None,
                        "ratio": round(s / b, 3) if b else None} for label, s, b in rows]
    figures["word_report_ms"] = {"gather": round(t_gather * 1000), "docx": round(t_docx * 1000),
                                 "docx_drawing_its_chart": round(t_again * 1000), "bytes": len(body)}
    figures["bare_ms"] = {"year_count": round(t_year_count * 1000), "year_by_unit": round(t_year * 1000),
                          "year_by_officer": round(t_year_officer * 1000), "q4_by_unit": round(t_quarter * 1000)}
    print(json.dumps(figures, indent=1))
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    raw.close()
    engine.dispose()


if __name__ == "__main__":
    main()
