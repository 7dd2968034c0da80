"""Issue 12 on the real kiosk app under Xvfb: a campaign arrives without a restart, its questions by touch.

tests/kiosk_questions_driver.py (scenario ``questions_visit``) runs the app
as ``hailong kiosk`` does, puts a campaign with three extra questions in the
store as the sync agent does and fires the app's config event; then real
touches. What is asserted is kiosk.db's rows, what the screens showed, the
size of every touch target (≥ 20 mm on the 10.1" 1280×800 panel) and the
screenshots in test-artifacts/kiosk/questions_*.png (looked at: both
languages, every diacritic).
"""
from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import pytest
from helpers import ROOT, TESTS
from kiosk_runs import BASE_UI, KEY, toml_value
from test_touch_targets import MIN_MM, mm

from kiosk.store import KioskStore
from sync import protocol

DRIVER = TESTS / "kiosk_questions_driver.py"


def drive(xvfb, tmp, out, scenario):
    """Run ``scenario`` of tests/kiosk_questions_driver.py on a fresh kiosk.db; (result, rows, store)."""
    ui = {**BASE_UI, "idle_timeout": 40, "thanks_timeout": 1}
    lines = ["[kiosk]", 'id = "TEST-KIOSK"', 'unit_code = "13321"', 'desk_id = "quay-1"', 'db = "kiosk.db"',
             f'key = "{KEY}"', "[ui]"] + [f"{k} = {toml_value(v)}" for k, v in ui.items()]
    config = tmp / "config.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")
    proc = subprocess.run([sys.executable, str(DRIVER), str(config), scenario, str(out), "--demo"],
                          env={**xvfb, "KIOSK_DRIVER_LIMIT": "150"}, cwd=ROOT, capture_output=True, check=False,
                          text=True, timeout=200)
    result_file = out / f"{scenario}.json"
    assert result_file.exists(), f"driver wrote no result (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text("utf-8"))
    assert result.get("ok"), result.get("error") or proc.stderr[-3000:]
    store = KioskStore(tmp / "kiosk.db", key_hex=KEY)
    return result, store.records(), store


@pytest.fixture(scope="module")
def run(xvfb, artifacts, tmp_path_factory):
    out = artifacts("kiosk")
    result, rows, store = drive(xvfb, tmp_path_factory.mktemp("questions"), out, "questions_visit")
    yield result, rows, store, out
    store.close()


def test_the_campaign_arrives_without_a_restart(run):
    result, _rows, _store, _out = run
    notes = result["notes"]
    assert notes["survey_at_start"] == "hl3" and notes["welcome_by_at_start"] == ""
    assert notes["refreshes"] >= 1
    assert notes["welcome_by"] == "Khảo sát của Ủy ban MTTQ Việt Nam xã Đồng Tâm"
    assert notes["welcome_title"] == "Khảo sát sự hài lòng quý IV/2026"
    assert notes["welcome_title_en"] == "Satisfaction survey, Q4 2026"


def test_answer_skip_answer_is_one_row_with_every_answer(run):
    result, rows, store, _out = run
    notes = result["notes"]
    assert len(rows) == 3
    vi, en, walked_away = rows
    assert (vi["survey"], vi["level"], vi["answers"]) == ("mttq-2026-q4-test", 4, {"q1": 2, "q2": None, "q3": 5})
    assert (en["survey"], en["level"], en["answers"]) == ("mttq-2026-q4-test", 4, {"q1": 2, "q2": None, "q3": 1})
    assert vi["reasons"] == en["reasons"] == ["huong_dan"] and vi["comment"] == en["comment"] == "Tốt"
    # a walk-away after the headline and one answer: what was tapped is sealed, the rest null
    assert (walked_away["level"], walked_away["answers"], walked_away["officer_id"]) == (
        2, {"q1": 1, "q2": None, "q3": None}, "cb-001")
    # durable from the headline tap on, every answer written at its tap
    for lang in ("vi", "en"):
        assert notes[f"draft_at_headline_{lang}"]["answers"] == {"q1": None, "q2": None, "q3": None}
        assert notes[f"draft_after_skip_{lang}"]["answers"] == {"q1": 2, "q2": None, "q3": None}
        assert notes[f"rows_at_thanks_{lang}"] == (1 if lang == "vi" else 2)
    assert store.verify() == (None, None)
    surveys = store.known_surveys()
    for row in rows:
        protocol.check_record({k: row[k] for k in protocol.RECORD_FIELDS}, surveys)


def test_each_question_screen_shows_its_own_words_and_progress(run):
    result, _rows, _store, out = run
    screens = result["notes"]["screens"]
    assert screens["rate_vi"]["progress"] == "Câu 1/4" and screens["rate_en"]["progress"] == "Question 1 of 4"
    assert screens["rate_vi"]["by"] == "Khảo sát của Ủy ban MTTQ Việt Nam xã Đồng Tâm"
    assert screens["rate_en"]["by"] == "Survey by Ủy ban MTTQ Việt Nam xã Đồng Tâm"
    assert screens["rate_en"]["title"] == "Satisfaction survey, Q4 2026"
    expected = {
        "q1": ("Câu 2/4", "Hồ sơ có được giải quyết đúng hẹn không?", ["Đúng hẹn", "Trễ hẹn"],
               "Question 2 of 4", "Was your dossier settled by the appointment date?", ["On time", "Late"]),
        "q2": ("Câu 3/4", "Ông/Bà phải đi lại bao nhiêu lần?", ["1 lần", "2 lần", "3 lần trở lên"],
               "Question 3 of 4", "How many times did you have to come?", ["Once", "Twice", "Three times or more"]),
        "q3": ("Câu 4/4", "Cán bộ hướng dẫn rõ ràng, dễ hiểu, không gây phiền hà, nhũng nhiễu",
               ["Rất đồng ý", "Đồng ý", "Phân vân", "Không đồng ý", "Rất không đồng ý"],
               "Question 4 of 4", "The officer's guidance was clear, with no trouble and nothing asked for",
               ["Strongly agree", "Agree", "Not sure", "Disagree", "Strongly disagree"]),
    }
    for code, (p_vi, text_vi, labels_vi, p_en, text_en, labels_en) in expected.items():
        vi, en = screens[f"{code}_vi"], screens[f"{code}_en"]
        assert (vi["screen"], vi["progress"], vi["question"]) == ("question", p_vi, text_vi)
        assert (en["screen"], en["progress"], en["question"]) == ("question", p_en, text_en)
        assert sorted(vi["labels"]) == sorted(labels_vi) and sorted(en["labels"]) == sorted(labels_en)
        assert unicodedata.is_normalized("NFC", vi["question"])
        assert vi["by"] == "Khảo sát của Ủy ban MTTQ Việt Nam xã Đồng Tâm"
        for lang in ("vi", "en"):
            assert (out / f"questions_{code}_{lang}.png").stat().st_size > 10_000
    assert result["notes"]["back_progress"] == "Question 2 of 4"
    cut = [f"{name}: {label}" for name, info in screens.items() for label, fits in info.get("fits", {}).items()
           if not fits]
    assert not cut, "banner words wrapped or cut: " + ", ".join(cut)


def test_every_touch_target_of_the_question_screens_is_at_least_20_mm(run):
    result, _rows, _store, _out = run
    targets = result["notes"]["targets"]
    for code, levels in (("q1", 2), ("q2", 3), ("q3", 5)):
        for lang in ("vi", "en"):
            names = [n for n, _w, _h in targets[f"{code}_{lang}"]]
            assert sum(n.startswith("LevelButton") for n in names) == levels
            assert {"back_button", "skip_button", "language_button"} <= set(names)
    too_small = [f"{screen}: {name} is {mm(w):.1f} × {mm(h):.1f} mm"
                 for screen, found in targets.items() for name, w, h in found
                 if mm(w) < MIN_MM or mm(h) < MIN_MM]
    assert not too_small, "\n".join(too_small)


def test_a_long_question_and_ten_of_them_keep_20_mm_buttons(xvfb, artifacts, tmp_path):
    """~300 characters on a 5-level question (the survey's longest text), and 10 questions: nothing shrinks."""
    out = artifacts("kiosk")
    result, _rows, store = drive(xvfb, tmp_path, out, "long_question")
    store.close()
    notes = result["notes"]
    assert notes["length"] > 280
    assert (notes["progress_vi"], notes["progress_en"]) == ("Câu 2/11", "Question 2 of 11")
    for lang in ("vi", "en"):
        found = notes["targets"][f"long_{lang}"]
        assert sum(n.startswith("LevelButton") for n, _w, _h in found) == 5
        small = [(n, round(mm(w), 1), round(mm(h), 1)) for n, w, h in found if mm(w) < MIN_MM or mm(h) < MIN_MM]
        assert not small, small
        assert (out / f"questions_long_{lang}.png").stat().st_size > 10_000
    assert [set(a.values()) for a in notes["answers"]] == [{None}, {None}]       # all skipped: every code null
    assert all(len(a) == 10 for a in notes["answers"])
