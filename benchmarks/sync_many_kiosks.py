"""100 kiosks syncing at once to one town server: ratings/s and p99 batch latency.

Each kiosk has its own kiosk.db and its own SyncAgent (a thread here; on a
real desk, its own machine) draining into `hailong server` (a subprocess;
SQLite, or PostgreSQL with ``--workers`` server processes). Baseline, same
run, same database: a bare bulk insert of the same rows into its ratings
table (executemany on SQLite, COPY on PostgreSQL; benchmarks/common.py).
Target (issue 13): p99 batch latency under 200 ms with 100 kiosks syncing.

Two ways of syncing at once:

* **backlog** (the default): every kiosk has ``--per-kiosk`` ratings waiting
  (a town back from a days-long outage) and drains them as fast as the
  server answers, the next batch as soon as the last is acknowledged: a
  closed loop that keeps ~one batch per kiosk queued for the writer, so its
  p99 is one round of that queue, whatever the server's speed per batch.
* **open loop** (``--rate R``): kiosks in service. Ratings arrive at each
  kiosk at random (Poisson, R ratings/s over all the kiosks); each is stored
  by the kiosk's own KioskStore.append (sealed, fsynced) and the agent is
  nudged, as kiosk/commands.py does, so each batch holds what is pending
  then (one rating, or more when the last batch was slow). Runs for
  ``--duration`` seconds; a batch's latency is measured as in the backlog
  mode. A province of 50 M ratings a year is ~7 ratings/s on average over
  all its kiosks in working hours; R = 100 is ten times a whole province's
  average on one town's 100 kiosks.

    python benchmarks/sync_many_kiosks.py [--engine sqlite|postgresql] [--workers 2]
                                          [--kiosks 100] [--per-kiosk 1000] [--batch 100]
                                          [--rate R --duration 30]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from faultproxy import fill_kiosk  # noqa: E402

from sync.server.core.admin_ops import enrol_kiosk  # noqa: E402


def _all_at_once(server, kiosks: list) -> tuple[float, float]:
    """Run each kiosk's function in a thread of its own, all at once; (seconds, server CPU seconds) until all end."""
    threads = [threading.Thread(target=fn) for fn in kiosks]
    cpu0 = common.server_cpu(server.pid)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, common.server_cpu(server.pid) - cpu0


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
        took, cpu = _all_at_once(server, [lambda i=i: results.__setitem__(i, agents[i].drain())
                                          for i in range(n_kiosks)])
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


def run_open_loop(town: common.Town, n_kiosks: int, rate: float, duration: float, batch: int,
                  workers: int) -> dict:
    """Kiosks in service: Poisson arrivals at ``rate`` ratings/s over all kiosks, each synced when stored."""
    from kiosk.store import KioskStore
    with town.engine.begin() as conn:
        kiosks = [enrol_kiosk(conn, f"K{i:03d}", "13321") for i in range(n_kiosks)]
    stores = []
    for k in kiosks:
        store = KioskStore(town.folder / f"kiosk-{k['kiosk_id']}.db", k["kiosk_id"], k["key"])
        store.init()
        stores.append(store)
    server, url = common.start(town, workers)
    latencies: list[float] = []
    server_times: list[float] = []
    stored = [0] * n_kiosks
    synced = [0] * n_kiosks
    per_kiosk_rate = rate / n_kiosks

    def kiosk(i: int, agent, store, end: float, rng: random.Random) -> None:
        next_at = time.monotonic() + rng.expovariate(per_kiosk_rate)
        while next_at < end:
            wait = next_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)          # the citizen's arrival: the load's schedule, not a wait on a result
            store.append(unit_code="13321", desk_id="quay-1", officer_id=f"cb-00{stored[i] % 5 + 1}",
                         level=1 + stored[i] % 3, reasons=["thai_do"] if stored[i] % 3 == 0 else [],
                         procedure_code="1.001193", dossier_code=f"H12.34-{stored[i]:06d}")
            stored[i] += 1
            synced[i] += agent.drain().synced
            next_at = max(next_at + rng.expovariate(per_kiosk_rate), time.monotonic())
        synced[i] += agent.drain().synced

    try:
        agents = [common.timed_agent(s, url, k, batch, latencies, server_times) for s, k in zip(stores, kiosks)]
        end = time.monotonic() + duration
        took, cpu = _all_at_once(server, [lambda i=i: kiosk(i, agents[i], stores[i], end, random.Random(i))
                                          for i in range(n_kiosks)])
    finally:
        common.stop(server)
    for s in stores:
        s.close()
    total = sum(stored)
    assert sum(synced) == total, (sum(synced), total)
    return {"engine": town.kind, "workers": workers, "kiosks": n_kiosks, "mode": "open loop",
            "offered_ratings_per_s": rate, "ratings": total, "seconds": round(took, 2),
            "stored_ratings_per_s": round(total / took, 1), "batches": len(latencies),
            "ratings_per_batch": round(total / max(1, len(latencies)), 2),
            "server_cpu_us_per_rating": round(cpu / max(1, total) * 1e6, 1),
            **common.latency_figures(latencies, server_times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=100)
    ap.add_argument("--per-kiosk", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--rate", type=float, help="open loop: ratings/s arriving over all the kiosks (see above)")
    ap.add_argument("--duration", type=float, default=30, help="open loop: seconds of arrivals")
    common.engine_args(ap)
    args = ap.parse_args()
    try:
        town = common.Town(args.engine, prefix="hailong-many-")
    except common.Skip as exc:
        print(exc)
        return
    workers = args.workers if args.engine == "postgresql" else 1
    try:
        if args.rate:
            many = run_open_loop(town, args.kiosks, args.rate, args.duration, args.batch, workers)
        else:
            many = run(town, args.kiosks, args.per_kiosk, args.batch, workers)
    finally:
        town.drop()
    print(json.dumps(many, indent=1))
    if args.rate:
        p99 = many["batch_latency_p99_ms"]
        print(f"{args.kiosks} kiosks in service on {args.engine}, {args.rate:g} ratings/s arriving: "
              f"{many['batches']:,} batches ({many['ratings_per_batch']} ratings each); p50 / p99 batch latency "
              f"{many['batch_latency_p50_ms']} / {p99} ms (target p99 < 200: {'met' if p99 < 200 else 'NOT met'})")
        print(common.load_line())
        return
    p99 = many["batch_latency_p99_ms"]
    print(f"{args.kiosks} kiosks at once on {args.engine} ({workers} server process{'es' if workers > 1 else ''}): "
          f"{many['ratings_per_s']:,} ratings/s, {many['ratio_over_baseline']:.2f}× a bare "
          f"{many['baseline']}; p50 / p99 batch latency {many['batch_latency_p50_ms']} / {p99} ms "
          f"(target p99 < 200: {'met' if p99 < 200 else 'NOT met'}); on the server (queue included) "
          f"{many['server_time_p50_ms']} / {many['server_time_p99_ms']} ms")
    print(common.load_line())


if __name__ == "__main__":
    main()
