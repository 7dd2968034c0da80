"""Survey rules on a real town.db (core/surveys.py, protocol.check_survey(strict=True), kiosk_config):
every refusal names its field, hostile documents never raise anything but the checker's own
error, an answered survey never changes (an edit is a copy with a new id), a campaign stopped
early leaves the kiosks' config (its document unchanged), the config carries the running campaign
of the kiosk's unit only and its ETag changes when a campaign is added; the templates are whole."""
from __future__ import annotations

import copy
import json
import unicodedata
import uuid
from datetime import date, timedelta

import pytest
from helpers import ROOT

from sync import protocol
from sync.server.core import admin_ops, db
from sync.server.core import surveys as rules
from sync.server.core.settings import etag_of, kiosk_config

DEMO = ROOT / "assets" / "demo" / "roster.json"
TODAY = rules.today_vn()


@pytest.fixture(autouse=True)
def _today():
    """TODAY is the day each test starts on, not the day the module was imported: a suite that runs
    past midnight in Vietnam (17:00 UTC) compared yesterday with the server's today."""
    global TODAY
    TODAY = rules.today_vn()


def _campaign(sid="mttq-dot", **over) -> dict:
    doc = rules.template("mttq-can-bo")
    doc.update({"id": sid, "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm", "from": TODAY.isoformat(),
                "to": (TODAY + timedelta(days=30)).isoformat(), "units": ["13321"], "desks": ["quay-1"]})
    doc.update(over)
    return doc


@pytest.fixture
def engine(town_db, tmp_path):
    engine = db.make_engine(str(town_db))
    db.migrate(engine)
    with engine.begin() as conn:
        admin_ops.import_roster(conn, DEMO, tmp_path / "media")
        admin_ops.enrol_kiosk(conn, "K1", "13321")
    yield engine
    engine.dispose()


def _answer(conn, sid: str, n: int = 1) -> None:
    from sqlalchemy import func, select
    last = conn.execute(select(func.max(db.ratings.c.seq))).scalar() or 0
    for i in range(n):
        conn.execute(db.ratings.insert().values(
            id=str(uuid.uuid4()), kiosk_id="K1", seq=last + i + 1, created_at="2026-12-01T08:00:00+07:00",
            unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3, reasons="[]", source="walk_up",
            flags="[]", prev_hash="0" * 64, hash="1" * 64, sig="2" * 64, received_at="2026-12-01T01:00:00Z",
            corrected_at="2026-12-01T08:00:00+07:00", survey=sid, answers="{}"))
    from sync.server.core import rollup
    rollup.fold_in(conn, list(protocol.DEFAULT_REASONS), limit=None)


def _config(conn) -> dict:
    return kiosk_config(conn, {"id": "K1", "unit_code": "13321"}, "/photo/{officer_id}")


def test_the_templates_are_whole_surveys_in_nfc_with_every_diacritic():
    assert rules.template_names() == ["danh-gia-ho-so", "hl3", "mttq-can-bo"]
    for name in rules.template_names():
        raw = (rules.TEMPLATES_DIR / f"{name}.json").read_text("utf-8")
        assert unicodedata.normalize("NFC", raw) == raw
        doc = json.loads(raw)
        problems = protocol.survey_problems(doc)
        assert problems == ([("id", "builtin")] if name == "hl3" else []), (name, problems)
    assert rules.template("hl3")["labels"] == protocol.BUILTIN_SURVEYS["hl3"]["labels"]
    ho_so = {q["code"]: q for q in rules.template("danh-gia-ho-so")["questions"]}
    assert ho_so["dung_hen"]["text"]["vi"] == "Hồ sơ có được giải quyết đúng hẹn không?"
    assert ho_so["dung_hen"]["labels"] == {"2": {"vi": "Đúng hẹn", "en": "On time"},
                                           "1": {"vi": "Trễ hẹn", "en": "Late"}}
    trips = ho_so["so_lan_di_lai"]
    assert trips["text"]["vi"] == "Ông/Bà phải đi lại bao nhiêu lần?"
    assert [trips["labels"][k]["vi"] for k in ("3", "2", "1")] == ["1 lần", "2 lần", "3 lần trở lên"]
    assert trips["satisfied"] == [3]                   # the highest level is the best: one trip
    front = rules.template("mttq-can-bo")
    assert front["by"].startswith("Ủy ban MTTQ Việt Nam xã")
    assert [q["code"] for q in front["questions"]] == ["lich_su", "lang_nghe", "huong_dan_ro", "khong_nhung_nhieu"]
    assert rules.template("../etc/passwd") is None and rules.template(None) is None


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["questions"][2]["labels"]["3"].pop("en"), "questions[2].labels.3.en"),
    (lambda d: d["labels"].pop("4"), "labels.4"),
    (lambda d: d["title"].update(en="  "), "title.en"),
    (lambda d: d.pop("by"), "by"),
    (lambda d: d.update(scale=11), "scale"),
    (lambda d: d.update(scale=True), "scale"),
    (lambda d: d.update(satisfied=[]), "satisfied"),
    (lambda d: d.update(satisfied=[6]), "satisfied"),
    (lambda d: d.update(satisfied=[5, 5]), "satisfied"),
    (lambda d: d["reasons"].append(dict(d["reasons"][0])), "reasons[5].code"),
    (lambda d: d["reasons"][1].pop("vi"), "reasons[1].vi"),
    (lambda d: d["questions"][0].update(code="level"), "questions[0].code"),
    (lambda d: d["questions"][1].update(code="lich_su"), "questions[1].code"),
    (lambda d: d["questions"][3].update(satisfied=[4]), "questions[3].satisfied"),
    (lambda d: d["questions"][0].pop("text"), "questions[0].text"),
    (lambda d: d.update(questions=d["questions"] * 3), "questions"),
    (lambda d: d.update(to="2020-01-01"), "to"),
    (lambda d: d.update({"from": "2026-02-30"}), "from"),
    (lambda d: d.pop("to"), "to"),
    (lambda d: d.update(desks=["quay-1", "quay-1"]), "desks[1]"),
    (lambda d: d.update(units="13321"), "units"),
    (lambda d: d.update(id="hl3"), "id"),
    (lambda d: d.update(id="có dấu"), "id"),
    (lambda d: d.update(note="x"), "note"),
    (lambda d: d["title"].update(vi="a\u202eb"), "title.vi"),
])
def test_every_refusal_names_its_field(change, path):
    doc = _campaign()
    change(doc)
    with pytest.raises(protocol.RecordError) as caught:
        protocol.check_survey(doc, strict=True)
    assert str(caught.value).startswith(path + ":"), str(caught.value)
    with pytest.raises(rules.SurveyError) as refused:
        rules.check(doc)
    assert refused.value.problems[0][0] == path
    assert refused.value.say().startswith(path + ": ")


HOSTILE = [None, [], "x", 1, {"id": None}, {"id": "a", "scale": "3"}, {"id": "a", "labels": [1]},
           {"id": "a", "scale": 3, "labels": {"1": "x", "x": {}, "01": {}}, "satisfied": "3"},
           {"id": "a", "reasons": [1, None, {"code": 5}]}, {"id": "a", "questions": [None, [], {"scale": 99}]},
           {"id": "a", "from": 20260101, "to": None, "units": [None, "", "x" * 100]},
           {"id": "a", "title": {"vi": ["x"], "en": {"x": 1}, "fr": "x"}},
           {"a" * 10000: 1}, {"id": "\ud800"}]


def _deep(n):
    doc = {"id": "a"}
    for _ in range(n):
        doc = {"id": "a", "title": doc}
    return doc


@pytest.mark.parametrize("doc", HOSTILE + [_deep(50), _deep(2000)])
def test_hostile_documents_raise_only_the_checkers_error(doc):
    for strict in (True, False):
        try:
            protocol.check_survey(doc, strict=strict)
        except protocol.RecordError:
            pass
    assert isinstance(protocol.survey_problems(doc), list)
    with pytest.raises(rules.SurveyError):
        rules.check(doc)


def test_the_lenient_check_keeps_what_kiosks_and_older_servers_hold():
    minimal = {"id": "mttq-2026-q4", "scale": 5, "satisfied": [5, 4], "reasons": [{"code": "thai_do"}],
               "questions": [{"code": "dung_hen", "scale": 3, "labels": {}, "satisfied": [3, 2]}]}
    assert protocol.check_survey(minimal)["id"] == "mttq-2026-q4"
    with pytest.raises(protocol.RecordError, match="^title: missing"):
        protocol.check_survey(minimal, strict=True)


def test_an_answered_survey_never_changes_an_edit_is_a_copy(engine):
    with engine.begin() as conn:
        assert rules.add(conn, _campaign(), by="an", based_on="mttq-can-bo") == "mttq-dot"
        assert rules.add(conn, _campaign(), by="an") == "mttq-dot"                    # same content: no-op
        # unanswered: replaced in place when asked to, else refused
        with pytest.raises(rules.SurveyError, match="nội dung khác"):
            rules.add(conn, _campaign(title={"vi": "Khác", "en": "Other"}), by="an")
        rules.add(conn, _campaign(title={"vi": "Khác", "en": "Other"}), by="lan", replace=True)
        meta = rules.meta(conn)["mttq-dot"]
        assert (meta["created_by"], meta["changed_by"], meta["based_on"]) == ("an", "lan", "mttq-can-bo")
        _answer(conn, "mttq-dot", 2)
        assert rules.answered(conn, "mttq-dot") == 2
        with pytest.raises(rules.SurveyError) as refused:
            rules.add(conn, _campaign(satisfied=[5]), by="an", replace=True)
        assert "mttq-dot-2" in refused.value.say()
        assert rules.find(conn, "mttq-dot")["title"]["vi"] == "Khác"                 # unchanged
        assert rules.next_id(conn, "mttq-dot") == "mttq-dot-2"
        rules.add(conn, _campaign("mttq-dot-2", satisfied=[5]), by="an", based_on="mttq-dot")
        assert rules.next_id(conn, "mttq-dot") == "mttq-dot-3" and rules.next_id(conn, "mttq-dot-2") == "mttq-dot-3"
        assert rules.next_id(conn, "hl3") == "hl3-2"
        for sid in ("hl3", "new"):
            with pytest.raises(rules.SurveyError):
                rules.add(conn, dict(rules.template("danh-gia-ho-so"), id=sid))
        infos = {s.id: s for s in rules.list_surveys(conn)}
        assert infos["mttq-dot"].answered == 2 and infos["mttq-dot"].state == "running"
        assert infos["hl3"].state == "default" and infos["hl3"].builtin


def test_admin_ops_add_survey_is_strict_and_says_the_field_in_english(engine):
    with engine.begin() as conn:
        doc = _campaign()
        del doc["questions"][1]["labels"]["2"]["en"]
        with pytest.raises(admin_ops.AdminError, match=r"^survey: questions\[1\]\.labels\.2\.en: missing$"):
            admin_ops.add_survey(conn, doc)
        admin_ops.add_survey(conn, _campaign())
        with pytest.raises(admin_ops.AdminError, match="already defined with other content"):
            admin_ops.add_survey(conn, _campaign(by="Ai khác"))


def test_kiosk_config_carries_the_running_campaign_of_its_unit_only_and_its_etag_moves(engine):
    with engine.begin() as conn:
        first = _config(conn)
        tag = etag_of(first)
        assert [s["id"] for s in first["surveys"]] == ["hl3"]
        rules.add(conn, _campaign())
        rules.add(conn, _campaign("other-unit", units=["99999"], desks=[]))
        rules.add(conn, _campaign("long-ago", **{"from": "2025-01-01", "to": "2025-01-31"}))
        rules.add(conn, _campaign("next-month", **{"from": (TODAY + timedelta(days=40)).isoformat(),
                                                   "to": (TODAY + timedelta(days=60)).isoformat()}))
        config = _config(conn)
        assert [s["id"] for s in config["surveys"]] == ["hl3", "mttq-dot", "next-month"]
        assert etag_of(config) != tag
        asked = {d["desk"]: d["survey"] for d in rules.desks_today(conn)}
        assert asked["quay-1"] == "mttq-dot" and asked["quay-2"] == "hl3"
        assert protocol.survey_to_ask(config["surveys"], config["default_survey"], "13321", "quay-1",
                                      TODAY)["id"] == "mttq-dot"
        states = {s.id: s.state for s in rules.list_surveys(conn)}
        assert (states["long-ago"], states["next-month"], states["other-unit"]) == ("ended", "planned", "running")
        # stopped now: gone from the config (ETag moves), the document unchanged, never twice
        stored = copy.deepcopy(rules.find(conn, "mttq-dot"))
        _answer(conn, "mttq-dot")
        before = etag_of(_config(conn))
        assert rules.end_now(conn, "mttq-dot", "an") == TODAY.isoformat()
        after = _config(conn)
        assert "mttq-dot" not in [s["id"] for s in after["surveys"]] and etag_of(after) != before
        assert rules.find(conn, "mttq-dot") == stored
        assert {d["desk"]: d["survey"] for d in rules.desks_today(conn)}["quay-1"] == "hl3"
        info = rules.info(conn, "mttq-dot")
        assert info.state == "stopped" and info.last_day == TODAY.isoformat() and info.meta["ended_by"] == "an"
        for sid in ("mttq-dot", "long-ago", "hl3", "nope"):
            with pytest.raises(rules.SurveyError):
                rules.end_now(conn, sid)


def test_the_default_is_a_survey_never_a_campaign(engine):
    with engine.begin() as conn:
        rules.add(conn, _campaign())
        ho_so = dict(rules.template("danh-gia-ho-so"), id="ho-so")
        rules.add(conn, ho_so, make_default=True)
        config = _config(conn)
        assert config["default_survey"] == "ho-so" and config["surveys"][0]["id"] == "ho-so"
        with pytest.raises(rules.SurveyError, match="đợt khảo sát"):
            rules.set_default(conn, "mttq-dot")
        with pytest.raises(rules.SurveyError, match="Không có"):
            rules.set_default(conn, "nope")
        rules.set_default(conn, "hl5")
        assert _config(conn)["default_survey"] == "hl5"
        assert {d["desk"]: d["survey"] for d in rules.desks_today(conn, date(2099, 1, 1))}["quay-1"] == "hl5"
