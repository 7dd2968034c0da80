"""A campaign written on the town server reaches a kiosk through its real agent, is asked, and its answers count.

A real server (tests/faultproxy.ServerThread: create_app under uvicorn, a real
town.db), a real kiosk.db and sync/agent.SyncAgent over loopback HTTP; the
visit is kiosk/visit.py without a window (the Xvfb side is
test_kiosk_questions_app.py). One desk asks the Front's campaign, the other
the unit's default; the server accepts both kinds of rating, each with its
own survey and answers.
"""
from __future__ import annotations

import pytest
from faultproxy import ServerThread, server_ratings
from helpers import ROOT

from kiosk.store import KioskStore
from kiosk.visit import Settings, Visit
from sync import protocol
from sync.agent import SyncAgent
from sync.server.core.admin_ops import add_survey, enrol_kiosk, import_roster

DEMO = ROOT / "assets" / "demo" / "roster.json"


def front_campaign(day: str) -> dict:
    agree = {"3": {"vi": "Đồng ý", "en": "Agree"}, "2": {"vi": "Phân vân", "en": "Not sure"},
             "1": {"vi": "Không đồng ý", "en": "Disagree"}}
    return {
        "id": "mttq-dong-tam-q4", "title": {"vi": "Khảo sát thái độ cán bộ", "en": "Officers' conduct"},
        "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm", "scale": 5,
        "labels": {str(lv): {"vi": vi, "en": en} for lv, vi, en, _s in protocol.SCALES[5]},
        "satisfied": [5, 4],
        "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
        "questions": [{"code": c, "text": {"vi": vi, "en": en}, "scale": 3, "labels": agree, "satisfied": [3]}
                      for c, vi, en in (("lich_su", "Cán bộ lịch sự, tôn trọng", "The officer was polite"),
                                        ("lang_nghe", "Cán bộ lắng nghe ý kiến", "The officer listened"),
                                        ("khong_nhung_nhieu", "Cán bộ không nhũng nhiễu", "No harassment"))],
        "from": day, "to": day, "units": ["13321"], "desks": ["quay-1"],
    }


@pytest.fixture
def town(tmp_path):
    server = ServerThread(tmp_path / "town.db", media_dir=tmp_path / "media")
    with server.engine.begin() as conn:
        server.k1 = enrol_kiosk(conn, "K1", "13321")
        import_roster(conn, DEMO, tmp_path / "media")
    yield server
    server.stop()


def kiosk(tmp_path, town):
    store = KioskStore(tmp_path / "kiosk.db", "K1", town.k1["key"])
    store.init()
    agent = SyncAgent(store, town.url, town.k1["token"], "K1", photo_dir=tmp_path / "photos", min_backoff=0.05)
    return store, agent


def visit_at(store, desk):
    return Visit(store, Settings(unit_code="13321", desk_id=desk, rapid_repeat_seconds=0, comment=False))


def test_a_campaign_from_the_server_is_asked_at_its_desk_and_its_answers_are_accepted(town, tmp_path):
    store, agent = kiosk(tmp_path, town)
    assert agent.pull_config()
    assert visit_at(store, "quay-1").next_survey()["id"] == "hl3"        # nothing running yet
    today = protocol.now_at_offset("+07:00").date().isoformat()
    with town.engine.begin() as conn:
        add_survey(conn, front_campaign(today))
    applied = []
    agent.on_config_applied(lambda config: applied.append(config))
    assert agent.pull_config() and applied                                # the next config round brings it
    desk1, desk2 = visit_at(store, "quay-1"), visit_at(store, "quay-2")
    assert desk1.next_survey()["id"] == "mttq-dong-tam-q4"
    assert desk2.next_survey()["id"] == "hl3"                             # the other desk keeps the one-tap survey
    desk1.tap_start()
    desk1.choose_officer(desk1.officers()[0]["id"]) if desk1.state == "choose_officer" else None
    desk1.rate(5)
    desk1.answer(3)
    desk1.skip_question()
    desk1.answer(1)
    desk1.submit_reasons()
    assert desk1.state == "thanks"
    desk2.tap_start()
    desk2.choose_officer(desk2.officers()[0]["id"]) if desk2.state == "choose_officer" else None
    desk2.rate(2)
    desk2.submit_reasons()
    result = agent.drain()
    assert (result.synced, result.rejected) == (2, 0)
    held = server_ratings(town.engine, "K1")
    assert [(h["survey"], h["level"], h["answers"]) for h in held] == [
        ("mttq-dong-tam-q4", 5, {"lich_su": 3, "lang_nghe": None, "khong_nhung_nhieu": 1}),
        ("hl3", 2, {})]
    store.close()
