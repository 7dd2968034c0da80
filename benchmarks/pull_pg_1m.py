"""`hailong pull` of 1,000,000 ratings from a real `hailong server` on PostgreSQL, against a bare COPY (issue 13).

End to end as benchmarks/pull_1m.py: the real `hailong pull` (a subprocess,
paging ``GET /api/v1/ratings``) from the real `hailong server --db
postgresql://…` (a subprocess, uvicorn) over loopback, to JSON Lines and
CSV (the web export's columns and words). Baseline in the same run: a bare
``COPY (SELECT <the record's fields> FROM ratings ORDER BY pk) TO STDOUT``
of the same rows, through psycopg into a file (text format; and CSV).
Target: the pull at least 0.7 of the COPY's ratings per second.

The town (benchmarks/generate.py's default town, the ratings by COPY, the
roll-up folded before the server starts) is loaded once into the kept
PostgreSQL of benchmarks/_pg_town.py; ``--keep`` reuses it:

    python benchmarks/pull_pg_1m.py [--n 1000000] [--limit 5000] [--keep]

Skips (exit 0) when PostgreSQL's binaries are not installed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pg_town
import generate
from helpers import free_port, start_server
from pull_1m import admin_token, pull

from sync import protocol


def copy_out(url: str, out: Path, fmt: str) -> tuple[float, float]:
    """(seconds, client CPU seconds) of a bare COPY of every rating's record fields, in pk order, into ``out``."""
    import psycopg
    fields = list(protocol.RECORD_FIELDS) + ["received_at"]
    option = " (FORMAT csv, HEADER)" if fmt == "csv" else ""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    sql = f"COPY (SELECT {', '.join(fields)} FROM ratings ORDER BY pk) TO STDOUT{option}"
    with psycopg.connect(url) as conn, conn.cursor() as cur, out.open("wb") as fh, cur.copy(sql) as copy:
        for block in copy:
            fh.write(block)
    return time.perf_counter() - t0, time.process_time() - cpu0


def settled(base: str, timeout: float = 1800) -> None:
    """Wait until the server's own start-up work is done: the roll-up catch-up and the first sweep (the
    public log's backfill of a freshly loaded town) and the notifier's first round (/healthz counts them).

    On a loaded town they take minutes of the server's CPU; measured with the pull they were most of the
    "server CPU" of the streamed route (py-spy: core/tasks.catch_up, log_round, notify.scan)."""
    import requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = requests.get(base + "/healthz", timeout=30).json()
        if health["background"]["sweeps"] >= 1 and health["notify"]["rounds"] >= 1:
            return
        time.sleep(1)
    sys.exit("the server's start-up work did not end")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--limit", type=int, default=5000, help="ratings per page")
    ap.add_argument("--keep", action="store_true", help="reuse the loaded database when it holds --n ratings")
    ap.add_argument("--stop", action="store_true", help="stop the PostgreSQL server at the end")
    ap.add_argument("--formats", default="csv-raw,jsonl,csv",
                    help="csv-raw: --format csv --raw, the streamed route (a bare COPY … (FORMAT csv) its baseline)")
    args = ap.parse_args()
    server = _pg_town.cluster()
    if server is None:
        print("skipped: PostgreSQL is not installed (Debian package postgresql)")
        return
    name = f"pull_{args.n}"
    try:
        if not (args.keep and _pg_town.loaded(server, name, args.n)):
            print(f"loading {args.n:,} ratings into {name}…")
            _pg_town.load(server, name, generate.Town(), args.n)
        run(server, name, args)
    finally:
        if args.stop:
            server.stop()


def run(server, name: str, args) -> None:
    url = server.url(name, "postgresql")
    work = Path(tempfile.mkdtemp(prefix="hailong-pull-pg-"))
    token = admin_token(url)
    figures = {"ratings": args.n, "page": args.limit}
    base = {}
    for fmt in ("text", "csv"):
        took, cpu = copy_out(url, work / f"copy.{fmt}", fmt)
        base[fmt] = args.n / took
        figures[f"copy_{fmt}"] = {"s": round(took, 2), "ratings_per_s": round(base[fmt]), "client_cpu_s": round(cpu, 2)}
        print(f"baseline: bare COPY … TO STDOUT ({fmt:4}) → file: {took:6.1f} s  {base[fmt]:9,.0f} ratings/s  "
              f"client CPU {cpu:5.1f} s", flush=True)
    port = free_port()
    proc = start_server(url, port)
    try:
        settled(f"http://127.0.0.1:{port}")
        for fmt in args.formats.split(","):
            took, server_cpu, client_cpu, count = pull(f"http://127.0.0.1:{port}", token, fmt, work / f"out.{fmt}.csv",
                                                       args.limit, proc.pid)
            assert count == args.n, (fmt, count, args.n)
            rate = args.n / took
            against = base["csv" if fmt.startswith("csv") else "text"]
            figures[fmt] = {"s": round(took, 2), "ratings_per_s": round(rate), "server_cpu_s": round(server_cpu, 2),
                            "client_cpu_s": round(client_cpu, 2), "ratio_to_copy": round(rate / against, 3)}
            print(f"hailong pull --format {fmt:5}: {args.n:9,} ratings {took:6.1f} s  {rate:9,.0f} ratings/s  "
                  f"CPU server {server_cpu:5.1f} s client {client_cpu:5.1f} s  ratio to COPY {rate / against:5.2f}  "
                  f"target ≥ 0.7: {'OK' if rate / against >= 0.7 else 'MISSED'}", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    shutil.rmtree(work)
    print(json.dumps(figures, indent=1))
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
