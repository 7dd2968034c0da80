"""`hailong pull` of 1,000,000 ratings from a real `hailong server`: ratings per second.

End to end: the real `hailong pull` command (a subprocess, requests, paging
``GET /api/v1/ratings``) against the real `hailong server` (a subprocess,
uvicorn, SQLite town.db) over loopback, to JSON Lines and CSV; Excel on a
smaller subset (``--xlsx-n``, openpyxl writes ~10–20k rows/s). CSV and Excel
with the web export's columns and words (the default; not ``--raw``). Baseline, same
run: a bare sqlite3 ``SELECT`` of the same rows written to a JSON-lines file
(``json.dumps`` per row, no HTTP, no paging).

The town.db is built once (about a minute) and kept in the temp folder:

    python benchmarks/pull_1m.py [--n 1000000] [--xlsx-n 100000] [--limit 5000] [--rebuild]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from common import server_cpu as cpu_seconds
from helpers import free_port, start_server  # noqa: E402

from sync import protocol  # noqa: E402
from sync.server.core.db import make_engine, migrate  # noqa: E402

COMMENTS = ["Cán bộ hướng dẫn tận tình, chu đáo", "Phải chờ lâu quá", None, None, None, None]
REASONS = ["thai_do", "huong_dan", "dung_hen", "so_lan_di_lai"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def build(path: Path, n: int) -> None:
    """A town.db at the newest migration holding ``n`` synthetic ratings (bulk sqlite3 inserts)."""
    for old in path.parent.glob(path.name + "*"):
        old.unlink()
    engine = make_engine(str(path))
    migrate(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    cols = ("id", "kiosk_id", "seq", "created_at", "unit_code", "desk_id", "officer_id", "dossier_code",
            "procedure_code", "receipt_id", "level", "reasons", "comment", "source", "flags", "prev_hash",
            "hash", "sig", "received_at", "batch_key", "skew_seconds", "corrected_at")
    sql = f"INSERT INTO ratings ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})"
    rnd = random.Random(11)
    hexes = [os.urandom(32).hex() for _ in range(1024)]
    start = datetime(2026, 1, 1, 7, 0)
    t0, batch = time.perf_counter(), []
    for seq in range(1, n + 1):
        at = (start + timedelta(seconds=seq * 30)).isoformat(timespec="milliseconds") + "+07:00"
        level = rnd.choice((3, 3, 3, 2, 2, 1))
        reasons = json.dumps(rnd.sample(REASONS, 2) if level == 1 else [])
        desk = f"u{seq % 20:02d}-q{seq % 3}"
        batch.append((str(uuid.UUID(int=rnd.getrandbits(128), version=4)), f"k-{desk}", seq, at,
                      f"u{seq % 20:02d}", desk, f"cb-{seq % 200:04d}", f"H{seq:08d}", "1.000123", None,
                      level, reasons, rnd.choice(COMMENTS), "walk_up", "[]", hexes[seq % 1024],
                      hexes[(seq + 1) % 1024], hexes[(seq + 2) % 1024], at, None, 0.0, at))
        if len(batch) == 50_000:
            con.executemany(sql, batch)
            con.commit()
            batch.clear()
            print(f"\r  built {seq:,} ratings ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    con.executemany(sql, batch)
    con.commit()
    con.close()
    print()
    prefold(path)


def prefold(path: Path) -> None:
    """Roll the ratings up now, so the server's catch-up fold at start does not compete with the pull."""
    from sync.server.core import rollup
    from sync.server.core.settings import survey
    engine = make_engine(str(path))
    with engine.connect() as conn:
        reasons = survey(conn)["reasons"]
    t0 = time.perf_counter()
    rollup.fold(engine, reasons)
    print(f"  rolled up in {time.perf_counter() - t0:.0f} s")
    engine.dispose()


def baseline(path: Path, out: Path, n: int) -> float:
    """Seconds for a bare SELECT of the first ``n`` ratings into a JSON-lines file."""
    fields = list(protocol.RECORD_FIELDS) + ["received_at"]
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    with out.open("w", encoding="utf-8") as fh:
        for row in con.execute(f"SELECT {', '.join(fields)} FROM ratings ORDER BY pk LIMIT ?", (n,)):
            fh.write(json.dumps(dict(zip(fields, row)), ensure_ascii=False) + "\n")
    con.close()
    return time.perf_counter() - t0


def admin_token(db) -> str:
    """A viewer's API token on ``db`` (a town.db path or a PostgreSQL URL), its user made once."""
    hailong = [sys.executable, "-m", "hailong", "admin", "--db", str(db)]
    engine = make_engine(str(db))
    with engine.connect() as conn:
        users = conn.exec_driver_sql("SELECT count(*) FROM users WHERE username = 'bench'").scalar()
    engine.dispose()
    if not users:
        subprocess.run(hailong + ["create-user", "--username", "bench", "--role", "viewer", "--password-stdin"],
                       input="bench-password\n", text=True, check=True, cwd=ROOT, env=ENV)
    out = subprocess.run(hailong + ["create-token", "--username", "bench", "--json"], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=ENV).stdout
    return json.loads(out)["token"]


def pull(url: str, token: str, fmt: str, out: Path, limit: int, server_pid: int, full_after: str | None = None):
    """Run `hailong pull`; returns (seconds, server CPU seconds, count). ``full_after`` limits the rows.

    ``fmt`` "csv-raw": ``--format csv --raw``, the server's streamed CSV (GET /api/v1/ratings.csv)."""
    raw = fmt == "csv-raw"
    fmt = "csv" if raw else fmt
    cmd = [sys.executable, "-m", "hailong", "pull", "--server", url, "--format", fmt, "--out", str(out),
           "--full", "--no-progress", "--limit", str(limit), *(["--raw"] if raw else [])]
    cpu0 = cpu_seconds(server_pid)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd + (["--after", full_after] if full_after else []), capture_output=True,
                          text=True, cwd=ROOT, env={**ENV, "HAILONG_TOKEN": token, "LANGUAGE": "en"})
    took = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"hailong pull failed: {proc.stderr}")
    said = re.search(r"Added ([\d,]+) rows", proc.stdout)   # "Added 1,000,000 rows to … (… in all)"
    if not said:
        sys.exit(f"hailong pull said something unexpected: {proc.stdout!r}")
    count = int(said[1].replace(",", ""))
    client_cpu = kids.ru_utime + kids.ru_stime - kids0.ru_utime - kids0.ru_stime
    return took, cpu_seconds(server_pid) - cpu0, client_cpu, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--xlsx-n", type=int, default=100_000, help="ratings in the Excel pull")
    ap.add_argument("--limit", type=int, default=5000, help="ratings per page")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    db = Path(tempfile.gettempdir()) / f"hailong-bench-pull-{args.n}.db"
    if args.rebuild or not db.exists():
        print(f"building {db} with {args.n:,} ratings…")
        build(db, args.n)
    work = Path(tempfile.mkdtemp(prefix="hailong-pull-"))
    token = admin_token(db)

    cpu0 = time.process_time()
    base = baseline(db, work / "baseline.jsonl", args.n)
    base_rate = args.n / base
    print(f"baseline: bare SELECT → JSON lines: {base:6.1f} s  {base_rate:9,.0f} ratings/s  "
          f"CPU {time.process_time() - cpu0:5.1f} s")
    port = free_port()
    server = start_server(db, port)
    url = f"http://127.0.0.1:{port}"
    figures = {"ratings": args.n, "page": args.limit, "baseline_s": round(base, 2),
               "baseline_ratings_per_s": round(base_rate)}
    try:
        for fmt in ("jsonl", "csv", "xlsx"):
            n = args.n if fmt != "xlsx" else min(args.xlsx_n, args.n)
            # the xlsx pull takes the last n ratings: start after the cursor (pk) n before the end
            after = str(args.n - n) if n < args.n else None
            took, server_cpu, client_cpu, count = pull(url, token, fmt, work / f"out.{fmt}", args.limit,
                                                       server.pid, after)
            assert count == n, (fmt, count, n)
            rate = n / took
            figures[fmt] = {"ratings": n, "s": round(took, 2), "ratings_per_s": round(rate),
                            "server_cpu_s": round(server_cpu, 2), "client_cpu_s": round(client_cpu, 2),
                            "ratio_to_baseline": round(rate / base_rate, 3)}
            print(f"hailong pull --format {fmt:5}: {n:9,} ratings {took:6.1f} s  {rate:9,.0f} ratings/s  "
                  f"CPU server {server_cpu:5.1f} s client {client_cpu:5.1f} s  ratio to baseline {rate / base_rate:5.2f}")
    finally:
        server.terminate()
        server.wait(30)
    with (work / "out.jsonl").open(encoding="utf-8") as a, (work / "baseline.jsonl").open(encoding="utf-8") as b:
        first_pulled, first_base = json.loads(a.readline()), json.loads(b.readline())
    shutil.rmtree(work)   # the outputs (~1.5 GB); the town.db stays for the next run
    first_pulled["reasons"], first_pulled["flags"] = json.dumps(first_pulled["reasons"]), json.dumps(first_pulled["flags"])
    first_pulled.pop("server_flags", None)   # the server's own, beside the record
    # the synthetic rows are protocol v1 (wire_version 1): sent without survey and answers
    assert first_pulled == {k: first_base[k] for k in first_pulled}, (first_pulled, first_base)
    print(json.dumps(figures, indent=1))
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
