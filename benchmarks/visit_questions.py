"""A 4-question visit from the first tap to durable, against the one-tap visit (issue 12).

Both on the same real kiosk.db (WAL, synchronous=FULL), through kiosk.visit.Visit
as the app drives it, no window: the one-tap visit is the headline tap (the
draft written durably) and its seal (skip reasons, skip comment); the
4-question visit is the headline tap, four answers (each tap rewrites the
draft durably) and the seal. Interleaved one by one so the shared machine's
noise falls on both. Prints p50/p99 of each and the ratio of the medians.

    python benchmarks/visit_questions.py [N]
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kiosk.roster import load_roster_file
from kiosk.store import KioskStore
from kiosk.visit import Settings, Visit

DAY = date(2026, 12, 10)


def labels(n):
    return {str(lv): {"vi": f"Mức {lv}", "en": f"Level {lv}"} for lv in range(1, n + 1)}


def campaign(sid: str, questions: int, desk: str) -> dict:
    return {"id": sid, "title": {"vi": "Khảo sát quý IV", "en": "Q4 survey"}, "by": "Ủy ban MTTQ xã Đồng Tâm",
            "scale": 5, "labels": labels(5), "satisfied": [5, 4],
            "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
            "questions": [{"code": f"q{i + 1}", "text": {"vi": f"Câu hỏi {i + 1}?", "en": f"Question {i + 1}?"},
                           "scale": 3, "labels": labels(3), "satisfied": [3]} for i in range(questions)],
            "from": "2026-12-01", "to": "2026-12-31", "units": ["13321"], "desks": [desk]}


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def one_visit(v: Visit) -> float:
    """Start (not timed), then first tap → every answer → sealed: seconds."""
    v.tap_start()
    if v.state == "choose_officer":
        v.choose_officer(v.officers()[0]["id"])
    t = time.perf_counter()
    v.rate(2)
    while v.state == "question":
        v.answer(2)
    v.skip_reasons() if v.state == "reasons" else None
    v.skip_comment() if v.state == "comment" else None
    took = time.perf_counter() - t
    assert v.state == "thanks", v.state
    v.reset()
    return took


def main(n: int = 300) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hailong-bench-"))
    store = KioskStore(tmp / "kiosk.db", "BENCH-01", "ab" * 32)
    store.init()
    store.apply_roster(load_roster_file())
    # one desk asks the 4-question campaign, the other the unit's default: the one-tap hl3
    store.set_meta("server_surveys", json.dumps([campaign("bon-cau", 4, "quay-1")], ensure_ascii=False))
    store.set_meta("server_default_survey", json.dumps("hl3"))
    four = Visit(store, Settings(unit_code="13321", desk_id="quay-1", rapid_repeat_seconds=0, comment=False),
                 today=lambda: DAY)
    one = Visit(store, Settings(unit_code="13321", desk_id="quay-2", rapid_repeat_seconds=0, comment=False),
                today=lambda: DAY)
    assert four.next_survey()["id"] == "bon-cau" and one.next_survey()["id"] == "hl3"
    t4, t1 = [], []
    for _ in range(n):
        t4.append(one_visit(four))
        t1.append(one_visit(one))
    rows = store.records(limit=2 * n)
    assert len(rows) == 2 * n and store.verify() == (None, None)
    assert rows[0]["answers"] == {"q1": 2, "q2": 2, "q3": 2, "q4": 2} and rows[1]["answers"] == {}
    r = {"n": n,
         "four_p50_ms": statistics.median(t4) * 1e3, "four_p99_ms": percentile(t4, 99) * 1e3,
         "one_p50_ms": statistics.median(t1) * 1e3, "one_p99_ms": percentile(t1, 99) * 1e3}
    r["ratio_p50"] = r["four_p50_ms"] / r["one_p50_ms"]
    r["ratio_p99"] = r["four_p99_ms"] / r["one_p99_ms"]
    return r


if __name__ == "__main__":
    r = main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    print(f"first tap to durable over {r['n']} visits each (real kiosk.db, WAL, synchronous=FULL)")
    print(f"  4-question visit (5 draft writes + seal)  p50 {r['four_p50_ms']:.2f} ms  p99 {r['four_p99_ms']:.2f} ms")
    print(f"  one-tap visit    (1 draft write + seal)   p50 {r['one_p50_ms']:.2f} ms  p99 {r['one_p99_ms']:.2f} ms")
    print(f"  ratio  p50 {r['ratio_p50']:.2f}  p99 {r['ratio_p99']:.2f}")
    print(f"  each extra answer (draft rewritten, committed) ≈ {(r['four_p50_ms'] - r['one_p50_ms']) / 4:.2f} ms at p50")
