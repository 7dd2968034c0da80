"""The synthetic town the benchmarks rate: one generator for SQLite and PostgreSQL (issue 13).

``Town`` is the shape (units × desks × officers × procedures; the default is
the 5 M town of dashboard_5m.py: 20 units, 60 desks, 200 officers, 100
procedures; ``Town.province()`` is a province of 100 communes, 300 desks,
1,000 officers); ``ratings(town, n)`` yields ``n`` rating rows of one year in
time order, as tuples in ``COLUMNS`` order (no pk: the database numbers
them), from one seeded random stream: the same ``n`` and town give the same
rows on both engines. Levels 3/2/1 at 55/35/10 %, reasons on a level 1, 1 %
flagged ``rapid_repeat`` (misuse), a comment on three ratings in ten.

Not a benchmark itself (run_all.py leaves it out).
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

YEAR = 2026
REASONS = ["thai_do", "huong_dan", "dung_hen", "so_lan_di_lai", "nhung_nhieu"]
COMMENTS = ["Cán bộ hướng dẫn tận tình, chu đáo", "Phải chờ lâu", "Rất hài lòng", None, None, None,
            None, None, None, None]
COLUMNS = ("id", "kiosk_id", "seq", "created_at", "unit_code", "desk_id", "officer_id", "dossier_code",
           "procedure_code", "receipt_id", "level", "reasons", "comment", "source", "flags", "prev_hash",
           "hash", "sig", "received_at", "batch_key", "skew_seconds", "corrected_at")


@dataclass
class Town:
    units: list[str] = field(default_factory=lambda: [f"u{i:02d}" for i in range(20)])
    desks_per_unit: int = 3
    n_officers: int = 200
    n_procedures: int = 100

    def __post_init__(self):
        self.desks = [(f"{u}-q{j}", u) for u in self.units for j in range(self.desks_per_unit)]
        self.officers = [(f"cb-{i:04d}", self.desks[i % len(self.desks)]) for i in range(self.n_officers)]
        self.procedures = [f"1.{i:06d}" for i in range(self.n_procedures)]
        #: a desk handles its own few procedures (as one-stop desks are organised by field)
        self.desk_procedures = {desk: [self.procedures[(i * 7 + k) % self.n_procedures] for k in range(8)] + [None]
                                for i, (desk, _u) in enumerate(self.desks)}

    @classmethod
    def province(cls) -> Town:
        return cls(units=[f"x{i:03d}" for i in range(100)], desks_per_unit=3, n_officers=1000, n_procedures=200)


def ratings(town: Town, n: int, seed: int = 7, year: int = YEAR):
    """``n`` rating tuples (COLUMNS order) spread over ``year``, in time order."""
    rnd = random.Random(seed)
    start = datetime(year, 1, 1, 7, 0)
    seconds = 365 * 86400
    hexes = [uuid.UUID(int=rnd.getrandbits(128)).hex * 2 for _ in range(1000)]
    times = sorted(rnd.randrange(seconds) for _ in range(n))
    officers, desk_procedures = town.officers, town.desk_procedures
    for seq, offset in enumerate(times, 1):
        officer, (desk, unit) = officers[rnd.randrange(len(officers))]
        at = (start + timedelta(seconds=offset)).isoformat(timespec="milliseconds") + "+07:00"
        level = rnd.choices((3, 2, 1), (55, 35, 10))[0]
        reasons = json.dumps(rnd.sample(REASONS, rnd.randrange(3)) if level == 1 else [])
        flags = '["rapid_repeat"]' if rnd.random() < 0.01 else "[]"
        yield (str(uuid.UUID(int=rnd.getrandbits(128))), f"k-{desk}", seq, at, unit, desk, officer,
               f"H{seq}", rnd.choice(desk_procedures[desk]), None, level, reasons, rnd.choice(COMMENTS),
               "walk_up", flags, hexes[seq % 1000], hexes[(seq + 1) % 1000], hexes[(seq + 2) % 1000],
               at, None, 0.0, at)


if __name__ == "__main__":
    print("generate.py is the benchmarks' shared generator, not a benchmark")
