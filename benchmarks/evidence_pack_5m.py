"""The evidence pack of a year of 5,000,000 ratings: time, size, peak memory; and verify-pack on it.

The ratings come from benchmarks/dashboard_5m.py's generator (20 units, 60
desks = 60 kiosks, 200 officers, a year of 2026), then each kiosk's ratings
are numbered 1, 2, 3… and sealed into a real hash chain with sync.protocol
(the generator's hashes are placeholders), and the roll-up is folded (the
Word report reads it). Built once, kept in the temp folder.

Each measured step runs in its own process so its peak memory (ru_maxrss,
from ``os.wait4``) is its own:

* baseline, same run: the plain CSV export of the same rows
  (reports/exports.export, what the dashboard's "CSV" button writes);
* the pack of the year (reports/evidence_pack.write_pack);
* the pack of one month (a twelfth of the rows): the same peak memory as
  the year's shows that writing streams;
* ``hailong verify-pack`` of the year's pack (the real command line).

    python benchmarks/evidence_pack_5m.py [N] [--rebuild]
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def reseal(path: Path) -> None:
    """Number each kiosk's ratings 1, 2, 3… in time order and chain them (prev_hash → hash)."""
    from sync import protocol
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("UPDATE ratings SET seq = -seq")        # out of the way of the new numbers (unique kiosk, seq)
    con.commit()
    fields = [f for f in protocol.BODY_FIELDS_V1 if f != "seq"]
    rows = con.execute(f"SELECT pk, {', '.join(fields)} FROM ratings ORDER BY kiosk_id, seq DESC")
    kiosk, prev, seq, batch = None, protocol.ZERO_HASH, 0, []
    write = con.cursor()
    t0, n = time.perf_counter(), 0
    for row in rows:
        rec = dict(zip(fields, row[1:]))
        if rec["kiosk_id"] != kiosk:
            kiosk, prev, seq = rec["kiosk_id"], protocol.ZERO_HASH, 0
        seq += 1
        rec["seq"] = seq
        rec["reasons"], rec["flags"] = json.loads(rec["reasons"]), json.loads(rec["flags"])
        digest = protocol.record_hash(prev, rec)
        batch.append((seq, prev, digest, row[0]))
        prev = digest
        n += 1
        if len(batch) == 50000:
            write.executemany("UPDATE ratings SET seq = ?, prev_hash = ?, hash = ? WHERE pk = ?", batch)
            batch.clear()
            print(f"\r  sealed {n:,} ratings ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    write.executemany("UPDATE ratings SET seq = ?, prev_hash = ?, hash = ? WHERE pk = ?", batch)
    con.commit()
    con.close()
    print()


def prepare(path: Path, n: int) -> None:
    import dashboard_5m
    from sqlalchemy import create_engine

    from sync.server.core import db, rollup
    for old in path.parent.glob(path.name + "*"):
        old.unlink()
    print(f"building {path} with {n:,} ratings…")
    dashboard_5m.build(path, n)
    print("sealing each kiosk's chain…")
    reseal(path)
    print("folding the roll-up…")
    t = time.perf_counter()
    engine = create_engine(f"sqlite:///{path}")
    rollup.rebuild(engine, list(dict.fromkeys(dashboard_5m.REASONS)))
    with engine.begin() as conn:           # the server's signing key, as create_app makes it
        from sync.server.core.signing import ensure_signing_key
        ensure_signing_key(conn)
    engine.dispose()
    print(f"  {time.perf_counter() - t:.0f} s")


def child(what: str, path: str, period: str, out: str) -> None:
    """One measured step, in this (fresh) process."""
    from sqlalchemy import create_engine

    from sync.server.core.db import make_reader
    from sync.server.core.signing import signing_key
    from sync.server.reports import exports, periods
    from sync.server.reports.evidence_pack import write_pack
    from sync.server.reports.stats import Filter
    engine = create_engine(f"sqlite:///{path}")
    reader = make_reader(engine)
    chosen = periods.parse(period)
    if what == "csv":
        with open(out, "wb") as fh:
            n = exports.export(reader, Filter(chosen), "csv", fh)
    else:
        with reader.connect() as conn:
            key = signing_key(conn)
        n = write_pack(reader, chosen, Path(out), key).ratings
    print(n)


def measured(args: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, output) of a child process (its own ru_maxrss, from os.wait4)."""
    with tempfile.TemporaryFile() as log:
        t = time.perf_counter()
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "LANG": "en_US.UTF-8"})
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{args[2:]} failed: {out[-2000:]}")
    return seconds, usage.ru_maxrss // 1024, out


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6])
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 5_000_000
    path = Path(tempfile.gettempdir()) / f"hailong-bench-evidence-{n}.db"
    if "--rebuild" in sys.argv or not path.exists():
        prepare(path, n)
    work = Path(tempfile.mkdtemp(prefix="hailong-bench-pack-"))
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    rows = []
    t_csv, rss_csv, out = measured([*me, "csv", str(path), "2026", str(work / "year.csv")])
    count = int(out.split()[0])
    csv_size = (work / "year.csv").stat().st_size
    rows.append(("baseline: CSV export of the year", t_csv, csv_size, rss_csv))
    t_pack, rss_pack, out = measured([*me, "pack", str(path), "2026", str(work / "year.zip")])
    assert int(out.split()[0]) == count, out
    rows.append(("evidence pack of the year", t_pack, (work / "year.zip").stat().st_size, rss_pack))
    t_month, rss_month, out = measured([*me, "pack", str(path), "2026-11", str(work / "month.zip")])
    rows.append((f"evidence pack of 2026-11 ({int(out.split()[0]):,} ratings)", t_month,
                 (work / "month.zip").stat().st_size, rss_month))
    t_ver, rss_ver, out = measured([sys.executable, "-m", "hailong.cli", "verify-pack", str(work / "year.zip")])
    assert "The pack is whole" in out, out
    rows.append(("hailong verify-pack of the year's pack", t_ver, None, rss_ver))
    print(f"\nratings in the year: {count:,}")
    print(f"{'what':48} {'time':>9} {'ratio':>6} {'size MB':>9} {'peak RSS MB':>12}")
    for what, seconds, size, rss in rows:
        print(f"{what:48} {seconds:8.1f}s {seconds / t_csv:6.2f} "
              f"{(f'{size / 1e6:9.0f}' if size else '        –')} {rss:12d}")
    print(f"pack size / CSV size: {rows[1][2] / csv_size:.2f}; ratings per second (pack): {count / t_pack:,.0f}")
    for f in work.iterdir():
        f.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
