"""Issue 12 at the kiosk, without a window: which survey a visit asks, its extra questions, on time or late.

A real kiosk.db (KioskStore), a fake clock; the surveys are put in the store
as the sync agent puts them (meta ``server_surveys`` / ``server_default_survey``).
"""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from helpers import FakeClock

from kiosk import visit as V
from kiosk.roster import load_roster_file
from kiosk.store import KioskStore
from kiosk.visit import Settings, Visit
from sync import protocol

KEY = "cd" * 32


@pytest.fixture
def store(tmp_path):
    s = KioskStore(tmp_path / "kiosk.db", "K-1", KEY)
    s.init()
    s.apply_roster(load_roster_file())
    yield s
    s.close()


@pytest.fixture
def clock():
    return FakeClock()


def make(store, clock, today=None, **kw):
    settings = Settings(unit_code="13321", desk_id="quay-1", idle_timeout=45, thanks_timeout=5,
                        rapid_repeat_seconds=0, **kw)
    return Visit(store, settings, clock=clock, **({"today": today} if today else {}))


def local_today(store) -> date:
    return protocol.now_at_offset(store.utc_offset).date()


# -- on time or late, from the receipt's appointment date -------------------------


@pytest.mark.parametrize("days, flag", [(0, "on_time"), (3, "on_time"), (-1, "late"), (None, None)])
def test_receipt_appointment_gives_on_time_or_late(store, clock, days, flag):
    today = local_today(store)
    appointment = None if days is None else (today + timedelta(days=days)).isoformat()
    v = make(store, clock)
    assert v.start_from_receipt("cb-002", "H-1", "1.001193", "a1b2c3d4e5f60718", appointment=appointment) == V.RATE
    v.rate(3)
    v.submit_reasons()
    v.submit_comment()
    [row] = store.records()
    assert [f for f in row["flags"] if f in ("on_time", "late")] == ([flag] if flag else [])
    protocol.check_record({k: row[k] for k in protocol.RECORD_FIELDS}, store.surveys())
    assert protocol.check_seal({k: row[k] for k in protocol.RECORD_FIELDS}, KEY) is None


def test_appointment_flag_is_in_the_draft_from_the_tap(store, clock):
    v = make(store, clock)
    v.start_from_receipt("cb-002", "H-1", None, "a1b2c3d4e5f60719", appointment="2020-01-01")
    v.rate(2)
    assert store.draft()["flags"] == ["late"]          # a walk-away after the tap keeps it
    clock.advance(60)
    v.tick()
    [row] = store.records()
    assert row["flags"] == ["late"]


def test_walk_up_visit_after_a_receipt_has_no_flag(store, clock):
    v = make(store, clock)
    v.start_from_receipt("cb-002", "H-1", None, "a1b2c3d4e5f60720", appointment="2099-01-01")
    v.rate(3)
    v.submit_reasons()
    v.submit_comment()
    clock.advance(10)
    v.tick()
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(1)
    v.submit_reasons()
    v.submit_comment()
    first, second = store.records()
    assert first["flags"] == ["on_time"] and second["flags"] == []


# -- surveys as the server sends them ----------------------------------------------

def labels(n, word="Mức"):
    return {str(lv): {"vi": f"{word} {lv}", "en": f"Level {lv}"} for lv in range(1, n + 1)}


def campaign(sid="mttq-2026-q4", start="2026-12-01", end="2026-12-31", desks=(), questions=4, **extra):
    """A Front campaign: a 5-level headline and ``questions`` extra questions on 2…5-level scales."""
    qs = [{"code": f"q{i + 1}", "text": {"vi": f"Câu hỏi số {i + 1} về cán bộ?", "en": f"Question {i + 1}?"},
           "scale": 2 + i % 4, "labels": labels(2 + i % 4, "Ý"), "satisfied": [2 + i % 4]}
          for i in range(questions)]
    doc = {"id": sid, "title": {"vi": "Khảo sát thái độ cán bộ quý IV", "en": "Officers' conduct, Q4"},
           "by": "Ủy ban MTTQ xã Đồng Tâm", "scale": 5, "labels": labels(5), "satisfied": [5, 4],
           "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
           "questions": qs, "from": start, "to": end, "units": ["13321"], "desks": list(desks), **extra}
    protocol.check_survey(doc)
    return doc


def default_survey(sid="don-vi-mac-dinh"):
    return {"id": sid, "title": {"vi": "Đánh giá của xã", "en": "The commune's survey"}, "by": "UBND xã",
            "scale": 4, "labels": labels(4), "satisfied": [4, 3], "reasons": [], "questions": []}


def send(store, surveys, default_id=None):
    """What the sync agent does with a config (sync/agent.py pull_config)."""
    store.set_meta("server_surveys", json.dumps(surveys, ensure_ascii=False))
    store.set_meta("server_default_survey", json.dumps(default_id))


DEC_10 = date(2026, 12, 10)


def wire(row):
    return {k: row[k] for k in protocol.RECORD_FIELDS}


def test_a_four_question_visit_answers_skips_and_goes_back(store, clock):
    send(store, [campaign(), default_survey()], "don-vi-mac-dinh")
    v = make(store, clock, today=lambda: DEC_10)
    seen = []
    v.listeners.append(lambda visit, old: seen.append((visit.state, visit.question_index if visit.state == V.QUESTION else None)))
    v.tap_start()
    v.choose_officer("cb-001")
    assert v.survey()["id"] == "mttq-2026-q4"
    assert v.banner() == ("Ủy ban MTTQ xã Đồng Tâm", "Khảo sát thái độ cán bộ quý IV", "Officers' conduct, Q4")
    assert v.progress() == (1, 5)
    assert v.rate(4) == V.QUESTION
    assert store.draft()["answers"] == {"q1": None, "q2": None, "q3": None, "q4": None}   # durable from the tap
    assert v.question()["code"] == "q1" and v.progress() == (2, 5)
    assert v.question_text() == ("Câu hỏi số 1 về cán bộ?", "Question 1?")
    assert [lv for lv, *_ in v.question_levels()] == [2, 1]
    with pytest.raises(V.VisitError):
        v.answer(3)                                          # not on q1's 2-level scale
    assert v.answer(2) == V.QUESTION
    assert store.draft()["answers"]["q1"] == 2               # each tap is held at once
    assert v.skip_question() == V.QUESTION and v.question()["code"] == "q3"
    assert store.draft()["answers"]["q2"] is None
    assert v.back() == V.QUESTION and v.question()["code"] == "q2"     # back walks the questions
    assert v.answer(3) == V.QUESTION
    assert store.draft()["answers"]["q2"] == 3
    assert v.answer(4) == V.QUESTION and v.question()["code"] == "q4"
    assert v.skip_question() == V.REASONS
    assert v.back() == V.QUESTION and v.question()["code"] == "q4"
    assert v.skip_question() == V.REASONS
    v.toggle_reason("thai_do")
    assert v.submit_reasons() == V.COMMENT
    assert store.count() == 0
    assert v.submit_comment() == V.THANKS
    [row] = store.records()
    assert (row["survey"], row["level"], row["reasons"]) == ("mttq-2026-q4", 4, ["thai_do"])
    assert row["answers"] == {"q1": 2, "q2": 3, "q3": 4, "q4": None}
    protocol.check_record(wire(row), store.surveys())
    assert store.verify() == (None, None)
    assert [s for s, _ in seen] == [V.CHOOSE_OFFICER, V.RATE] + [V.QUESTION] * 6 + [V.REASONS, V.QUESTION,
                                                                                      V.REASONS, V.COMMENT, V.THANKS]
    assert [i for s, i in seen if s == V.QUESTION] == [0, 1, 2, 1, 2, 3, 3]


def test_back_from_the_first_question_is_the_headline_and_a_new_tap_keeps_the_answers(store, clock):
    send(store, [campaign(questions=2)], None)
    v = make(store, clock, today=lambda: DEC_10)
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(5)
    v.answer(1)
    assert v.back() == V.QUESTION and v.question_index == 0
    assert v.back() == V.RATE
    assert v.progress() == (1, 3)
    assert v.rate(2) == V.QUESTION                           # the headline again: the draft is updated
    assert store.draft()["level"] == 2 and store.draft()["answers"] == {"q1": 1, "q2": None}
    v.answer(2)                                              # changed their mind on q1
    v.skip_question()
    v.skip_reasons()
    v.skip_comment()
    [row] = store.records()
    assert (row["level"], row["answers"]) == (2, {"q1": 2, "q2": None})


@pytest.mark.parametrize("answered", [0, 1, 3])
def test_idle_timeout_mid_questions_seals_what_was_tapped(store, clock, answered):
    send(store, [campaign()], None)
    v = make(store, clock, today=lambda: DEC_10)
    v.tap_start()
    v.choose_officer("cb-002")
    v.rate(1)
    for i in range(answered):
        v.answer(2) if i != 1 else v.skip_question()
    clock.advance(44)
    assert v.tick() == V.QUESTION and v.warning
    clock.advance(1)
    assert v.tick() == V.WELCOME
    [row] = store.records()
    expected = {"q1": None, "q2": None, "q3": None, "q4": None}
    if answered >= 1:
        expected["q1"] = 2
    if answered >= 3:
        expected["q3"] = 2
    assert (row["level"], row["answers"]) == (1, expected)
    protocol.check_record(wire(row), store.surveys())


def test_every_answer_takes_the_same_steps(store, clock):
    """No screen depends on a level: whatever is tapped or skipped, the same states follow."""
    send(store, [campaign()], None)
    walks = []
    for level, pick in [(5, "first"), (1, "last"), (3, "skip")]:
        v = make(store, clock, today=lambda: DEC_10)
        seen = []
        v.listeners.append(lambda visit, old, seen=seen: seen.append(visit.state))
        v.tap_start()
        v.choose_officer("cb-001")
        v.rate(level)
        while v.state == V.QUESTION:
            lvls = [lv for lv, *_ in v.question_levels()]
            v.skip_question() if pick == "skip" else v.answer(lvls[0] if pick == "first" else lvls[-1])
        v.submit_reasons()
        v.submit_comment()
        clock.advance(10)
        v.tick()
        walks.append(seen)
    assert walks[0] == walks[1] == walks[2]
    assert [r["answers"] for r in store.records()] == [
        {"q1": 2, "q2": 3, "q3": 4, "q4": 5}, {"q1": 1, "q2": 1, "q3": 1, "q4": 1},
        {"q1": None, "q2": None, "q3": None, "q4": None}]


@pytest.mark.parametrize("day, desk, expected", [
    (date(2026, 12, 1), "quay-1", "mttq-2026-q4"),       # its first day
    (date(2026, 12, 31), "quay-1", "mttq-2026-q4"),      # its last day
    (date(2026, 11, 30), "quay-1", "don-vi-mac-dinh"),   # before it: the unit's default
    (date(2027, 1, 1), "quay-1", "don-vi-mac-dinh"),     # after it
    (date(2026, 12, 10), "quay-2", "don-vi-mac-dinh"),   # another desk than the campaign's
])
def test_campaign_or_default_by_desk_and_day(store, clock, day, desk, expected):
    send(store, [campaign(desks=["quay-1"]), default_survey()], "don-vi-mac-dinh")
    settings = Settings(unit_code="13321", desk_id=desk, rapid_repeat_seconds=0)
    v = Visit(store, settings, clock=clock, today=lambda: day)
    assert v.next_survey()["id"] == expected
    assert store.current_survey("13321", desk, day)["id"] == expected


def test_the_latest_started_campaign_wins_and_the_offline_kiosk_asks_config(store, clock):
    v = make(store, clock, today=lambda: DEC_10, scale=5)
    assert v.next_survey()["id"] == "hl5"                    # nothing from the server: config.toml's scale
    assert v.banner(v.next_survey()) is None                 # a built-in survey shows no banner
    send(store, [campaign(), campaign("bat-ngo-12", start="2026-12-08", end="2026-12-12", questions=1)], "hl3")
    assert v.next_survey()["id"] == "bat-ngo-12"
    assert make(store, clock, today=lambda: date(2026, 12, 13)).next_survey()["id"] == "mttq-2026-q4"
    send(store, [], "hl4")
    assert v.next_survey()["id"] == "hl4"                    # the server's default, built in


def test_a_new_config_changes_the_next_visit_not_this_one(store, clock):
    send(store, [default_survey()], "don-vi-mac-dinh")
    v = make(store, clock, today=lambda: DEC_10)
    v.tap_start()
    v.choose_officer("cb-001")
    assert v.survey()["id"] == "don-vi-mac-dinh"
    send(store, [campaign(), default_survey()], "don-vi-mac-dinh")     # the agent applied a campaign
    assert v.survey()["id"] == "don-vi-mac-dinh" and v.questions() == []
    assert v.rate(4) == V.REASONS or v.state == V.COMMENT
    while v.state != V.THANKS:
        v.submit_reasons() if v.state == V.REASONS else v.submit_comment()
    clock.advance(10)
    v.tick()
    assert v.next_survey()["id"] == "mttq-2026-q4"
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(5)
    assert v.state == V.QUESTION
    send(store, [default_survey()], "don-vi-mac-dinh")       # the campaign left the config mid-visit
    while v.state == V.QUESTION:
        v.answer(1)
    v.submit_reasons()
    v.submit_comment()
    first, second = store.records()
    assert (first["survey"], first["answers"]) == ("don-vi-mac-dinh", {})
    # sealed on the survey the citizen was shown, though the latest config no longer has it
    assert (second["survey"], second["answers"]) == ("mttq-2026-q4", {"q1": 1, "q2": 1, "q3": 1, "q4": 1})
    assert "mttq-2026-q4" in store.known_surveys() and "mttq-2026-q4" not in store.surveys()


def test_a_draft_left_by_a_crash_mid_questions_is_sealed_on_its_survey(store, clock, tmp_path):
    send(store, [campaign()], None)
    v = make(store, clock, today=lambda: DEC_10)
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(3)
    v.answer(1)
    store.close()                                            # the app died here
    again = KioskStore(tmp_path / "kiosk.db", "K-1", KEY)
    try:
        make(again, clock, today=lambda: DEC_10)             # a new Visit seals the draft
        [row] = again.records()
        assert row["answers"] == {"q1": 1, "q2": None, "q3": None, "q4": None}
        protocol.check_record(wire(row), again.surveys())
    finally:
        again.close()


def test_a_receipt_visit_with_questions_is_flagged_and_valid(store, clock):
    send(store, [campaign(questions=2)], None)
    v = make(store, clock, today=lambda: local_today(store))
    # the campaign must run today for this one: move it to today
    today = local_today(store).isoformat()
    send(store, [campaign(questions=2, start=today, end=today)], None)
    v.start_from_receipt("cb-003", "H-9", "1.001193", "b1b2c3d4e5f60718", appointment=today)
    assert v.progress() == (1, 3)
    v.rate(5)
    v.answer(2)
    v.answer(3)
    v.skip_reasons()
    v.skip_comment()
    [row] = store.records()
    assert (row["survey"], row["source"], row["flags"], row["answers"]) == (
        "mttq-2026-q4", "receipt", ["on_time"], {"q1": 2, "q2": 3})
    protocol.check_record(wire(row), store.surveys())


def test_the_store_refuses_an_answer_off_its_scale(store):
    send(store, [campaign(questions=1)], None)
    with pytest.raises(protocol.RecordError):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=5,
                     survey="mttq-2026-q4", answers={"q1": 3})            # q1 has 2 levels
    with pytest.raises(protocol.RecordError):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=5,
                     survey="mttq-2026-q4", answers={"zz": 1})            # not a question of it
    assert store.count() == 0


@pytest.mark.parametrize("broken", [
    {"questions": 5},                                              # not a list
    {"questions": ["x", 3]},                                       # not objects
    {"satisfied": "5"},                                            # not a list of levels
    {"reasons": "thai_do"},                                        # not a list
    {"scale": 99},                                                 # off the protocol's scales
    {"labels": {"5": {"vi": "Rất hài lòng"}}},                     # labels missing for most levels
])
def test_a_broken_survey_from_the_server_never_stops_a_rating(store, clock, broken):
    """Every input hostile: a survey the kiosk cannot show or seal on is not asked; config.toml's is."""
    doc = {**campaign(), **broken}
    send(store, [doc], None)
    v = make(store, clock, today=lambda: DEC_10)
    v.tap_start()
    v.choose_officer("cb-001")
    assert v.survey()["id"] == "hl3"
    v.rate(3)
    v.skip_reasons()
    v.skip_comment()
    [row] = store.records()
    assert (row["survey"], row["level"], row["answers"]) == ("hl3", 3, {})


def test_odd_words_in_a_survey_still_show(store, clock):
    """A question without English words shows its Vietnamese; a title that is not an object shows nothing."""
    doc = campaign(questions=1)
    doc["questions"][0]["text"] = {"vi": "Cán bộ có đúng hẹn không?"}
    doc["questions"][0]["labels"] = {"1": {"vi": "Không"}, "2": {"vi": "Có", "en": ""}}
    doc["title"] = 7
    send(store, [doc], None)
    v = make(store, clock, today=lambda: DEC_10)
    v.tap_start()
    v.choose_officer("cb-001")
    assert v.banner() == ("Ủy ban MTTQ xã Đồng Tâm", "", "")
    v.rate(5)
    assert v.question_text() == ("Cán bộ có đúng hẹn không?", "Cán bộ có đúng hẹn không?")
    assert v.question_levels() == [(2, "Có", "Có", True), (1, "Không", "Không", False)]
    v.answer(2)
    v.skip_reasons()
    v.skip_comment()
    assert store.records()[0]["answers"] == {"q1": 2}
