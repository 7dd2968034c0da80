"""Figures per survey and per question, on time beside satisfaction (reports/survey_results.py).

A real town.db (SQLite) holding ratings on two surveys: the built-in
one-tap ``hl3`` at desk quay-1, and a 5-level campaign with three extra
questions at quay-2. Every expected figure below was worked out by hand
from the table ``ROWS`` (not by the code under test):

hl3 (Q4): 4 ratings, 1 misuse → 3 valid, 2 satisfied (3, 2) → 66,7 %;
    on time 1, late 1 (the misuse rating's ``late`` is not counted) → 50,0 %.
mttq-q4 (Q4): 5 ratings, 1 misuse → 4 valid; levels 5, 3, 4, 2: satisfied
    5 and 4 only ("3 Bình thường" is not) → 2/4 = 50,0 %; on time 2, late 1 → 66,7 %.
    dung_hen (2 levels, satisfied [2]): answers 2, 1, 2 and one skipped → 2/3 = 66,7 %
    so_lan (3 levels, satisfied [1]): 1, 3, null, missing → 1/2 = 50,0 %, 2 skipped
    thai_do (5 levels, satisfied [5, 4]): 5, 3, 4, missing → 2/3 = 66,7 %, 1 skipped
All of Q4: 7 valid, 4 satisfied → 57,1 %.
"""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import create_engine, insert

from sync.protocol import BUILTIN_SURVEYS
from sync.server.core import db, rollup
from sync.server.core.settings import set_setting
from sync.server.reports import periods
from sync.server.reports import survey_results as sr
from sync.server.reports.stats import Filter, town_stats


def _labels(*words):
    n = len(words)
    return {str(n - i): {"vi": vi, "en": en} for i, (vi, en) in enumerate(words)}


CAMPAIGN = {
    "id": "mttq-q4", "title": {"vi": "Khảo sát của Ủy ban MTTQ xã Đồng Tâm", "en": "Fatherland Front survey"},
    "by": "Ủy ban MTTQ Việt Nam xã Đồng Tâm", "scale": 5,
    "labels": _labels(("Rất hài lòng", "Very satisfied"), ("Hài lòng", "Satisfied"), ("Bình thường", "Neutral"),
                      ("Không hài lòng", "Dissatisfied"), ("Rất không hài lòng", "Very dissatisfied")),
    "satisfied": [5, 4], "reasons": [],
    "questions": [
        {"code": "dung_hen", "text": {"vi": "Hồ sơ có được trả đúng hẹn không?", "en": "Was the result on time?"},
         "scale": 2, "labels": _labels(("Có", "Yes"), ("Không", "No")), "satisfied": [2]},
        {"code": "so_lan", "text": {"vi": "Ông/bà đã phải đi lại mấy lần?", "en": "How many trips?"},
         "scale": 3, "labels": _labels(("3 lần trở lên", "3 or more"), ("2 lần", "2 trips"), ("1 lần", "1 trip")),
         "satisfied": [1]},
        {"code": "thai_do", "text": {"vi": "Thái độ của cán bộ", "en": "The officer's attitude"},
         "scale": 5, "labels": _labels(("Rất tốt", "Very good"), ("Tốt", "Good"), ("Bình thường", "Fair"),
                                       ("Kém", "Poor"), ("Rất kém", "Very poor")), "satisfied": [5, 4]},
    ],
    "from": "2026-10-01", "to": "2026-12-31", "units": ["13321"], "desks": ["quay-2"],
}

# (corrected_at, kiosk, desk, officer, procedure, survey, level, answers, flags)
ROWS = [
    ("2026-10-02T08:00:00+07:00", "k1", "quay-1", "cb-001", "P1", "hl3", 3, {}, ["on_time"]),
    ("2026-10-02T09:00:00+07:00", "k1", "quay-1", "cb-001", "P1", "hl3", 2, {}, ["late"]),
    ("2026-11-03T10:00:00+07:00", "k1", "quay-1", "cb-001", "P2", "hl3", 1, {}, []),
    ("2026-11-03T10:00:04+07:00", "k1", "quay-1", "cb-001", "P2", "hl3", 1, {}, ["rapid_repeat", "late"]),
    ("2026-10-05T08:00:00+07:00", "k2", "quay-2", "cb-004", "P1", "mttq-q4", 5,
     {"dung_hen": 2, "so_lan": 1, "thai_do": 5}, ["on_time"]),
    ("2026-11-05T08:00:00+07:00", "k2", "quay-2", "cb-004", "P2", "mttq-q4", 3,
     {"dung_hen": 1, "so_lan": 3, "thai_do": 3}, ["late"]),
    ("2026-12-05T08:00:00+07:00", "k2", "quay-2", "cb-004", "P2", "mttq-q4", 4,
     {"dung_hen": 2, "so_lan": None, "thai_do": 4}, ["on_time"]),
    ("2026-12-06T08:00:00+07:00", "k2", "quay-2", "cb-004", None, "mttq-q4", 2, {}, []),
    ("2026-12-06T08:00:03+07:00", "k2", "quay-2", "cb-004", None, "mttq-q4", 5,
     {"dung_hen": 2, "so_lan": 1, "thai_do": 5}, ["rapid_repeat"]),
    ("2027-01-02T08:00:00+07:00", "k2", "quay-2", "cb-004", "P1", "mttq-q4", 1,
     {"dung_hen": 1, "so_lan": 3, "thai_do": 1}, ["late"]),       # next quarter
]

NAMES = {
    "units": [{"code": "13321", "name": "UBND xã Đồng Tâm"}],
    "desks": [{"id": "quay-1", "unit_code": "13321", "name": "Quầy số 1"},
              {"id": "quay-2", "unit_code": "13321", "name": "Quầy số 2"}],
    "officers": [{"id": "cb-001", "name": "Nguyễn Thị Hồng Nhung", "desk_id": "quay-1"},
                 {"id": "cb-004", "name": "Phạm Quốc Hưng", "desk_id": "quay-2"}],
    "procedures": [{"code": "P1", "name": "Đăng ký khai sinh"}, {"code": "P2", "name": "Chứng thực"}],
}


def make_mixed_town(path, rows=ROWS):
    engine = create_engine(db.db_url(str(path)))
    db.metadata.create_all(engine)
    with engine.begin() as conn:
        for table, values in NAMES.items():
            conn.execute(insert(db.metadata.tables[table]), values)
        set_setting(conn, "surveys", {CAMPAIGN["id"]: CAMPAIGN})
        for seq, (at, kiosk, desk, officer, proc, survey, level, answers, flags) in enumerate(rows, 1):
            conn.execute(insert(db.ratings).values(
                id=str(uuid.UUID(int=seq)), kiosk_id=kiosk, seq=seq, created_at=at, unit_code="13321",
                desk_id=desk, officer_id=officer, dossier_code=f"H{seq:03d}", procedure_code=proc,
                receipt_id=None, level=level, reasons="[]", comment=None, source="receipt",
                flags=json.dumps(flags), prev_hash="0" * 64, hash="1" * 64, sig="2" * 64,
                received_at=at, corrected_at=at, survey=survey, answers=json.dumps(answers),
                wire_version=2, server_flags="[]"))
    rollup.fold(engine, [])
    return engine


@pytest.fixture(scope="module")
def town(module_town_db):
    return make_mixed_town(module_town_db)


Q4 = periods.quarter(2026, 4)


def test_each_survey_judged_by_its_own_satisfied_set(town):
    rows = {f.survey_id: f for f in sr.survey_breakdown(town, Filter(Q4))}
    assert set(rows) == {"hl3", "mttq-q4"}
    hl3, camp = rows["hl3"], rows["mttq-q4"]
    assert (hl3.total, hl3.misuse, hl3.valid, hl3.satisfied, hl3.rate) == (4, 1, 3, 2, 66.7)
    assert (hl3.on_time, hl3.late, hl3.on_time_rate) == (1, 1, 50.0)
    assert (camp.total, camp.misuse, camp.valid, camp.satisfied, camp.rate) == (5, 1, 4, 2, 50.0)
    assert (camp.on_time, camp.late, camp.on_time_rate) == (2, 1, 66.7)
    assert camp.title_vi == "Khảo sát của Ủy ban MTTQ xã Đồng Tâm" and camp.by.startswith("Ủy ban MTTQ")
    assert camp.campaign and not hl3.campaign
    assert hl3.title_vi == BUILTIN_SURVEYS["hl3"]["title"]["vi"]


def test_the_dashboard_overall_is_the_sum_of_the_surveys(town):
    stats = town_stats(town)
    dash = stats.dashboard(Filter(Q4), "month", comments=0)
    assert (dash.overall.total, dash.overall.valid, dash.overall.satisfied, dash.overall.rate) == (9, 7, 4, 57.1)
    parts = sr.survey_breakdown(town, Filter(Q4))
    assert sum(f.valid for f in parts) == dash.overall.valid
    assert sum(f.satisfied for f in parts) == dash.overall.satisfied


def test_survey_filter_narrows_the_dashboard(town):
    stats = town_stats(town)
    dash = stats.dashboard(Filter(Q4, survey="mttq-q4"), "month", comments=0)
    assert (dash.overall.total, dash.overall.valid, dash.overall.satisfied, dash.overall.rate) == (5, 4, 2, 50.0)
    assert {f.key: f.valid for f in dash.by["desk"]} == {"quay-2": 4}
    only = sr.survey_breakdown(town, Filter(Q4, survey="hl3"))
    assert [(f.survey_id, f.valid) for f in only] == [("hl3", 3)]


def test_questions_count_per_level_answered_skipped_and_rate(town):
    qs = sr.question_results(town, Filter(Q4), CAMPAIGN)
    assert [q.code for q in qs] == ["level", "dung_hen", "so_lan", "thai_do"]
    head, dung_hen, so_lan, thai_do = qs
    assert head.levels == {5: 1, 4: 1, 3: 1, 2: 1, 1: 0} and list(head.levels) == [5, 4, 3, 2, 1]
    assert (head.answered, head.skipped, head.satisfied, head.rate) == (4, 0, 2, 50.0)
    assert head.label(3) == "Bình thường" and head.label(3, "en") == "Neutral"
    assert dung_hen.levels == {2: 2, 1: 1}
    assert (dung_hen.answered, dung_hen.skipped, dung_hen.rate) == (3, 1, 66.7)
    assert dung_hen.text_vi == "Hồ sơ có được trả đúng hẹn không?" and dung_hen.label(2) == "Có"
    assert so_lan.levels == {3: 1, 2: 0, 1: 1}
    assert (so_lan.answered, so_lan.skipped, so_lan.rate) == (2, 2, 50.0)
    assert thai_do.levels == {5: 1, 4: 1, 3: 1, 2: 0, 1: 0}
    assert (thai_do.answered, thai_do.skipped, thai_do.rate) == (3, 1, 66.7)


def test_questions_of_a_survey_nobody_answered_are_zero(town):
    qs = sr.question_results(town, Filter(periods.month(2026, 1)), CAMPAIGN)
    assert [(q.answered, q.skipped, q.rate) for q in qs] == [(0, 0, None)] * 4
    head = sr.question_results(town, Filter(Q4), BUILTIN_SURVEYS["hl3"])
    assert len(head) == 1 and head[0].levels == {3: 1, 2: 1, 1: 1} and head[0].rate == 66.7


def test_on_time_beside_satisfaction_per_officer_and_procedure(town):
    officers = {f.key: f for f in sr.timeliness(town, Filter(Q4), "officer")}
    a, b = officers["cb-001"], officers["cb-004"]
    assert (a.name, a.on_time, a.late, a.on_time_rate, a.valid, a.rate) == ("Nguyễn Thị Hồng Nhung", 1, 1, 50.0, 3, 66.7)
    assert (b.on_time, b.late, b.on_time_rate, b.valid, b.rate) == (2, 1, 66.7, 4, 50.0)
    procs = {f.key: f for f in sr.timeliness(town, Filter(Q4), "procedure")}
    # P1: rows 1 (on time), 2 (late), 5 (on time); P2: 3, 6 (late), 7 (on time); none: 8
    assert (procs["P1"].on_time, procs["P1"].late, procs["P1"].on_time_rate) == (2, 1, 66.7)
    assert (procs["P2"].on_time, procs["P2"].late, procs["P2"].on_time_rate) == (1, 1, 50.0)
    assert (procs[None].on_time_rate, procs[None].valid) == (None, 1)
    # the lowest on-time rate first, the undated last
    assert [f.key for f in sr.timeliness(town, Filter(Q4), "procedure")] == ["P2", "P1", None]


def test_campaign_coverage(town):
    cov = sr.campaign_coverage(town, Filter(Q4, survey="mttq-q4"))
    assert cov == {"desks": ["quay-2"], "kiosks": ["k2"], "ratings": 5, "valid": 4,
                   "first_at": "2026-10-05T08:00:00+07:00", "last_at": "2026-12-06T08:00:03+07:00"}
    everything = sr.campaign_coverage(town, Filter(Q4))
    assert everything["desks"] == ["quay-1", "quay-2"] and everything["ratings"] == 9


@pytest.mark.parametrize("period", [Q4, periods.month(2026, 12), periods.custom(Q4.first_day, periods.month(2026, 11).last_day),
                                    periods.year(2026)])
@pytest.mark.parametrize("survey", [None, "hl3", "mttq-q4"])
def test_the_roll_up_gives_what_the_ratings_give(town, period, survey):
    flt = Filter(period, survey=survey)
    assert sr.survey_breakdown(town, flt) == sr.survey_breakdown_raw(town, flt)
    for dim in ("officer", "procedure", "desk"):
        assert sr.timeliness(town, flt, dim) == sr.timeliness_raw(town, flt, dim)
    for doc in (CAMPAIGN, BUILTIN_SURVEYS["hl3"]):
        assert sr.question_results(town, flt, doc) == sr.question_results_raw(town, flt, doc)
    assert sr.campaign_coverage(town, flt) == sr.campaign_coverage_raw(town, flt)


def _csv(town, flt):
    import csv
    import io

    from sync.server.reports import exports
    buf = io.BytesIO()
    exports.export(town, flt, "csv", buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue().decode("utf-8-sig"))))
    return [dict(zip(rows[0], r)) for r in rows[1:]], rows[0]


def test_export_says_the_survey_on_time_and_the_answers_in_words(town):
    rows, head = _csv(town, Filter(Q4))
    assert len(rows) == 9 and head.index("Đúng hẹn") > head.index("Cờ")    # outside the printed page
    first = rows[0]                                                        # 2 Oct, hl3, on time
    assert (first["Phiếu khảo sát"], first["Mã phiếu khảo sát"]) == (BUILTIN_SURVEYS["hl3"]["title"]["vi"], "hl3")
    assert (first["Đúng hẹn"], first["Câu hỏi khác"], first["Cờ"]) == ("Đúng hẹn", "", "")
    camp = next(r for r in rows if r["Thời gian"] == "2026-10-05 08:00:00")
    assert camp["Phiếu khảo sát"] == "Khảo sát của Ủy ban MTTQ xã Đồng Tâm"
    assert camp["Câu hỏi khác"] == ("Hồ sơ có được trả đúng hẹn không: Có; Ông/bà đã phải đi lại mấy lần: 1 lần; "
                                    "Thái độ của cán bộ: Rất tốt")
    assert camp["Mức độ (chữ)"] == "Rất hài lòng"
    late = next(r for r in rows if r["Thời gian"] == "2026-11-03 10:00:04")
    assert (late["Đúng hẹn"], late["Cờ"], late["Tính vào tỷ lệ"]) == ("Trễ hẹn", "Lặp nhanh (nghi lạm dụng)", "Không")
    skipped = next(r for r in rows if r["Thời gian"] == "2026-12-05 08:00:00")
    assert "Ông/bà đã phải đi lại mấy lần: Không trả lời" in skipped["Câu hỏi khác"]


def test_export_of_one_survey_gives_each_question_its_column(town):
    rows, head = _csv(town, Filter(Q4, survey="mttq-q4"))
    assert "Câu hỏi khác" not in head
    qs = ["Hồ sơ có được trả đúng hẹn không", "Ông/bà đã phải đi lại mấy lần", "Thái độ của cán bộ"]
    assert head[head.index("Đúng hẹn") + 1:head.index("Đúng hẹn") + 4] == qs
    assert len(rows) == 5 and {r["Mã phiếu khảo sát"] for r in rows} == {"mttq-q4"}
    assert [r[qs[1]] for r in rows] == ["1 lần", "3 lần trở lên", "Không trả lời", "Không trả lời", "1 lần"]
    assert [r["Mức độ (chữ)"] for r in rows] == ["Rất hài lòng", "Bình thường", "Hài lòng", "Không hài lòng",
                                                "Rất hài lòng"]


def test_a_comment_says_its_level_in_its_own_surveys_words(town_db, tmp_path):
    rows = [("2026-10-02T08:00:00+07:00", "k1", "quay-1", "cb-001", "P1", "hl3", 3, {}, []),
            ("2026-10-05T08:00:00+07:00", "k2", "quay-2", "cb-004", "P1", "mttq-q4", 3, {}, [])]
    engine = make_mixed_town(town_db, rows)
    with engine.begin() as conn:
        conn.execute(db.ratings.update().values(comment="Ý kiến"))
    words = {c["survey"]: c["level_words"] for c in town_stats(engine).comments(Filter(Q4))}
    # level 3 is "Rất hài lòng" on hl3 but "Bình thường" on the 5-level campaign
    assert words == {"hl3": ("Rất hài lòng", "Very satisfied"), "mttq-q4": ("Bình thường", "Neutral")}


def test_the_comment_count_from_the_roll_up_is_the_ratings_count(town_db, tmp_path):
    engine = make_mixed_town(town_db)
    with engine.begin() as conn:      # rows 2, 4 (misuse: shown, so counted), 6 and 10 (next quarter) say something
        for seq, text in ((2, "Chờ lâu"), (4, "Lặp"), (6, "Tốt"), (10, "Năm mới"), (7, "")):
            conn.execute(db.ratings.update().where(db.ratings.c.seq == seq).values(comment=text))
    rollup.rebuild(engine, [])
    stats = town_stats(engine)
    for flt, n in ((Filter(Q4), 3), (Filter(Q4, survey="hl3"), 2), (Filter(Q4, survey="mttq-q4"), 1),
                   (Filter(periods.custom(Q4.first_day, periods.month(2026, 10).last_day)), 1),
                   (Filter(periods.year(2027)), 1), (Filter(Q4, officer="cb-004"), 1)):
        assert stats.comment_count(flt) == stats.comment_count(flt, exact=True) == n, flt


def test_excel_of_one_survey_has_the_question_columns_after_the_printed_ones(town):
    import io

    from openpyxl import load_workbook

    from sync import columns
    from sync.server.reports import exports
    buf = io.BytesIO()
    assert exports.export(town, Filter(Q4, survey="mttq-q4"), "xlsx", buf) == 5
    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    head = [c.value for c in ws[1]]
    i = head.index("Thái độ của cán bộ")
    assert head[i - 2:i + 1] == ["Hồ sơ có được trả đúng hẹn không", "Ông/bà đã phải đi lại mấy lần", "Thái độ của cán bộ"]
    assert i > head.index("Cờ") and ws.print_area is not None
    assert [ws.cell(row=r, column=i + 1).value for r in range(2, 7)] == ["Rất tốt", "Bình thường", "Tốt",
                                                                         "Không trả lời", "Rất tốt"]
    assert len(head) == len(columns.KEYS) + 2          # "Câu hỏi khác" gave way to three columns
