"""50 kiosks syncing at once to one town server: ratings/s and p99 batch latency.

Each kiosk has its own kiosk.db and its own SyncAgent (a thread here; on a
real desk, its own machine) draining into `hailong server` (a subprocess).
Baseline, same run: one kiosk draining the same total number of ratings.

    python benchmarks/sync_many_kiosks.py [--kiosks 50] [--per-kiosk 1000] [--batch 100]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from faultproxy import fill_kiosk  # noqa: E402
from helpers import free_port, start_server  # noqa: E402

from sync import protocol  # noqa: E402
from sync.agent import SyncAgent  # noqa: E402
from sync.server.core.admin_ops import enrol_kiosk  # noqa: E402
from sync.server.core.db import make_engine, migrate  # noqa: E402


def timed_agent(store, url, kiosk, batch, latencies, server_times):
    agent = SyncAgent(store, url, kiosk["token"], kiosk["kiosk_id"], batch_size=batch, timeout=120)
    send = agent.session.request

    def timed(method, target, **kw):
        t0 = time.perf_counter()
        resp = send(method, target, **kw)
        if protocol.PATH_BATCH in target:
            latencies.append(time.perf_counter() - t0)
            timing = resp.headers.get("Server-Timing", "")
            if "dur=" in timing:
                server_times.append(float(timing.split("dur=")[1]) / 1000)
        return resp
    agent.session.request = timed
    return agent


def run(folder: Path, n_kiosks: int, per_kiosk: int, batch: int) -> dict:
    engine = make_engine(str(folder / "town.db"))
    migrate(engine)
    with engine.begin() as conn:
        kiosks = [enrol_kiosk(conn, f"K{i:02d}", "13321") for i in range(n_kiosks)]
    engine.dispose()
    stores = [fill_kiosk(folder / f"kiosk-{k['kiosk_id']}.db", k["kiosk_id"], k["key"], per_kiosk) for k in kiosks]
    port = free_port()
    server = start_server(folder / "town.db", port)
    latencies: list[float] = []
    server_times: list[float] = []
    try:
        agents = [timed_agent(s, f"http://127.0.0.1:{port}", k, batch, latencies, server_times)
                  for s, k in zip(stores, kiosks)]
        results = [None] * n_kiosks
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, agents[i].drain())) for i in range(n_kiosks)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    total = n_kiosks * per_kiosk
    assert sum(r.synced for r in results) == total, [r for r in results if r.synced != per_kiosk][:3]
    for s in stores:
        s.close()
    lat, srv = sorted(latencies), sorted(server_times)

    def p99(values):
        return round(values[max(0, int(len(values) * 0.99) - 1)] * 1000, 1)
    return {"kiosks": n_kiosks, "ratings": total, "seconds": round(took, 2), "ratings_per_s": round(total / took),
            "batches": len(lat), "batch_latency_p50_ms": round(statistics.median(lat) * 1000, 1),
            "batch_latency_p99_ms": p99(lat),
            "server_time_p50_ms": round(statistics.median(srv) * 1000, 1), "server_time_p99_ms": p99(srv)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=50)
    ap.add_argument("--per-kiosk", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    many = run(Path(tempfile.mkdtemp(prefix="hailong-many-")), args.kiosks, args.per_kiosk, args.batch)
    one = run(Path(tempfile.mkdtemp(prefix="hailong-one-")), 1, args.kiosks * args.per_kiosk, args.batch)
    print(json.dumps({"many": many, "one_kiosk_baseline": one}, indent=1))
    print(f"{args.kiosks} kiosks at once: {many['ratings_per_s']:,} ratings/s, p99 batch latency "
          f"{many['batch_latency_p99_ms']} ms; one kiosk, same total: {one['ratings_per_s']:,} ratings/s, "
          f"p99 {one['batch_latency_p99_ms']} ms; throughput ratio {many['ratings_per_s'] / one['ratings_per_s']:.2f}")
    print(f"time on the server (queue for the writer included), p99: {many['server_time_p99_ms']} ms with "
          f"{args.kiosks} kiosks, {one['server_time_p99_ms']} ms with one")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
