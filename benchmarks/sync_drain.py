"""Drain a backlog of sealed ratings from kiosk.db to a town server over loopback.

End to end: the real agent (SyncAgent, gzip batches) → `hailong server` (a
subprocess, uvicorn, SQLite town.db) and back. Baseline, same run: a bare
bulk insert of the same rows into a fresh town.db through the server's own
table (one executemany, one transaction). Targets: ≥ 20,000 ratings/s end to
end, ≤ 150 bytes per rating on the wire.

    python benchmarks/sync_drain.py [--n 100000] [--batch 500]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from faultproxy import fill_kiosk  # noqa: E402
from helpers import free_port, start_server  # noqa: E402

from sync import protocol  # noqa: E402
from sync.agent import SyncAgent  # noqa: E402
from sync.server.core.admin_ops import enrol_kiosk  # noqa: E402
from sync.server.core.db import bulk_insert, make_engine, migrate, ratings  # noqa: E402
from sync.server.core.ingest import _row  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bulk_insert_baseline(folder: Path, records: list[dict]) -> float:
    """Seconds to put the same rows into a fresh town.db's ratings table in one go."""
    engine = make_engine(str(folder / "baseline.db"))
    migrate(engine)
    rows = [_row(r, "2026-03-02T02:20:00.000+00:00", "bench", 0.0, r["created_at"]) for r in records]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        bulk_insert(conn, ratings, rows)
    took = time.perf_counter() - t0
    engine.dispose()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hailong-bench-"))
    engine = make_engine(str(folder / "town.db"))
    migrate(engine)
    with engine.begin() as conn:
        kiosk = enrol_kiosk(conn, "BENCH-01", "13321")

    t0 = time.perf_counter()
    store = fill_kiosk(folder / "kiosk.db", "BENCH-01", kiosk["key"], args.n)
    gen = time.perf_counter() - t0
    print(f"generated and bulk-inserted {args.n:,} sealed ratings into kiosk.db in {gen:.1f} s")

    port = free_port()
    server = start_server(folder / "town.db", port)
    try:
        agent = SyncAgent(store, f"http://127.0.0.1:{port}", kiosk["token"], "BENCH-01",
                          batch_size=args.batch, timeout=60)
        server_cpu0, agent_cpu0 = cpu_seconds(server.pid), time.process_time()
        t0 = time.perf_counter()
        result = agent.drain()
        took = time.perf_counter() - t0
        server_cpu, agent_cpu = cpu_seconds(server.pid) - server_cpu0, time.process_time() - agent_cpu0
    finally:
        server.terminate()
        server.wait(30)

    with engine.connect() as conn:
        from sqlalchemy import func, select
        held = conn.execute(select(func.count()).select_from(ratings)).scalar()
    assert held == args.n and result.synced == args.n, (held, result)
    records = [{k: r[k] for k in protocol.RECORD_FIELDS} for r in store.iter_records()]
    base = bulk_insert_baseline(folder, records)

    rate, base_rate = args.n / took, args.n / base
    figures = {
        "ratings": args.n, "batch_size": args.batch, "batches": result.batches,
        "end_to_end_s": round(took, 2), "end_to_end_ratings_per_s": round(rate),
        "wire_bytes_per_rating": round(result.bytes_sent / args.n, 1),
        "server_cpu_s": round(server_cpu, 2), "agent_cpu_s": round(agent_cpu, 2),
        "server_cpu_us_per_rating": round(server_cpu / args.n * 1e6, 1),
        "baseline_bulk_insert_s": round(base, 2), "baseline_ratings_per_s": round(base_rate),
        "ratio_end_to_end_over_bulk_insert": round(rate / base_rate, 3),
    }
    print(json.dumps(figures, indent=1))
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"end to end {rate:,.0f} ratings/s (target ≥ 20,000: {'met' if rate >= 20_000 else 'NOT met'}); "
          f"{result.bytes_sent / args.n:.1f} B/rating on the wire (target ≤ 150: "
          f"{'met' if result.bytes_sent / args.n <= 150 else 'NOT met'}); "
          f"{rate / base_rate:.2f}× a bare bulk insert")
    store.close()
    engine.dispose()


if __name__ == "__main__":
    main()
