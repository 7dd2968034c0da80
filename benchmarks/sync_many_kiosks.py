"""100 kiosks syncing at once to one town server: ratings/s and p99 batch latency.

Each kiosk has its own kiosk.db and its own SyncAgent (a thread here; on a
real desk, its own machine) draining into `hailong server` (a subprocess;
SQLite, or PostgreSQL with ``--workers`` server processes). Baseline, same
run, same database: a bare bulk insert of the same rows into its ratings
table (executemany on SQLite, COPY on PostgreSQL; benchmarks/common.py).
Target (issue 13): p99 batch latency under 200 ms with 100 kiosks syncing.

    python benchmarks/sync_many_kiosks.py [--engine sqlite|postgresql] [--workers 2]
                                          [--kiosks 100] [--per-kiosk 1000] [--batch 100]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from faultproxy import fill_kiosk  # noqa: E402

from sync.server.core.admin_ops import enrol_kiosk  # noqa: E402


def run(town: common.Town, n_kiosks: int, per_kiosk: int, batch: int, workers: int) -> dict:
    with town.engine.begin() as conn:
        kiosks = [enrol_kiosk(conn, f"K{i:03d}", "13321") for i in range(n_kiosks)]
    stores = [fill_kiosk(town.folder / f"kiosk-{k['kiosk_id']}.db", k["kiosk_id"], k["key"], per_kiosk)
              for k in kiosks]
    server, url = common.start(town, workers)
    latencies: list[float] = []
    server_times: list[float] = []
    try:
        agents = [common.timed_agent(s, url, k, batch, latencies, server_times) for s, k in zip(stores, kiosks)]
        results = [None] * n_kiosks
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, agents[i].drain()))
                   for i in range(n_kiosks)]
        cpu0 = common.server_cpu(server.pid)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
        cpu = common.server_cpu(server.pid) - cpu0
    finally:
        common.stop(server)
    total = n_kiosks * per_kiosk
    assert sum(r.synced for r in results) == total, [r for r in results if r.synced != per_kiosk][:3]
    base = common.baseline(town, common.records_of(stores))
    for s in stores:
        s.close()
    rate, base_rate = total / took, total / base
    return {"engine": town.kind, "workers": workers, "kiosks": n_kiosks, "ratings": total,
            "seconds": round(took, 2), "ratings_per_s": round(rate), "batches": len(latencies),
            "server_cpu_us_per_rating": round(cpu / total * 1e6, 1),
            **common.latency_figures(latencies, server_times),
            "baseline": "executemany" if town.kind == "sqlite" else "COPY",
            "baseline_s": round(base, 2), "baseline_ratings_per_s": round(base_rate),
            "ratio_over_baseline": round(rate / base_rate, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=100)
    ap.add_argument("--per-kiosk", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    common.engine_args(ap)
    args = ap.parse_args()
    try:
        town = common.Town(args.engine, prefix="hailong-many-")
    except common.Skip as exc:
        print(exc)
        return
    workers = args.workers if args.engine == "postgresql" else 1
    try:
        many = run(town, args.kiosks, args.per_kiosk, args.batch, workers)
    finally:
        town.drop()
    print(json.dumps(many, indent=1))
    p99 = many["batch_latency_p99_ms"]
    print(f"{args.kiosks} kiosks at once on {args.engine} ({workers} server process{'es' if workers > 1 else ''}): "
          f"{many['ratings_per_s']:,} ratings/s, {many['ratio_over_baseline']:.2f}× a bare "
          f"{many['baseline']}; p50 / p99 batch latency {many['batch_latency_p50_ms']} / {p99} ms "
          f"(target p99 < 200: {'met' if p99 < 200 else 'NOT met'}); on the server (queue included) "
          f"{many['server_time_p50_ms']} / {many['server_time_p99_ms']} ms")
    print(common.load_line())


if __name__ == "__main__":
    main()
