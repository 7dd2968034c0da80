"""Tap-to-durable: KioskStore.append (seq, chain, HMAC, commit) vs a bare sqlite3 insert+commit.

Both write to their own kiosk.db in the same folder, same schema (tables and
indexes), same pragmas (WAL, synchronous=FULL); the baseline inserts a row
sealed beforehand, so the difference is what a tap costs beyond SQLite:
reading the chain's tail, NFC, canonical JSON, SHA-256, HMAC, the record
check. The runs are interleaved so the shared machine's noise falls on both. Prints p50/p99 of each and the
ratio (target: at most 1.5).

    python benchmarks/store_append.py [N]
"""
from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kiosk.store import KioskStore  # noqa: E402
from sync import protocol  # noqa: E402

COMMENT = "Cán bộ hướng dẫn tận tình, chu đáo"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(n: int = 400) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hailong-bench-"))
    store = KioskStore(tmp / "kiosk.db", "BENCH-01", "ab" * 32)
    store.init()
    KioskStore(tmp / "bare.db").init()  # the same schema, then plain sqlite3
    bare = sqlite3.connect(str(tmp / "bare.db"), isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=FULL")
    prev, rows = protocol.ZERO_HASH, []
    for i in range(1, n + 1):
        rec = protocol.seal({"id": str(uuid.uuid4()), "kiosk_id": "BENCH-01", "seq": i,
                             "created_at": "2026-11-28T08:00:00+07:00", "unit_code": "13321", "desk_id": "quay-1",
                             "officer_id": "cb-001", "dossier_code": None, "procedure_code": None,
                             "receipt_id": None, "level": 2, "reasons": ["huong_dan"], "comment": COMMENT,
                             "source": "walk_up", "flags": []}, prev, "ab" * 32)
        prev = rec["hash"]
        rows.append(tuple(json.dumps(rec[k]) if k in ("reasons", "flags") else rec[k]
                          for k in protocol.RECORD_FIELDS))
    insert = (f"INSERT INTO ratings({','.join(protocol.RECORD_FIELDS)}) "
              f"VALUES ({','.join('?' * len(protocol.RECORD_FIELDS))})")
    ours, base = [], []
    for i in range(1, n + 1):
        t = time.perf_counter()
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=2,
                     reasons=["huong_dan"], comment=COMMENT, rapid_repeat_seconds=10)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        bare.execute("BEGIN IMMEDIATE")
        bare.execute(insert, rows[i - 1])
        bare.execute("COMMIT")
        base.append(time.perf_counter() - t)
    assert store.verify() == (None, None)
    result = {
        "n": n,
        "ours_p50_ms": statistics.median(ours) * 1e3, "ours_p99_ms": percentile(ours, 99) * 1e3,
        "bare_p50_ms": statistics.median(base) * 1e3, "bare_p99_ms": percentile(base, 99) * 1e3,
    }
    result["ratio_p50"] = result["ours_p50_ms"] / result["bare_p50_ms"]
    result["ratio_p99"] = result["ours_p99_ms"] / result["bare_p99_ms"]
    return result


if __name__ == "__main__":
    r = main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
    print(f"tap-to-durable over {r['n']} ratings (WAL, synchronous=FULL)")
    print(f"  KioskStore.append  p50 {r['ours_p50_ms']:.3f} ms  p99 {r['ours_p99_ms']:.3f} ms")
    print(f"  bare insert+commit p50 {r['bare_p50_ms']:.3f} ms  p99 {r['bare_p99_ms']:.3f} ms")
    print(f"  ratio p50 {r['ratio_p50']:.2f}  p99 {r['ratio_p99']:.2f}  (target <= 1.5)")
