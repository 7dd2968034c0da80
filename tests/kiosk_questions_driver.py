"""Issue 12's scenarios for the real kiosk app (tests/kiosk_driver.py, which runs them).

    python tests/kiosk_questions_driver.py CONFIG SCENARIO OUT_DIR [--demo]

``questions_visit``: the app starts on the built-in survey; a campaign with
three extra questions arrives as the sync agent brings one (the store's meta,
then ``app.config_applied()`` from another thread) and the welcome screen
shows it without a restart; then real touches: the headline, one answer, one
skip, one answer, a reason, a comment, thanks; the same in English with
"Quay lại" through the questions; then a walk-away mid-questions. Each
question screen is measured (touch targets) and shot in both languages.
"""
from __future__ import annotations

import json
import sys
import threading
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kiosk_driver as kd

CAMPAIGN_ID = "mttq-2026-q4-test"


def campaign(day: str) -> dict:
    """Three extra questions on 2, 3 and 5 levels; a campaign running on ``day`` at this unit."""
    agree5 = {"5": {"vi": "Rất đồng ý", "en": "Strongly agree"}, "4": {"vi": "Đồng ý", "en": "Agree"},
              "3": {"vi": "Phân vân", "en": "Not sure"}, "2": {"vi": "Không đồng ý", "en": "Disagree"},
              "1": {"vi": "Rất không đồng ý", "en": "Strongly disagree"}}
    return {
        "id": CAMPAIGN_ID,
        "title": {"vi": "Khảo sát sự hài lòng quý IV/2026", "en": "Satisfaction survey, Q4 2026"},
        "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm",
        "scale": 5,
        "labels": {"5": {"vi": "Rất hài lòng", "en": "Very satisfied"}, "4": {"vi": "Hài lòng", "en": "Satisfied"},
                   "3": {"vi": "Bình thường", "en": "Neutral"}, "2": {"vi": "Không hài lòng", "en": "Not satisfied"},
                   "1": {"vi": "Rất không hài lòng", "en": "Very dissatisfied"}},
        "satisfied": [5, 4],
        "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"},
                    {"code": "huong_dan", "vi": "Hướng dẫn", "en": "Guidance"},
                    {"code": "nhung_nhieu", "vi": "Nhũng nhiễu", "en": "Harassment"}],
        "questions": [
            {"code": "q1", "text": {"vi": "Hồ sơ có được giải quyết đúng hẹn không?",
                                    "en": "Was your dossier settled by the appointment date?"},
             "scale": 2, "labels": {"2": {"vi": "Đúng hẹn", "en": "On time"}, "1": {"vi": "Trễ hẹn", "en": "Late"}},
             "satisfied": [2]},
            {"code": "q2", "text": {"vi": "Ông/Bà phải đi lại bao nhiêu lần?", "en": "How many times did you have to come?"},
             "scale": 3, "labels": {"3": {"vi": "1 lần", "en": "Once"}, "2": {"vi": "2 lần", "en": "Twice"},
                                    "1": {"vi": "3 lần trở lên", "en": "Three times or more"}},
             "satisfied": [3]},
            {"code": "q3", "text": {"vi": "Cán bộ hướng dẫn rõ ràng, dễ hiểu, không gây phiền hà, nhũng nhiễu",
                                    "en": "The officer's guidance was clear, with no trouble and nothing asked for"},
             "scale": 5, "labels": agree5, "satisfied": [5, 4]},
        ],
        "from": day, "to": day, "units": ["13321"], "desks": ["quay-1"],
    }


def _one_line_fits(label) -> bool:
    """The label's words on one line are no wider than the label (not wrapped, not shortened)."""
    from kivy.core.text import Label as CoreLabel
    core = CoreLabel(text=label.text, font_size=label.font_size, bold=label.bold, font_name=label.font_name)
    core.refresh()
    return core.texture.size[0] <= label.width + 1


def _level(d: kd.Driver, level: int):
    return d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == level)


def questions_visit(d: kd.Driver):
    app = d.app
    notes = d.result["notes"]
    notes["targets"] = {}
    notes["screens"] = {}

    def look(name):
        """Measure the touch targets, keep the texts and the question screen's words, shoot."""
        yield 0.2
        notes["targets"][name] = kd.touch_targets_on(d)
        screen = app.root.sm.current_screen
        info = {"screen": d.screen, "progress": "", "by": "", "title": ""}
        if "banner" in screen.ids:
            b = screen.ids.banner
            info.update(progress=b.progress_text, by=b.by_text, title=b.title_text,
                        fits={n: _one_line_fits(b.ids[n]) for n in ("progress", "banner_by", "banner_title")})
        if "question_text" in screen.ids:
            info["question"] = screen.ids.question_text.text
            info["labels"] = [w.text for w in d.walk() if w.__class__.__name__ == "LevelButton"]
        notes["screens"][name] = info
        yield from d.shot(f"questions_{name}")

    yield from d.wait_screen("welcome")
    notes["survey_at_start"] = app.visit.next_survey()["id"]
    welcome = app.root.sm.get_screen("welcome")
    notes["welcome_by_at_start"] = welcome.survey_by
    # the sync agent's config: surveys in the store's meta, then the event, from the agent's thread
    today = app.cfg.now().date()
    app.store.set_meta("server_surveys", json.dumps([campaign(today.isoformat())], ensure_ascii=False))
    app.store.set_meta("server_default_survey", json.dumps("hl3"))
    refreshes = app.config_refreshes
    threading.Thread(target=app.config_applied, args=({},)).start()
    yield from d.wait_for(lambda: welcome.survey_by, 5, "the campaign on the welcome screen")
    notes["refreshes"] = app.config_refreshes - refreshes
    notes["welcome_by"] = welcome.survey_by
    notes["welcome_title"] = welcome.survey_title
    yield from d.shot("questions_welcome_vi")

    for lang in ("vi", "en"):
        yield from d.wait_screen("welcome", timeout=10)
        if lang == "en":
            yield from d.tap(kd.language_button(d))
            yield 0.2
            notes["welcome_title_en"] = welcome.survey_title
            yield from d.shot("questions_welcome_en")
        yield from d.tap(d.by_id("start_button"))
        yield from d.wait_screen("choose_officer")
        yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-002"
                                and w.__class__.__name__ == "OfficerCard"))
        yield from d.wait_screen("rate")
        yield from look(f"rate_{lang}")
        yield from d.tap(_level(d, 4))
        yield from d.wait_screen("question", through_reasons=False)
        notes[f"draft_at_headline_{lang}"] = app.store.draft()
        yield from look(f"q1_{lang}")
        yield from d.tap(_level(d, 2))                   # q1: Đúng hẹn
        yield from d.wait_for(lambda: app.visit.question_index == 1, 5, "question 2")
        yield
        yield from look(f"q2_{lang}")
        if lang == "en":                                 # back to q1, then on again with the same answer
            yield from d.tap(d.by_id("back_button"))
            yield from d.wait_for(lambda: app.visit.question_index == 0, 5, "back to question 1")
            yield
            notes["back_progress"] = app.root.sm.current_screen.ids.banner.progress_text
            yield from d.tap(_level(d, 2))
            yield from d.wait_for(lambda: app.visit.question_index == 1, 5, "question 2 again")
            yield
        yield from d.tap(d.by_id("skip_button"))         # q2: skipped
        yield from d.wait_for(lambda: app.visit.question_index == 2, 5, "question 3")
        yield
        notes[f"draft_after_skip_{lang}"] = app.store.draft()
        yield from look(f"q3_{lang}")
        yield from d.tap(_level(d, 5 if lang == "vi" else 1))
        yield from d.wait_screen("reasons", through_reasons=False)
        yield from d.tap(d.find(lambda w: getattr(w, "code", None) == "huong_dan"))
        yield from look(f"reasons_{lang}")
        yield from d.tap(d.by_id("next_button"))
        yield from d.wait_screen("comment", through_reasons=False)
        yield from d.type_keys(kd.keys_for("Toots"))
        yield from d.tap(d.by_id("send_button"))
        yield from d.wait_screen("thanks", through_reasons=False)
        notes[f"rows_at_thanks_{lang}"] = app.store.count()
        yield from d.wait_screen("welcome", timeout=10)

    # a walk-away mid-questions: the headline and q1 tapped, then nobody
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-001"
                            and w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.tap(_level(d, 2))
    yield from d.wait_screen("question", through_reasons=False)
    yield from d.tap(_level(d, 1))
    yield from d.wait_for(lambda: app.visit.question_index == 1, 5, "question 2")
    app.visit.settings.idle_timeout = 1.5
    yield from d.wait_screen("welcome", timeout=10, through_reasons=False)
    notes["records"] = [{k: r[k] for k in ("survey", "level", "answers", "reasons", "comment", "officer_id")}
                        for r in app.store.records()]
    notes["campaign_on"] = today.isoformat()
    notes["tomorrow"] = (today + timedelta(days=1)).isoformat()


LONG_VI = ("Ông/Bà đánh giá thế nào về việc cán bộ tiếp nhận hồ sơ đã hướng dẫn đầy đủ, rõ ràng các thành phần "
           "hồ sơ, thời hạn giải quyết, phí và lệ phí, cách nhận kết quả, và không yêu cầu bổ sung giấy tờ ngoài "
           "quy định, không gây phiền hà, nhũng nhiễu trong suốt quá trình giải quyết thủ tục hành chính?")


def long_question(d: kd.Driver):
    """A question of ~300 characters on 5 levels, then 10 questions: the buttons keep 20 mm; shot in vi and en."""
    app = d.app
    notes = d.result["notes"]
    notes["targets"] = {}
    doc = campaign(app.cfg.now().date().isoformat())
    doc["questions"][2]["text"] = {"vi": LONG_VI, "en": LONG_VI}
    doc["questions"] = [doc["questions"][2]] + [dict(doc["questions"][0], code=f"x{i}") for i in range(9)]
    app.store.set_meta("server_surveys", json.dumps([doc], ensure_ascii=False))
    notes["length"] = len(LONG_VI)
    for lang in ("vi", "en"):
        yield from d.wait_screen("welcome", timeout=10)
        if lang == "en":
            yield from d.tap(kd.language_button(d))
        yield from d.tap(d.by_id("start_button"))
        yield from d.wait_screen("choose_officer")
        yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-002"
                                and w.__class__.__name__ == "OfficerCard"))
        yield from d.wait_screen("rate")
        yield from d.tap(_level(d, 3))
        yield from d.wait_screen("question", through_reasons=False)
        yield 0.3
        notes["targets"][f"long_{lang}"] = kd.touch_targets_on(d)
        notes[f"progress_{lang}"] = app.root.sm.current_screen.ids.banner.progress_text
        yield from d.shot(f"questions_long_{lang}")
        while app.visit.state == "question":
            yield from d.tap(d.by_id("skip_button"))
        yield from d.wait_screen("comment")
        yield from d.tap(d.by_id("skip_button"))
        yield from d.wait_screen("thanks", through_reasons=False)
    notes["answers"] = [r["answers"] for r in app.store.records()]


kd.SCENARIOS["questions_visit"] = questions_visit
kd.SCENARIOS["long_question"] = long_question

if __name__ == "__main__":
    sys.exit(kd.main(sys.argv[1:]))
