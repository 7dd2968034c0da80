"""A year of believable ratings for the demo, made the way real ones are.

Each demo kiosk's history is appended to its own kiosk.db with KioskStore
(backdated, chained, signed) and reaches the town server through the real
sync agent, so the dashboard, alerts and exports of ``hailong demo`` show
data that went through every check a real rating meets.

Issue 12: this month quay-1 runs the Front's campaign (:func:`demo_campaign`,
"Ủy ban MTTQ Việt Nam xã Đồng Tâm"): its ratings there since the 1st answer
that survey (a 5-level headline and four questions, a few skipped) while
quay-2 keeps the one-tap ``hl3``. Receipts of the last months carry the
dossier's appointment date, so a rating from one is flagged ``on_time`` or
``late`` as the kiosk flags it.
"""
from __future__ import annotations

import calendar
import json
import random
from datetime import date, timedelta

from assets import ASSETS
from kiosk.store import KioskStore, now_local
from sync import protocol

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
#: the desk the demo's campaign covers; the other desk keeps the town's default (hl3)
CAMPAIGN_DESK = "quay-1"
#: receipts of the last this-many days carry an appointment date (``a``): on time or late
APPOINTMENT_DAYS = 120
#: officer -> chance that the result came after the appointment date
LATE_CHANCE = {"cb-001": 0.08, "cb-002": 0.35, "cb-003": 0.12, "cb-004": 0.18, "cb-005": 0.05}
#: the Front's volunteers send people to the desk while the campaign runs: this many times busier
CAMPAIGN_BUSIER = 3
TEMPLATE = ASSETS / "surveys" / "mttq-can-bo.json"

_AGREE = {"3": {"vi": "Đồng ý", "en": "Agree"}, "2": {"vi": "Phân vân", "en": "Not sure"},
          "1": {"vi": "Không đồng ý", "en": "Disagree"}}
_QUESTIONS = [
    ("lich_su", "Cán bộ tiếp đón lịch sự, tôn trọng", "The officer was polite and respectful"),
    ("lang_nghe", "Cán bộ lắng nghe ý kiến của ông/bà", "The officer listened to you"),
    ("huong_dan_ro", "Cán bộ hướng dẫn rõ ràng, dễ hiểu", "The officer's guidance was clear"),
    ("khong_nhung_nhieu", "Cán bộ không gây phiền hà, nhũng nhiễu",
     "The officer caused no trouble and asked for nothing extra"),
]


def demo_campaign(today: date) -> dict:
    """The Front's survey of officers' conduct, running at quay-1 from the 1st to the last day of this month.

    Built from the template assets/surveys/mttq-can-bo.json when it is there
    (its questions, scales and words), else from the questions above; the id,
    the days, the unit and the desk are the demo's.
    """
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    doc = None
    if TEMPLATE.is_file():
        try:
            doc = json.loads(TEMPLATE.read_text("utf-8"))
            protocol.check_survey(doc)
            if not doc.get("questions"):
                doc = None
        except (ValueError, protocol.RecordError):
            doc = None
    if doc is None:
        doc = {
            "scale": 5,
            "labels": protocol.BUILTIN_SURVEYS["hl5"]["labels"],
            "satisfied": [5, 4],
            "reasons": [{"code": code, "vi": vi, "en": en} for code, (vi, en) in protocol.DEFAULT_REASONS.items()],
            "questions": [{"code": code, "text": {"vi": vi, "en": en}, "scale": 3, "labels": _AGREE,
                           "satisfied": [3]} for code, vi, en in _QUESTIONS],
        }
    doc.update({
        "id": f"mttq-{today:%Y-%m}",
        "title": {"vi": f"Khảo sát thái độ, tác phong của cán bộ tháng {today.month}/{today.year}",
                  "en": f"Survey of officers' conduct, {today:%B %Y}"},
        "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm",
        "from": first.isoformat(), "to": last.isoformat(),
        "units": ["13321"], "desks": [CAMPAIGN_DESK],
    })
    return protocol.nfc(doc)


def _campaign_answer(rng: random.Random, campaign: dict, good: float) -> tuple[int, dict]:
    """A headline level and the questions' answers (about one in ten skipped: null), ``good`` 0..1."""
    scale = campaign["scale"]
    level = max(1, min(scale, round(1 + (scale - 1) * min(1.0, max(0.0, rng.gauss(good, 0.18))))))
    answers = {}
    for q in campaign["questions"]:
        if rng.random() < 0.1:
            answers[q["code"]] = None
            continue
        qs = int(q["scale"])
        answers[q["code"]] = max(1, min(qs, round(1 + (qs - 1) * min(1.0, max(0.0, rng.gauss(good, 0.25))))))
    return level, answers


def fill(store: KioskStore, desk_id: str, days: int = 400, per_day: float = 6.0, seed: int = 2026,
         campaign: dict | None = None) -> int:
    """Append ``days`` of backdated ratings for ``desk_id``'s officers (and today's until an hour ago).

    ``campaign``: the survey document running at ``desk_id`` on its days
    (``from``/``to``): the ratings of those days answer it. The kiosk must
    know it (the store's ``server_surveys`` meta, as the agent keeps it).
    Returns how many ratings were appended.
    """
    rng = random.Random(f"{seed}-{desk_id}")
    officers = [o for o, (d, _) in PROFILES.items() if d == desk_id]
    now = now_local(store.utc_offset)
    today = now.replace(hour=0, minute=0, second=0)
    n = 0
    for back in range(days, -1, -1):
        day = today - timedelta(days=back)
        if day.weekday() == 6:  # the one-stop desk is closed on Sundays
            continue
        on_campaign = campaign is not None and protocol.campaign_runs(campaign, "13321", desk_id, day.date())
        busy = per_day * (CAMPAIGN_BUSIER if on_campaign else 1)
        moments = sorted(rng.uniform(7.5, 17.0) for _ in range(max(0, round(rng.gauss(busy, 2)))))
        for hour in moments:
            when = day + timedelta(hours=hour)
            if when > now - timedelta(hours=1):   # today: only what was rated before the demo began
                break
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
            survey, answers = None, None
            if on_campaign:
                good = {3: 0.9, 2: 0.6, 1: 0.2}[level] + rng.uniform(-0.05, 0.05)
                level, answers = _campaign_answer(rng, campaign, good)
                survey = campaign["id"]
                known = {r["code"] if isinstance(r, dict) else r for r in campaign.get("reasons", [])}
                reasons = [r for r in reasons if r in known] if level * 2 <= campaign["scale"] else []
            from_receipt = rng.random() < (0.8 if on_campaign else 0.6)
            flags = []
            if from_receipt and back <= APPOINTMENT_DAYS and rng.random() < 0.7:
                late = rng.random() < LATE_CHANCE[officer] * (2 if on_campaign else 1)   # why the Front asks
                appointment = (day + timedelta(days=-rng.randint(1, 5) if late else rng.randint(0, 4))).date()
                flags = [protocol.timeliness_flag(appointment.isoformat(), day.date())]
            store.append(unit_code="13321", desk_id=desk_id, officer_id=officer, level=level,
                         reasons=reasons, comment=comment,
                         source="receipt" if from_receipt else "walk_up",
                         dossier_code=f"000.00.21.H31-{when:%y%m%d}-{rng.randrange(1, 9999):04d}"
                         if from_receipt else None,
                         procedure_code=rng.choice(PROCEDURES[desk_id]) if from_receipt else None,
                         receipt_id=f"{rng.getrandbits(64):016x}" if from_receipt else None,
                         flags=flags, rapid_repeat_seconds=10, now=when, survey=survey, answers=answers)
            n += 1
            if rng.random() < 0.01 and not on_campaign:  # somebody tapping again right away
                store.append(unit_code="13321", desk_id=desk_id, officer_id=officer, level=1,
                             rapid_repeat_seconds=10, now=when + timedelta(seconds=3))
                n += 1
    return n
