"""Drain a backlog of sealed ratings from kiosk.db to a town server over loopback.

End to end: the real agent (SyncAgent, gzip batches) → `hailong server` (a
subprocess, uvicorn; SQLite town.db, or PostgreSQL with ``--workers`` server
processes) and back. Baseline, same run, same database: a bare bulk insert
of the same rows into its ratings table (one executemany on SQLite, one
COPY on PostgreSQL; benchmarks/common.py). Targets (issue 13): SQLite ≥
20,000 ratings/s end to end and ≥ 0.4 of the bare insert; PostgreSQL ≥ 0.5
of the bare COPY with two server processes; ≤ 150 bytes per rating on the wire.

    python benchmarks/sync_drain.py [--engine sqlite|postgresql] [--workers 2] [--n 100000] [--batch 500]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from faultproxy import fill_kiosk  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from sync.server.core.admin_ops import enrol_kiosk  # noqa: E402
from sync.server.core.db import ratings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    common.engine_args(ap)
    args = ap.parse_args()
    try:
        town = common.Town(args.engine)
    except common.Skip as exc:
        print(exc)
        return
    workers = args.workers if args.engine == "postgresql" else 1
    with town.engine.begin() as conn:
        kiosk = enrol_kiosk(conn, "BENCH-01", "13321")

    t0 = time.perf_counter()
    store = fill_kiosk(town.folder / "kiosk.db", "BENCH-01", kiosk["key"], args.n)
    print(f"generated and bulk-inserted {args.n:,} sealed ratings into kiosk.db in {time.perf_counter() - t0:.1f} s")

    server, url = common.start(town, workers)
    latencies, server_times = [], []
    try:
        agent = common.timed_agent(store, url, kiosk, args.batch, latencies, server_times)
        server_cpu0, agent_cpu0 = common.server_cpu(server.pid), time.process_time()
        t0 = time.perf_counter()
        result = agent.drain()
        took = time.perf_counter() - t0
        server_cpu = common.server_cpu(server.pid) - server_cpu0
        agent_cpu = time.process_time() - agent_cpu0
    finally:
        common.stop(server)

    with town.engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(ratings)).scalar()
    assert held == args.n and result.synced == args.n, (held, result)
    base = common.baseline(town, common.records_of([store]))

    rate, base_rate = args.n / took, args.n / base
    ratio = rate / base_rate
    figures = {
        "engine": args.engine, "workers": workers,
        "ratings": args.n, "batch_size": args.batch, "batches": result.batches,
        "end_to_end_s": round(took, 2), "end_to_end_ratings_per_s": round(rate),
        "wire_bytes_per_rating": round(result.bytes_sent / args.n, 1),
        "server_cpu_s": round(server_cpu, 2), "agent_cpu_s": round(agent_cpu, 2),
        "server_cpu_us_per_rating": round(server_cpu / args.n * 1e6, 1),
        **common.latency_figures(latencies, server_times),
        "baseline": "executemany" if args.engine == "sqlite" else "COPY",
        "baseline_s": round(base, 2), "baseline_ratings_per_s": round(base_rate),
        "ratio_end_to_end_over_baseline": round(ratio, 3),
    }
    print(json.dumps(figures, indent=1))
    print(common.load_line())
    if args.engine == "sqlite":
        verdict = (f"end to end {rate:,.0f} ratings/s (target ≥ 20,000: {'met' if rate >= 20_000 else 'NOT met'}); "
                   f"{ratio:.2f}× a bare executemany (target ≥ 0.4: {'met' if ratio >= 0.4 else 'NOT met'})")
    else:
        verdict = (f"end to end {rate:,.0f} ratings/s with {workers} server processes; {ratio:.2f}× a bare COPY "
                   f"(target ≥ 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    wire = result.bytes_sent / args.n
    print(f"{verdict}; {wire:.1f} B/rating on the wire (target ≤ 150: {'met' if wire <= 150 else 'NOT met'})")
    store.close()
    town.drop()


if __name__ == "__main__":
    main()
