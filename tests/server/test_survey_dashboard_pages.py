"""Mixed surveys, one server: two kiosks on different surveys feed a real ``hailong server`` through
the sync protocol (sealed, signed batches), and the API, the dashboard and the officer page
judge each rating by its own survey.

Kiosk K1 at quay-1 asks the one-tap ``hl3``; kiosk K2 at quay-2 asks the Front's 5-level
campaign with three questions. November 2026, worked out by hand from ``K1``/``K2`` below:

* hl3: levels 3, 2, 2, 1, 1 → satisfied 3 (a hl3 "2 Hài lòng" is satisfied) → 60,0 %;
  on time 2, late 2 → 50,0 %.
* campaign: levels 5, 4, 3, 3, 2 → satisfied 2 (a 5-level "3 Bình thường" is not) → 40,0 %;
  on time 3, late 1 → 75,0 %. dung_hen 2, 2, 1, 2 (+1 skipped) → 3/4 = 75,0 %;
  so_lan 1, 2, 3, null (+1 missing) → 1/3 = 33,3 %; thai_do 5, 4, 3, 4 → 3/4 = 75,0 %.
* the town: 10 valid, 5 satisfied → 50,0 %; on time 5 of 8 → 62,5 %.

Screenshots (desktop and a 360×740 phone, Vietnamese and English) go to test-artifacts/admin/
(survey-*.png); the phone must not scroll sideways.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime

import pytest
import requests
from helpers import start_server, stop
from town import hailong, session_for, shot, sign_in

from sync import protocol
from sync.server.core import admin_ops, db

CHROMIUM = "/usr/bin/chromium"
PERIOD = "2026-11"
CID = "mttq-2026-11"


def _labels(*words):
    n = len(words)
    return {str(n - i): {"vi": vi, "en": en} for i, (vi, en) in enumerate(words)}


CAMPAIGN = {
    "id": CID, "title": {"vi": "Khảo sát của Ủy ban MTTQ xã Đồng Tâm tháng 11", "en": "Fatherland Front survey, November"},
    "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm", "scale": 5,
    "labels": _labels(("Rất hài lòng", "Very satisfied"), ("Hài lòng", "Satisfied"), ("Bình thường", "Neutral"),
                      ("Không hài lòng", "Dissatisfied"), ("Rất không hài lòng", "Very dissatisfied")),
    "satisfied": [5, 4], "reasons": [{"code": "thai_do", "vi": "Thái độ", "en": "Attitude"}],
    "questions": [
        {"code": "dung_hen", "text": {"vi": "Hồ sơ có được trả đúng hẹn không?", "en": "Was the result on time?"},
         "scale": 2, "labels": _labels(("Có", "Yes"), ("Không", "No")), "satisfied": [2]},
        {"code": "so_lan", "text": {"vi": "Ông/Bà đã phải đi lại mấy lần?", "en": "How many trips did it take?"},
         "scale": 3, "labels": _labels(("3 lần trở lên", "3 or more"), ("2 lần", "Twice"), ("1 lần", "Once")),
         "satisfied": [1]},
        {"code": "thai_do", "text": {"vi": "Thái độ của cán bộ?", "en": "The officer's attitude?"},
         "scale": 5, "labels": _labels(("Rất tốt", "Very good"), ("Tốt", "Good"), ("Bình thường", "Fair"),
                                       ("Kém", "Poor"), ("Rất kém", "Very poor")), "satisfied": [5, 4]},
    ],
    "from": "2026-11-01", "to": "2026-11-30", "units": ["13321"], "desks": ["quay-2"],
}

# (day, level, answers, flags)
K1 = [(3, 3, {}, ["on_time"]), (4, 2, {}, ["on_time"]), (5, 2, {}, ["late"]), (6, 1, {}, ["late"]), (9, 1, {}, [])]
K2 = [(3, 5, {"dung_hen": 2, "so_lan": 1, "thai_do": 5}, ["on_time"]),
      (4, 4, {"dung_hen": 2, "so_lan": 2, "thai_do": 4}, ["on_time"]),
      (5, 3, {"dung_hen": 1, "so_lan": 3, "thai_do": 3}, ["late"]),
      (6, 3, {"dung_hen": 2, "so_lan": None, "thai_do": 4}, ["on_time"]),
      (9, 2, {}, [])]


def _send(url, kiosk_id, token, key, desk, officer, procedure, survey, rows):
    records, prev = [], protocol.ZERO_HASH
    for seq, (day, level, answers, flags) in enumerate(rows, 1):
        rec = {"id": str(uuid.uuid4()), "kiosk_id": kiosk_id, "seq": seq,
               "created_at": f"2026-11-{day:02d}T09:{seq:02d}:00+07:00", "unit_code": "13321", "desk_id": desk,
               "officer_id": officer, "dossier_code": f"H{seq:03d}", "procedure_code": procedure,
               "receipt_id": f"r-{kiosk_id}-{seq}", "level": level, "reasons": [], "comment": None,
               "source": "receipt", "flags": flags, "survey": survey, "answers": answers}
        rec = protocol.seal(rec, prev, key)
        prev = rec["hash"]
        records.append(rec)
    body = {"kiosk_id": kiosk_id, "sent_at": datetime.now(UTC).isoformat(), "ratings": records}
    r = requests.post(url + protocol.PATH_BATCH, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 200, r.text
    assert r.json()["acked_through"] == len(records), r.text


class MixedTown:
    def __init__(self, tmp, database=None):
        from helpers import free_port
        self.tmp = tmp
        self.db = database or tmp / "town.db"
        hailong(self.db, "admin", "migrate")
        hailong(self.db, "admin", "create-user", "--username", "an", "--role", "admin", "--password-stdin",
                stdin="mật-khẩu-quản-trị\n")
        from helpers import ROOT
        hailong(self.db, "admin", "import-roster", str(ROOT / "assets" / "demo" / "roster.json"))
        self.kiosks = {k: json.loads(hailong(self.db, "admin", "enrol-kiosk", "--kiosk-id", k, "--unit", "13321",
                                             "--json")) for k in ("K1", "K2")}
        self.token = json.loads(hailong(self.db, "admin", "create-token", "--username", "an", "--json"))["token"]
        engine = db.make_engine(str(self.db))
        with engine.begin() as conn:
            admin_ops.add_survey(conn, CAMPAIGN)
        engine.dispose()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = start_server(self.db, self.port, log=tmp / "server.log")
        k1, k2 = self.kiosks["K1"], self.kiosks["K2"]
        _send(self.url, "K1", k1["token"], k1["key"], "quay-1", "cb-001", "1.001193", "hl3", K1)
        _send(self.url, "K2", k2["token"], k2["key"], "quay-2", "cb-004", "1.004227", CID, K2)

    def api(self, **params):
        return requests.get(self.url + "/api/v1/reports/dashboard", params={"period": PERIOD, **params}, timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = MixedTown(tmp_path_factory.mktemp("mixed-surveys"), database=module_town_db)
    yield t
    stop(t.proc)


def test_each_rating_judged_by_its_own_survey_and_the_town_is_the_sum(town):
    r = town.api()
    assert r.status_code == 200, r.text
    doc = r.json()
    per = {s["id"]: s for s in doc["surveys"]}
    assert (per["hl3"]["valid"], per["hl3"]["satisfied"], per["hl3"]["rate"]) == (5, 3, 60.0)
    assert (per[CID]["valid"], per[CID]["satisfied"], per[CID]["rate"]) == (5, 2, 40.0)
    assert (per["hl3"]["on_time_rate"], per[CID]["on_time_rate"]) == (50.0, 75.0)
    assert per[CID]["title"]["vi"] == CAMPAIGN["title"]["vi"] and per[CID]["by"] == CAMPAIGN["by"]
    assert (doc["overall"]["valid"], doc["overall"]["satisfied"], doc["overall"]["rate"]) == (10, 5, 50.0)
    officers = {t["key"]: t for t in doc["timeliness"]["officer"]}
    assert (officers["cb-001"]["on_time_rate"], officers["cb-001"]["rate"]) == (50.0, 60.0)
    assert (officers["cb-004"]["on_time_rate"], officers["cb-004"]["rate"]) == (75.0, 40.0)
    assert "questions" not in doc


def test_api_with_a_survey_gives_its_questions(town):
    doc = town.api(survey=CID).json()
    assert doc["survey"] == CID and (doc["overall"]["valid"], doc["overall"]["rate"]) == (5, 40.0)
    assert doc["overall"]["levels"] == {"5": 1, "4": 1, "3": 2, "2": 1, "1": 0}     # its own 5 levels
    qs = {q["code"]: q for q in doc["questions"]}
    assert list(qs) == ["level", "dung_hen", "so_lan", "thai_do"]
    assert (qs["level"]["levels"], qs["level"]["rate"]) == ({"5": 1, "4": 1, "3": 2, "2": 1, "1": 0}, 40.0)
    assert (qs["dung_hen"]["answered"], qs["dung_hen"]["skipped"], qs["dung_hen"]["rate"]) == (4, 1, 75.0)
    assert (qs["so_lan"]["levels"], qs["so_lan"]["skipped"], qs["so_lan"]["rate"]) == ({"3": 1, "2": 1, "1": 1}, 2, 33.3)
    assert (qs["thai_do"]["answered"], qs["thai_do"]["rate"]) == (4, 75.0)
    assert qs["so_lan"]["labels"]["1"] == {"vi": "1 lần", "en": "Once"}
    assert [s["id"] for s in doc["surveys"]] == [CID]
    hl3 = town.api(survey="hl3").json()
    assert (hl3["overall"]["valid"], hl3["overall"]["rate"], hl3["questions"][0]["levels"]) == (
        5, 60.0, {"3": 1, "2": 2, "1": 2})


@pytest.mark.parametrize("bad", ["khong-co", "hl3' OR 1=1", "x" * 500, "\u202ehl3"])
def test_an_unknown_survey_is_a_422_naming_the_field(town, bad):
    r = town.api(survey=bad)
    assert r.status_code == 422 and "survey" in r.text
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + "/admin", params={"period": PERIOD, "survey": bad}, timeout=30)
    assert page.status_code == 422 and "Không có phiếu khảo sát mã" in page.text
    assert "<script" not in page.text.split("Không có phiếu khảo sát mã", 1)[1][:200]


def _text(html: str) -> str:
    import re
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_dashboard_and_officer_page_read_surveys_and_on_time(town):
    s = session_for(town, "an", "mật-khẩu-quản-trị")
    page = s.get(town.url + "/admin", params={"period": PERIOD}, timeout=30)
    assert page.status_code == 200
    text = _text(page.text)
    assert "Theo khảo sát" in text and CAMPAIGN["title"]["vi"] in text and CAMPAIGN["by"] in text
    assert "60,0%" in text and "40,0%" in text and "50,0%" in text and "75,0%" in text
    assert "Đúng hẹn theo thủ tục" in text and "Đúng hẹn theo cán bộ" in text
    assert f'value="{CID}"' in page.text                     # the chooser
    # two scales: each survey's levels in its own words ("Bình thường" only the campaign has)
    assert text.count("Bình thường") >= 1 and "Theo câu hỏi" not in text
    chosen = _text(s.get(town.url + "/admin", params={"period": PERIOD, "survey": CID}, timeout=30).text)
    assert "Theo câu hỏi" in chosen and "Ông/Bà đã phải đi lại mấy lần?" in chosen and "33,3%" in chosen
    assert "Trả lời: 3 · bỏ qua: 2" in chosen
    assert "Rất hài lòng + Hài lòng: 2 lượt" in chosen         # the campaign's satisfied levels
    officer = _text(s.get(town.url + "/admin/officers/cb-004", params={"period": PERIOD}, timeout=30).text)
    assert "Theo khảo sát" in officer and "75,0%" in officer and "40,0%" in officer and "60,0%" not in officer
    # only the campaign's ratings: its five levels, not the town's three ("3" is "Bình thường" there)
    assert "Bình thường" in officer and "Rất không hài lòng" in officer
    export = s.get(town.url + "/admin/export", params={"period": PERIOD, "survey": CID, "fmt": "csv"}, timeout=30)
    head = export.content.decode("utf-8-sig").splitlines()[0]
    assert "Hồ sơ có được trả đúng hẹn không" in head and "Câu hỏi khác" not in head


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make system-packages)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield b
        b.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_pages_in_chromium_desktop_and_phone(browser, town, lang):
    for name, size in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 360, "height": 740})):
        ctx = browser.new_context(viewport=size, locale="vi-VN")
        page = ctx.new_page()
        sign_in(page, town, "an", "mật-khẩu-quản-trị")
        if lang == "en":
            page.goto(town.url + "/lang/en?next=/admin")
        page.goto(town.url + f"/admin?period={PERIOD}")
        page.get_by_test_id("survey-filter").select_option(CID)
        page.get_by_role("button", name="Xem" if lang == "vi" else "Show").click()
        page.wait_for_url(f"**survey={CID}**")
        page.get_by_test_id("questions").wait_for()
        assert page.get_by_test_id("question-so_lan").inner_text().count("\n") >= 2
        shot(page, f"survey-dashboard-{lang}-{name}")
        if name == "phone":
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
        page.goto(town.url + f"/admin?period={PERIOD}")
        page.get_by_test_id("by-survey").wait_for()
        shot(page, f"survey-all-{lang}-{name}")
        if name == "phone":
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
        page.goto(town.url + f"/admin/officers/cb-004?period={PERIOD}")
        page.get_by_test_id("on-time-procedure").wait_for()
        shot(page, f"survey-officer-{lang}-{name}")
        if name == "phone":
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
        ctx.close()
