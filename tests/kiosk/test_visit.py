"""The citizen's visit as a state machine, on a real kiosk.db, without a window."""
from __future__ import annotations

import pytest
from helpers import FakeClock

from kiosk import visit as V
from kiosk.roster import load_roster_file
from kiosk.store import KioskStore
from kiosk.visit import Settings, Visit, VisitError
from sync.protocol import DEFAULT_REASONS

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


def make(store, clock, **kw):
    settings = Settings(unit_code="13321", desk_id="quay-1", idle_timeout=45, thanks_timeout=5,
                        rapid_repeat_seconds=0, **kw)
    return Visit(store, settings, clock=clock)


def test_whole_visit_stores_one_row_before_thanks(store, clock):
    v = make(store, clock)
    seen = []
    v.listeners.append(lambda visit, old: seen.append((old, visit.state, store.count())))
    assert v.tap_start() == V.CHOOSE_OFFICER
    assert [o["id"] for o in v.officers()] == ["cb-003", "cb-001", "cb-002"]   # by name
    assert v.choose_officer("cb-002") == V.RATE
    assert v.rate(1) == V.REASONS
    assert v.toggle_reason("nhung_nhieu") is True
    assert v.toggle_reason("thai_do") is True
    assert v.toggle_reason("dung_hen") is True
    assert v.toggle_reason("dung_hen") is False
    assert v.submit_reasons() == V.COMMENT
    v.set_comment("Cán bộ hướng dẫn chưa kỹ")
    assert store.count() == 0
    assert v.submit_comment() == V.THANKS
    assert seen[-1] == (V.COMMENT, V.THANKS, 1)          # stored before thanks showed
    [row] = store.records()
    assert row["officer_id"] == "cb-002" and row["level"] == 1
    assert row["reasons"] == ["thai_do", "nhung_nhieu"]   # config order, not tap order
    assert row["comment"] == "Cán bộ hướng dẫn chưa kỹ"
    assert row["source"] == "walk_up" and row["dossier_code"] is None
    assert v.last_record["id"] == row["id"]
    clock.advance(5)
    assert v.tick() == V.WELCOME


def steps(v, level, clock, choose="cb-001"):
    """One visit at ``level``, walked with the same taps whatever it is: what the citizen (and an onlooker) saw."""
    seen = [v.state]
    v.listeners.append(lambda visit, old: seen.append(visit.state))
    v.tap_start()
    v.choose_officer(choose)
    v.rate(level)
    chips = (v.reason_codes(), [v.reason_labels(c) for c in v.reason_codes()]) if v.state == V.REASONS else None
    while v.state in (V.REASONS, V.COMMENT):
        v.submit_reasons() if v.state == V.REASONS else v.submit_comment()
    clock.advance(v.settings.thanks_timeout)
    v.tick()
    v.listeners.clear()
    return seen, chips


@pytest.mark.parametrize("scale", [3, 4, 5])
def test_every_level_takes_the_same_steps(store, clock, scale):
    """Whatever level is tapped: the same screens, the same chips with the same words, the same taps."""
    walks = {}
    for level in range(1, scale + 1):
        v = make(store, clock, scale=scale)
        walks[level] = steps(v, level, clock)
        assert store.records()[-1]["level"] == level
    first = walks[1]
    assert first[0] == [V.WELCOME, V.CHOOSE_OFFICER, V.RATE, V.REASONS, V.COMMENT, V.THANKS, V.WELCOME]
    assert first[1][0] == list(DEFAULT_REASONS)
    assert all(walk == first for walk in walks.values()), walks


@pytest.mark.parametrize("extra", [{"comment": False}, {"reasons": []}, {"reasons": [], "comment": False},
                                   {"reasons_below_level": 2}, {"reasons": ["thai_do", "nhung_nhieu"]}])
def test_the_settings_never_make_the_steps_depend_on_the_level(store, clock, extra):
    walks = [steps(make(store, clock, scale=5, **extra), level, clock) for level in range(1, 6)]
    assert all(walk == walks[0] for walk in walks), walks
    assert (V.REASONS in walks[0][0]) == bool(extra.get("reasons", True))
    assert (V.COMMENT in walks[0][0]) == extra.get("comment", True)


def test_reasons_are_optional_and_kept_for_a_satisfied_level_too(store, clock):
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-001")
    assert v.rate(3) == V.REASONS                   # "Rất hài lòng": the same chips as any level
    assert v.toggle_reason("huong_dan") is True and store.draft()["reasons"] == ["huong_dan"]
    assert v.toggle_reason("thai_do") is True
    assert v.submit_reasons() == V.COMMENT
    assert v.skip_comment() == V.THANKS
    assert store.records()[-1]["reasons"] == ["thai_do", "huong_dan"]      # the chips' order
    v.reset()
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(2)
    v.toggle_reason("thai_do")
    assert v.skip_reasons() == V.COMMENT           # "Bỏ qua" drops the chips tapped
    v.submit_comment()
    assert store.records()[-1]["reasons"] == []


def test_chip_words_fit_every_level_and_codes_stay_the_protocols(store, clock):
    from sync import protocol
    assert set(V.CHIP_LABELS) == set(DEFAULT_REASONS)      # a label for each code the server counts
    v = make(store, clock)
    assert v.reason_codes() == list(DEFAULT_REASONS)
    assert v.reason_labels("thai_do") == ("Thái độ phục vụ", "The officer's attitude")
    assert v.reason_labels("nhung_nhieu")[0].startswith("Nhũng nhiễu")   # still a report of harassment
    # the protocol's labels (the server's reports) are not the kiosk's to change
    assert protocol.DEFAULT_REASONS["thai_do"] == ("Thái độ", "Attitude")
    assert v.reason_labels("unknown_code") == ("unknown_code", "unknown_code")


def test_skips_reasons_and_comment(store, clock):
    v = make(store, clock, comment=False)
    v.tap_start()
    v.choose_officer("cb-003")
    assert v.rate(1) == V.REASONS
    v.toggle_reason("thai_do")
    assert v.skip_reasons() == V.THANKS
    [row] = store.records()
    assert row["reasons"] == [] and row["comment"] is None


def test_idle_timeout_keeps_the_tapped_level_with_its_extras(store, clock):
    """A tap is a rating: walking away at the reasons screen still rates, with the chips chosen."""
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(1)
    assert store.count() == 0 and store.draft()["level"] == 1     # held durably at the tap
    v.toggle_reason("thai_do")
    assert store.draft()["reasons"] == ["thai_do"]
    clock.advance(44)
    assert v.tick() == V.REASONS
    v.toggle_reason("huong_dan")               # a touch restarts the idle timer
    clock.advance(44)
    assert v.tick() == V.REASONS
    clock.advance(1)
    assert v.tick() == V.WELCOME
    [row] = store.records()
    assert (row["officer_id"], row["level"], row["reasons"]) == ("cb-001", 1, ["thai_do", "huong_dan"])
    assert store.draft() is None
    assert v.officer_id is None and v.reasons == [] and v.level is None
    v.tap_start()                              # the next citizen starts clean
    assert v.reasons == [] and v.officer_id is None
    clock.advance(45)
    assert v.tick() == V.WELCOME and store.count() == 1     # no level tapped: nothing stored


def test_walk_away_at_the_comment_keeps_what_was_typed(store, clock):
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-002")
    assert v.rate(3) == V.REASONS
    assert v.submit_reasons() == V.COMMENT
    v.set_comment("Cán bộ tận")
    v.tick()                                   # the typed words join the draft on the next tick
    assert store.draft()["comment"] == "Cán bộ tận"
    clock.advance(45)
    assert v.tick() == V.WELCOME
    [row] = store.records()
    assert (row["level"], row["comment"]) == (3, "Cán bộ tận")
    assert store.verify() == (None, None)


def test_a_draft_left_by_a_crash_is_sealed_at_the_next_start(store, clock):
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-003")
    v.rate(2)
    v.submit_reasons()
    v.set_comment("Nhanh")
    v.tick()
    # the app dies here; the next start seals the draft, once
    again = make(store, clock)
    [row] = store.records()
    assert (row["officer_id"], row["level"], row["comment"]) == ("cb-003", 2, "Nhanh")
    assert again.last_record["id"] == row["id"] and store.draft() is None
    make(store, clock)
    assert store.count() == 1


def test_idle_warns_before_it_ends_the_visit(store, clock):
    v = make(store, clock)                     # idle_timeout 45: the warning at 30 s
    shown = []
    v.warning_listeners.append(lambda visit: shown.append(visit.warning))
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(3)
    clock.advance(29)
    assert v.tick() == V.REASONS and not v.warning
    clock.advance(1.5)
    assert v.tick() == V.REASONS and v.warning and shown == [True]
    assert v.keep_going() == V.REASONS         # "go on": the visit goes on, warning gone
    assert not v.warning and shown == [True, False]
    clock.advance(44)
    assert v.tick() == V.REASONS and v.warning
    clock.advance(1)
    assert v.tick() == V.WELCOME and not v.warning
    assert [r["level"] for r in store.records()] == [3]


def test_a_scanned_receipt_rates_once_even_while_its_draft_is_held(store, clock):
    v = make(store, clock)
    v.start_from_receipt("cb-002", "H-1", None, "f0e1d2c3b4a59687")
    v.rate(3)
    assert store.count() == 0 and store.receipt_used("f0e1d2c3b4a59687")


def test_idle_counts_from_the_last_touch_on_every_screen(store, clock):
    v = make(store, clock)
    v.tap_start()
    for _ in range(10):
        clock.advance(30)
        v.touch()
        assert v.tick() == V.CHOOSE_OFFICER
    clock.advance(45)
    assert v.tick() == V.WELCOME


def test_comment_limit_and_nfc(store, clock):
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(3)
    v.submit_reasons()
    decomposed = "Nhie\u0302\u0323t ti\u0300nh"          # NFD "Nhiệt tình"
    assert v.set_comment(decomposed) is True
    assert v.comment == "Nhiệt tình"
    assert v.set_comment("a" * 501) is False
    assert len(v.comment) == 500
    v.submit_comment()
    assert len(store.records()[0]["comment"]) == 500


def test_one_officer_on_duty_skips_the_choice(store, clock):
    store.set_on_duty("quay-1", ["cb-002"])
    v = make(store, clock)
    assert v.tap_start() == V.RATE
    assert v.officer_id == "cb-002"
    assert v.back() == V.WELCOME               # no choice screen to go back to


def test_nobody_on_duty_stays_on_welcome(store, clock):
    store.set_on_duty("quay-1", [])
    v = make(store, clock)
    assert v.tap_start() == V.WELCOME
    with pytest.raises(VisitError):
        v.choose_officer("cb-001")


def test_only_officers_on_duty_here_can_be_rated(store, clock):
    v = make(store, clock)
    v.tap_start()
    with pytest.raises(VisitError):
        v.choose_officer("cb-004")             # desk 2's officer
    v.choose_officer("cb-001")
    with pytest.raises(VisitError):
        v.rate(4)                              # not on the 3-level scale
    with pytest.raises(VisitError):
        v.submit_comment()                     # not now


def test_back_walks_the_screens(store, clock):
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(1)
    v.submit_reasons()
    assert v.back() == V.REASONS
    assert v.back() == V.RATE
    assert v.rate(2) == V.REASONS            # a second tap before the visit ends changes the level
    assert v.back() == V.RATE
    assert v.back() == V.CHOOSE_OFFICER
    assert v.back() == V.WELCOME
    assert [r["level"] for r in store.records()] == [2]   # what was tapped is never lost


def test_language_switch_and_reset(store, clock):
    v = make(store, clock, language="vi")
    changes = []
    v.listeners.append(lambda visit, old: changes.append((visit.state, visit.language)))
    v.set_language("en")
    v.tap_start()
    assert v.language == "en"
    v.choose_officer("cb-001")
    clock.advance(60)
    v.tick()
    assert v.language == "vi"                  # back to config's language on welcome
    assert changes[0] == (V.WELCOME, "en")
    with pytest.raises(VisitError):
        v.set_language("fr")


def test_receipt_entry_skips_the_choice_and_keeps_the_dossier(store, clock):
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-003")                 # an unfinished walk-up visit is dropped
    assert v.start_from_receipt("cb-002", "H12.34-250101-0001", "1.001193", "a1b2c3d4e5f60718") == V.RATE
    assert v.rate(3) == V.REASONS
    v.submit_reasons()
    v.submit_comment()
    [row] = store.records()
    assert row["source"] == "receipt" and row["officer_id"] == "cb-002"
    assert (row["dossier_code"], row["procedure_code"], row["receipt_id"]) == (
        "H12.34-250101-0001", "1.001193", "a1b2c3d4e5f60718")
    assert store.receipt_used("a1b2c3d4e5f60718")
    assert v.back() == V.THANKS                # nothing to go back to after thanks


def test_message_state_times_back_to_welcome(store, clock):
    v = make(store, clock)
    assert v.show_message(V.ALREADY_RATED) == V.MESSAGE
    assert v.message == V.ALREADY_RATED
    clock.advance(v.settings.message_timeout - 0.1)
    assert v.tick() == V.MESSAGE
    clock.advance(0.2)
    assert v.tick() == V.WELCOME and v.message is None


def test_rapid_repeat_is_passed_to_the_store(store, clock):
    settings = Settings(unit_code="13321", desk_id="quay-1", comment=False, rapid_repeat_seconds=30)
    v = Visit(store, settings, clock=clock)
    for _ in range(2):
        v.tap_start()
        v.choose_officer("cb-001")
        v.rate(3)
        v.reset()
    assert [r["flags"] for r in store.records()] == [[], ["rapid_repeat"]]


def test_a_store_failure_never_shows_thanks(store, clock):
    v = make(store, clock, comment=False)
    v.tap_start()
    v.choose_officer("cb-001")
    store.key_hex = None                       # the store refuses to append
    assert v.rate(3) == V.MESSAGE
    assert v.message == V.NOT_STORED
    assert v.last_record is None and store.count() == 0


def test_from_config(tmp_path):
    from kiosk.config import load
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text('[kiosk]\nid="K"\nunit_code="U"\ndesk_id="D"\n[ui]\nidle_timeout=7\n'
                        '[survey]\nscale=4\nreasons=["thai_do"]\ncomment=false\n', "utf-8")
    s = Settings.from_config(load(cfg_path))
    assert (s.unit_code, s.desk_id, s.scale, s.reasons, s.comment, s.idle_timeout) == (
        "U", "D", 4, ["thai_do"], False, 7)


def test_the_visit_asks_the_servers_survey_and_seals_the_rating_on_it(store, clock):
    import json

    from sync import protocol
    offline = make(store, clock)                      # config.toml's 3 levels while the server said nothing
    assert [lv for lv, *_ in offline.levels()] == [3, 2, 1]
    store.set_meta("server_surveys", json.dumps([protocol.BUILTIN_SURVEYS["hl5"]], ensure_ascii=False))
    store.set_meta("server_default_survey", json.dumps("hl5"))
    v = make(store, clock)
    assert [(lv, vi, sat) for lv, vi, _en, sat in v.levels()][2] == (3, "Bình thường", False)
    v.tap_start()
    v.choose_officer("cb-001")
    v.rate(3)                                         # "Bình thường": on the 5-level survey, not satisfied
    v.skip_reasons() if v.state == V.REASONS else None
    v.skip_comment() if v.state == V.COMMENT else None
    row = store.records(after_seq=store.last_seq() - 1, limit=1)[0]
    assert (row["survey"], row["level"]) == ("hl5", 3)
    assert store.verify() == (None, None)               # sealed and chained like any other


def test_a_town_survey_with_its_own_reasons_and_questions(store, clock):
    """A survey the server sent (its own reasons, extra questions, protocol v2): its chips for every level."""
    import json

    from sync import protocol
    town = {"id": "mttq-2026-q4", "title": {"vi": "Khảo sát MTTQ", "en": "MTTQ survey"}, "by": "MTTQ",
            "scale": 4, "labels": {str(lv): {"vi": f"Mức {lv}", "en": f"Level {lv}"} for lv in range(1, 5)},
            "satisfied": [4, 3],
            "reasons": [{"code": "giai_thich", "vi": "Giải thích rõ ràng", "en": "Clear explanations"},
                        {"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
            "questions": [{"code": "dung_hen", "text": {"vi": "Đúng hẹn?", "en": "On time?"}, "scale": 3,
                           "labels": {}, "satisfied": [3, 2]}]}
    protocol.check_survey(town)
    store.set_meta("server_surveys", json.dumps([town], ensure_ascii=False))
    store.set_meta("server_default_survey", json.dumps(town["id"]))
    walks = [steps(make(store, clock), level, clock) for level in range(1, 5)]
    assert all(walk == walks[0] for walk in walks)
    assert walks[0][1] == (["giai_thich", "thai_do"], [("Giải thích rõ ràng", "Clear explanations"),
                                                       ("Thái độ", "Attitude")])   # the town's own words
    v = make(store, clock)
    v.tap_start()
    v.choose_officer("cb-002")
    assert v.rate(4) == V.REASONS
    assert v.toggle_reason("thai_do") and v.toggle_reason("giai_thich")    # not in config.toml: the survey's
    with pytest.raises(VisitError):
        v.toggle_reason("nhung_nhieu")                                     # not a reason of this survey
    v.submit_reasons()
    v.submit_comment()
    row = store.records()[-1]
    assert (row["survey"], row["level"], row["reasons"], row["answers"]) == (
        "mttq-2026-q4", 4, ["giai_thich", "thai_do"], {"dung_hen": None})   # every question, null: not asked
    assert store.verify() == (None, None)
