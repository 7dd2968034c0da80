"""The public log's cost: a backlog's ingest with the log against without, and proofs at 10 M leaves.

1. Two fresh town.db (SQLite), one kiosk each, the same backlog of sealed
   ratings in batches of 100, interleaved batch by batch (the machine's noise
   falls on both): ``core.ingest.ingest`` as the server runs it (the append,
   and a signed checkpoint when the last one is a second old), and the same with
   ``tlog_store.append`` replaced by nothing. Ratio with/without (target:
   at most 1.2).
2. A SQLite file with 10 M leaves (a bare ``ratings(pk, hash, receipt_id)``
   and the log's own tables), its node cache built by ``extend_cache``; then
   inclusion and consistency proofs by ``tlog_store`` at random: ms each
   and bytes (hashes, and the JSON the API sends).

    python benchmarks/tlog_append.py [--backlog 20000] [--leaves 10000000]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sync import protocol, tlog  # noqa: E402
from sync.server.core import ingest as ingest_mod  # noqa: E402
from sync.server.core import tlog_store  # noqa: E402
from sync.server.core.admin_ops import enrol_kiosk  # noqa: E402
from sync.server.core.db import (  # noqa: E402
    kiosks,
    log_checkpoints,
    log_leaves,
    log_nodes,
    make_engine,
    metadata,
    migrate,
    settings,
)

BATCH = 100


def sealed(kid: str, key: str, n: int) -> list[dict]:
    prev, out = protocol.ZERO_HASH, []
    for seq in range(1, n + 1):
        rec = protocol.seal({
            "id": str(uuid.uuid4()), "kiosk_id": kid, "seq": seq, "created_at": "2026-03-02T09:15:00+07:00",
            "unit_code": "13321", "desk_id": "quay-1", "officer_id": f"cb-00{seq % 5 + 1}",
            "dossier_code": f"H12.34-{seq:06d}", "procedure_code": "1.001193",
            "receipt_id": uuid.uuid4().hex[:16], "level": 1 + seq % 3, "reasons": [], "comment": None,
            "source": "receipt", "flags": [], "survey": "hl3", "answers": {}}, prev, key)
        prev = rec["hash"]
        out.append(rec)
    return out


def ingest_ratio(backlog: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hailong-tlog-"))
    towns = {}
    for name in ("with", "without"):
        engine = make_engine(str(tmp / name / "town.db"))
        migrate(engine)
        with engine.begin() as conn:
            e = enrol_kiosk(conn, "K1", "13321")
            tlog_store.ensure_log(conn)
        towns[name] = (engine, e, sealed("K1", e["key"], backlog))
    real = ingest_mod.tlog_store.append
    spent = {"with": [], "without": []}

    class _NoLog:
        append = staticmethod(lambda conn, now=None, sign=True: 0)

    for start in range(0, backlog, BATCH):
        for name in ("with", "without") if (start // BATCH) % 2 == 0 else ("without", "with"):
            engine, e, recs = towns[name]
            body = json.dumps({"kiosk_id": "K1", "sent_at": "2026-03-02T09:20:00+07:00",
                               "ratings": recs[start:start + BATCH]}).encode()
            ingest_mod.tlog_store = tlog_store if name == "with" else _NoLog
            t0 = time.perf_counter()
            batch = ingest_mod.parse_batch(body, 5000)
            ingest_mod.check_seals(batch, e["key"])
            with engine.begin() as conn:
                kiosk = conn.execute(kiosks.select().where(kiosks.c.id == "K1")).mappings().first()
                ingest_mod.ingest(conn, dict(kiosk), batch, str(uuid.uuid4()))
            spent[name].append(time.perf_counter() - t0)
    ingest_mod.tlog_store = tlog_store
    assert real is tlog_store.append
    with towns["with"][0].begin() as conn:
        tlog_store.sign_checkpoint(conn)      # what the background round signs of the last second
        cp = tlog_store.latest(conn)
    assert cp.tree_size == backlog, cp
    w, wo = sum(spent["with"]), sum(spent["without"])
    return {"backlog": backlog, "batch": BATCH, "with_s": round(w, 3), "without_s": round(wo, 3),
            "ratio": round(w / wo, 3), "with_batch_ms_p50": round(statistics.median(spent["with"]) * 1000, 2),
            "without_batch_ms_p50": round(statistics.median(spent["without"]) * 1000, 2)}


def big_tree(leaves: int, proofs: int = 200) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hailong-tlog10m-"))
    engine = make_engine(str(tmp / "log.db"))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ratings (pk INTEGER PRIMARY KEY, hash TEXT NOT NULL, receipt_id TEXT)")
        metadata.create_all(conn, tables=[log_leaves, log_nodes, log_checkpoints, settings])
        raw = conn.connection.driver_connection
        step = 500_000
        for lo in range(0, leaves, step):
            hi = min(leaves, lo + step)
            raw.executemany("INSERT INTO ratings (pk, hash) VALUES (?, ?)",
                            ((i + 1, hashlib.sha256(i.to_bytes(8, "big")).hexdigest()) for i in range(lo, hi)))
            raw.executemany("INSERT INTO log_leaves (idx, rating_pk) VALUES (?, ?)",
                            ((i, i + 1) for i in range(lo, hi)))
        tlog_store.ensure_log(conn)
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    while True:
        with engine.begin() as conn:
            if tlog_store.extend_cache(conn, leaves, limit=4096) == 0:
                tlog_store.sign_checkpoint(conn, leaves)
                break
    cached = time.perf_counter() - t0
    rng = random.Random(10)
    inc_ms, con_ms, inc_bytes, con_bytes, inc_json = [], [], [], [], []
    with engine.connect() as conn:
        cp = tlog_store.latest(conn)
        nodes = conn.exec_driver_sql("SELECT count(*) FROM log_nodes").scalar()
        root = bytes.fromhex(cp.root_hash)
        for _ in range(proofs):
            i = rng.randrange(leaves)
            t = time.perf_counter()
            p = tlog_store.proof_by_index(conn, i)
            inc_ms.append((time.perf_counter() - t) * 1000)
            tlog.verify_inclusion(i, leaves, bytes.fromhex(p.leaf_hash), [bytes.fromhex(h) for h in p.hashes], root)
            inc_bytes.append(32 * len(p.hashes))
            inc_json.append(len(json.dumps(p.answer())))
            m = rng.randrange(1, leaves)
            t = time.perf_counter()
            hashes = tlog_store.consistency(conn, m, leaves)
            con_ms.append((time.perf_counter() - t) * 1000)
            con_bytes.append(32 * len(hashes))
        old = tlog.root_of([tlog.leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).hexdigest()) for i in range(1000)])
        tlog.verify_consistency(1000, leaves, old, root,
                                [bytes.fromhex(h) for h in tlog_store.consistency(conn, 1000, leaves)])
    engine.dispose()
    return {"leaves": leaves, "load_s": round(loaded, 1), "cache_build_s": round(cached, 1), "cached_nodes": nodes,
            "inclusion_ms_p50": round(statistics.median(inc_ms), 2), "inclusion_ms_max": round(max(inc_ms), 2),
            "inclusion_bytes": max(inc_bytes), "inclusion_json_bytes": max(inc_json),
            "consistency_ms_p50": round(statistics.median(con_ms), 2), "consistency_ms_max": round(max(con_ms), 2),
            "consistency_bytes_max": max(con_bytes)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlog", type=int, default=20_000)
    ap.add_argument("--leaves", type=int, default=10_000_000)
    args = ap.parse_args()
    r = ingest_ratio(args.backlog)
    print(json.dumps(r), flush=True)
    print(f"ingest with the log / without: {r['ratio']} (target <= 1.2)", flush=True)
    print(json.dumps(big_tree(args.leaves)), flush=True)
    if r["ratio"] > 1.2:
        print("target missed", flush=True)


if __name__ == "__main__":
    main()
