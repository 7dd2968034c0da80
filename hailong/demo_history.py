"""A year of believable ratings for the demo, made the way real ones are.

Each demo kiosk's history is appended to its own kiosk.db with KioskStore
(backdated, chained, signed) and reaches the town server through the real
sync agent, so the dashboard, alerts and exports of ``hailong demo`` show
data that went through every check a real rating meets.
"""
from __future__ import annotations

import random
from datetime import timedelta

from kiosk.store import KioskStore, now_local

#: officer -> (desk, chance of each level 3/2/1): one officer doing badly, for the alerts.
PROFILES = {
    "cb-001": ("quay-1", (0.62, 0.30, 0.08)),
    "cb-002": ("quay-1", (0.30, 0.38, 0.32)),
    "cb-003": ("quay-1", (0.55, 0.38, 0.07)),
    "cb-004": ("quay-2", (0.48, 0.40, 0.12)),
    "cb-005": ("quay-2", (0.70, 0.26, 0.04)),
}
PROCEDURES = {
    "quay-1": ["1.001193", "1.000894", "1.000656", "2.000908"],
    "quay-2": ["1.004227", "2.000908"],
}
PRAISE = ["Cán bộ hướng dẫn tận tình, chu đáo", "Giải quyết nhanh, đúng hẹn", "Rất nhiệt tình",
          "Thái độ niềm nở, lịch sự", "Hướng dẫn dễ hiểu"]
COMPLAINTS = {
    "thai_do": "Cán bộ nói chuyện thiếu tôn trọng",
    "huong_dan": "Hướng dẫn chưa rõ, phải hỏi lại nhiều lần",
    "dung_hen": "Trả kết quả trễ hẹn",
    "so_lan_di_lai": "Phải đi lại ba lần mới xong",
    "nhung_nhieu": "Cán bộ gợi ý phải bồi dưỡng thêm",
}


def fill(store: KioskStore, desk_id: str, days: int = 400, per_day: float = 6.0, seed: int = 2026) -> int:
    """Append ``days`` of backdated ratings for ``desk_id``'s officers; return how many."""
    rng = random.Random(f"{seed}-{desk_id}")
    officers = [o for o, (d, _) in PROFILES.items() if d == desk_id]
    today = now_local(store.utc_offset).replace(hour=0, minute=0, second=0)
    n = 0
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        if day.weekday() == 6:  # the one-stop desk is closed on Sundays
            continue
        moments = sorted(rng.uniform(7.5, 17.0) for _ in range(max(0, round(rng.gauss(per_day, 2)))))
        for hour in moments:
            officer = rng.choice(officers)
            level = rng.choices((3, 2, 1), PROFILES[officer][1])[0]
            reasons, comment = [], None
            if level == 1:
                reasons = rng.sample(sorted(COMPLAINTS), rng.choice((1, 1, 2)))
                if officer != "cb-002":
                    reasons = [r for r in reasons if r != "nhung_nhieu"] or ["huong_dan"]
                if rng.random() < 0.5:
                    comment = COMPLAINTS[reasons[0]]
            elif rng.random() < 0.12:
                comment = rng.choice(PRAISE)
            from_receipt = rng.random() < 0.6
            when = day + timedelta(hours=hour)
            store.append(unit_code="13321", desk_id=desk_id, officer_id=officer, level=level,
                         reasons=reasons, comment=comment,
                         source="receipt" if from_receipt else "walk_up",
                         dossier_code=f"000.00.21.H31-{when:%y%m%d}-{rng.randrange(1, 9999):04d}"
                         if from_receipt else None,
                         procedure_code=rng.choice(PROCEDURES[desk_id]) if from_receipt else None,
                         receipt_id=f"{rng.getrandbits(64):016x}" if from_receipt else None,
                         rapid_repeat_seconds=10, now=when)
            n += 1
            if rng.random() < 0.01:  # somebody tapping again right away
                store.append(unit_code="13321", desk_id=desk_id, officer_id=officer, level=1,
                             rapid_repeat_seconds=10, now=when + timedelta(seconds=3))
                n += 1
    return n
