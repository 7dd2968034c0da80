"""What the sync benchmarks share (sync_drain.py, sync_many_kiosks.py): a town, a server, CPU, a baseline.

* :class:`Town` — an empty town database on either engine, migrated:
  a town.db in a temp folder (SQLite) or a fresh database in the kept
  benchmark cluster of _pg_town.py (PostgreSQL; durability off there, as in
  the tests: fsync, synchronous_commit and full_page_writes; SQLite keeps
  its own ``synchronous=FULL``).
* :func:`start` — ``hailong server`` on it (a subprocess; ``--workers N``
  on PostgreSQL).
* :func:`server_cpu` — utime + stime of the server and all its live
  descendants (uvicorn's worker processes), from /proc.
* :func:`baseline` — seconds for a bare bulk insert of the same rows into
  the same database's ``ratings`` table in the same run: one DB-API
  executemany on SQLite, one ``COPY … FROM STDIN`` (psycopg ``cursor.copy``)
  on PostgreSQL. The rows are the server's own (core/ingest._row) with a
  new id and another kiosk id, so that they sit beside the drained ones
  (the table's unique keys) in a table of the same size and indexes.
* :func:`percentile`, :func:`records_of` — small helpers.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from helpers import free_port, start_server  # noqa: E402

from sync import protocol  # noqa: E402
from sync.server.core.db import bulk_insert, make_engine, migrate, ratings  # noqa: E402
from sync.server.core.ingest import _row  # noqa: E402

ENGINES = ("sqlite", "postgresql")


class Skip(Exception):
    """No PostgreSQL here: the benchmark prints why and succeeds."""


class Town:
    """An empty, migrated town database on ``engine`` ("sqlite" | "postgresql")."""

    def __init__(self, engine: str, prefix: str = "hailong-bench-"):
        self.kind = engine
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        if engine == "sqlite":
            self.url = str(self.folder / "town.db")
            self.pg = None
        else:
            import _pg_town
            self.pg = _pg_town.cluster()
            if self.pg is None:
                raise Skip("PostgreSQL is not installed (or, as root, no postgres user): skipped")
            import psycopg
            self.name = "sync_" + uuid.uuid4().hex[:10]
            with psycopg.connect(self.pg.admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = self.pg.url(self.name)
        self.engine = make_engine(self.url)
        migrate(self.engine)

    def drop(self) -> None:
        self.engine.dispose()
        if self.pg is not None:
            import psycopg
            with psycopg.connect(self.pg.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


#: ``BENCH_PROFILE=/tmp/x.txt``: py-spy records the server (its worker processes too, idle time
#: included) while it runs, collapsed stacks written to that file when it stops (py-spy installed)
PROFILE_ENV = "BENCH_PROFILE"
_profilers: dict = {}


def start(town: Town, workers: int = 1):
    """``hailong server`` on the town (subprocess); (process, base URL)."""
    port = free_port()
    extra = ("--workers", str(workers)) if town.kind == "postgresql" and workers > 1 else ()
    proc = start_server(town.url, port, *extra)
    if os.environ.get(PROFILE_ENV):
        import shutil
        import subprocess
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        _profilers[proc.pid] = subprocess.Popen(
            [spy, "record", "-s", "--idle", "-f", "raw", "-r", "200", "-o", os.environ[PROFILE_ENV],
             "--pid", str(proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc) -> None:
    spy = _profilers.pop(proc.pid, None)
    if spy is not None:
        import signal
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    proc.terminate()
    proc.wait(30)


def _stat(pid: int):
    """(ppid, utime + stime in seconds) of a live process, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant (the server's worker processes)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                table[int(entry)] = st
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in table:
            total += table[p][1]
        todo.extend(c for c, (ppid, _) in table.items() if ppid == p)
    return total


def records_of(stores) -> list[dict]:
    """The records of kiosk stores, as the wire carries them."""
    return [{k: r[k] for k in protocol.RECORD_FIELDS} for s in stores for r in s.iter_records()]


def baseline(town: Town, records: list[dict]) -> float:
    """Seconds to bulk-insert ``records`` (as the server stores them) into the town's ratings, one transaction."""
    now = "2026-03-02T02:20:00.000+00:00"
    rows = []
    for r in records:
        row = _row(r, now, "bench", 0.0, r["created_at"])
        row["id"] = str(uuid.uuid4())
        row["kiosk_id"] = "BASE-" + row["kiosk_id"]
        rows.append(row)
    if town.kind == "sqlite":
        t0 = time.perf_counter()
        with town.engine.begin() as conn:
            bulk_insert(conn, ratings, rows)
        return time.perf_counter() - t0
    import psycopg
    cols = list(rows[0])
    values = [tuple(row[c] for c in cols) for row in rows]
    with psycopg.connect(town.pg.url(town.name, "postgresql")) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY ratings ({', '.join(cols)}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
        conn.commit()
        return time.perf_counter() - t0


def timed_agent(store, url: str, kiosk: dict, batch: int, latencies: list, server_times: list):
    """A SyncAgent that appends each batch's latency (and the server's own Server-Timing) in seconds."""
    from sync.agent import SyncAgent
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


def percentile(values: list[float], q: float) -> float:
    """The q-th quantile (0..1) of ``values``, in ms, nearest rank."""
    values = sorted(values)
    if not values:
        return float("nan")
    return round(values[min(len(values) - 1, max(0, int(len(values) * q + 0.5) - 1))] * 1000, 1)


def latency_figures(latencies: list[float], server_times: list[float]) -> dict:
    """p50 and p99 of the batches' latency as the agents saw it and of the server's own time."""
    return {"batch_latency_p50_ms": percentile(latencies, 0.5), "batch_latency_p99_ms": percentile(latencies, 0.99),
            "server_time_p50_ms": percentile(server_times, 0.5), "server_time_p99_ms": percentile(server_times, 0.99)}


def engine_args(ap) -> None:
    ap.add_argument("--engine", choices=ENGINES, default="sqlite")
    ap.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL (SQLite: always 1)")


def load_line() -> str:
    return f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
