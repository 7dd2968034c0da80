"""The cases of the scoring tests, and what reports/case_figures.py counts of them.

``add_cases`` writes the rows the cases code writes (migration 0006, as the shared
schema defines them) into a town holding the hand-checked ratings of tests/town.py:

1. nhũng nhiễu, cb-001: due 10/11, resolved 08/11 (on time); nhắc nhở + kiểm điểm; apology letter sent
2. low rate, cb-001: due 14/11, resolved 20/11 (late); chấn chỉnh
3. nhũng nhiễu, cb-002: due 20/11, still open (overdue, unresolved nhũng nhiễu), no apology
4. tampering, kiosk k1 (no officer): due 12/10, closed 10/10 without being marked resolved (on time)

and a thank-you letter for cb-004 with no case, not yet sent. Every case is in 2026 and dealt
with or overdue by now, so the year's figures are the same whatever day the tests run.
"""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import insert
from town import make_town

from sync.server.core import db, rollup
from sync.server.reports import case_figures, periods

REASONS = ["thai_do", "huong_dan", "dung_hen", "so_lan_di_lai", "nhung_nhieu"]

CASES = [
    {"id": 1, "kind": "nhung_nhieu", "officer_id": "cb-001", "unit_code": "13321", "month": "2026-11",
         "title": "Nhũng nhiễu: cb-001 (2026-11)", "status": "closed", "owner": "an", "opened_at": "2026-11-02T08:00:00.000+00:00",
         "due_date": "2026-11-10", "found_cause": "Đòi tiền", "outcome": "Đã kiểm điểm", "resolved_at": "2026-11-08T03:00:00.000+00:00",
         "closed_at": "2026-11-09T03:00:00.000+00:00", "closed_by": "an", "open_key": None},
    {"id": 2, "kind": "low_rate", "officer_id": "cb-001", "unit_code": "13321", "month": "2026-10",
         "title": "Tỷ lệ thấp: cb-001 (2026-10)", "status": "resolved", "owner": "an", "opened_at": "2026-11-01T01:00:00.000+00:00",
         "due_date": "2026-11-14", "resolved_at": "2026-11-20T02:00:00.000+00:00", "open_key": "low_rate|cb-001|2026-10"},
    {"id": 3, "kind": "nhung_nhieu", "officer_id": "cb-002", "unit_code": "13321", "month": "2026-11",
         "title": "Nhũng nhiễu: cb-002 (2026-11)", "status": "open", "owner": "an", "opened_at": "2026-11-12T02:00:00.000+00:00",
         "due_date": "2026-11-20", "open_key": "nhung_nhieu|cb-002|2026-11"},
    {"id": 4, "kind": "tampering", "kiosk_id": "k1", "unit_code": "13321", "month": "2026-10",
         "title": "Chuỗi đứt: k1 (2026-10)", "status": "closed", "owner": "an", "opened_at": "2026-10-05T01:00:00.000+00:00",
         "due_date": "2026-10-12", "closed_at": "2026-10-10T01:00:00.000+00:00", "closed_by": "an", "outcome": "Đã kiểm tra"},
]
EVENTS = [
    (1, "2026-11-02T08:00:00.000+00:00", None, "opened", None),
    (1, "2026-11-05T02:00:00.000+00:00", "an", "action", "nhac_nho"),
    (1, "2026-11-06T02:00:00.000+00:00", "an", "action", "kiem_diem"),
    (1, "2026-11-09T03:00:00.000+00:00", "an", "closed", None),
    (2, "2026-11-19T02:00:00.000+00:00", "an", "action", "chan_chinh"),
    (3, "2026-11-12T02:00:00.000+00:00", None, "opened", None),
    (4, "2026-10-09T02:00:00.000+00:00", "an", "note", None),
]
LETTERS = [
    {"kind": "xin_loi", "case_id": 1, "officer_id": "cb-001", "unit_code": "13321", "dossier_code": "H006",
         "procedure_code": None, "issued_at": "2026-11-07T02:00:00.000+00:00", "issued_by": "an",
         "sent_at": "2026-11-07T04:00:00.000+00:00", "sha256": "a" * 64},
    {"kind": "cam_on", "case_id": None, "officer_id": "cb-004", "unit_code": "13321", "dossier_code": "H008",
         "procedure_code": "P2", "issued_at": "2026-12-01T02:00:00.000+00:00", "issued_by": "an", "sent_at": None,
         "sha256": "b" * 64},
]


def add_cases(engine) -> None:
    with engine.begin() as conn:
        for row in CASES:
            conn.execute(insert(db.cases).values(params=json.dumps({}), **row))
        for case_id, at, by, kind, action in EVENTS:
            conn.execute(insert(db.case_events).values(case_id=case_id, at=at, by=by, kind=kind, action=action,
                                                       text=None, params="{}"))
        conn.execute(insert(db.letters_issued), LETTERS)


def scored_town(path):
    """A town.db with the hand-checked ratings rolled up and the cases above."""
    engine = make_town(path)
    rollup.fold(engine, REASONS)
    add_cases(engine)
    return engine


def test_a_years_case_figures(town_db, tmp_path):
    engine = scored_town(town_db)
    with engine.connect() as conn:
        got = case_figures.figures(conn, periods.year(2026), date(2027, 1, 5))
    c = got.overall
    assert (c.opened, c.finished, c.on_time, c.late, c.overdue, c.due) == (4, 3, 2, 1, 1, 4)
    assert c.on_time_share == 50.0 and c.unresolved_nn == [3]
    assert c.actions == {"nhac_nho": 1, "kiem_diem": 1, "chan_chinh": 1} and c.action_total == 3
    assert c.letters == {"xin_loi": 1, "cam_on": 1} and c.letters_sent == {"xin_loi": 1}
    assert (c.apology_worthy, c.apologised, c.apology_share) == (2, 1, 50.0)
    one, two, four = got.officer("cb-001"), got.officer("cb-002"), got.officer("cb-004")
    assert (one.due, one.on_time, one.late, one.apologised, one.unresolved_nn) == (2, 1, 1, 1, [])
    assert (two.due, two.overdue, two.apology_worthy, two.apologised, two.unresolved_nn) == (1, 1, 1, 0, [3])
    assert (four.due, four.letters) == (0, {"cam_on": 1})
    assert got.unit("13321").opened == 4


def test_a_running_period_is_cut_on_its_day(town_db, tmp_path):
    """On 09/11 cases 1 and 4 are dealt with, case 2 is not yet due, case 3 not yet opened."""
    engine = scored_town(town_db)
    with engine.connect() as conn:
        c = case_figures.figures(conn, periods.quarter(2026, 4), date(2026, 11, 9)).overall
        assert (c.opened, c.finished, c.on_time, c.overdue, c.unresolved_nn) == (3, 2, 2, 0, [])
        assert c.actions == {"nhac_nho": 1, "kiem_diem": 1}
        # on 15/11, case 2 is past its day (14/11) and not dealt with: overdue
        c = case_figures.figures(conn, periods.quarter(2026, 4), date(2026, 11, 15)).overall
        assert (c.finished, c.overdue) == (2, 1)
        # October alone: only the tampering case, dealt with on time
        c = case_figures.figures(conn, periods.month(2026, 10), date(2027, 1, 5)).overall
        assert (c.opened, c.finished, c.on_time, c.overdue, c.action_total, c.letter_total) == (1, 1, 1, 0, 0, 0)


def test_one_officer_only(town_db, tmp_path):
    engine = scored_town(town_db)
    with engine.connect() as conn:
        c = case_figures.figures(conn, periods.year(2026), date(2027, 1, 5), officer="cb-002").overall
    assert (c.opened, c.overdue, c.unresolved_nn, c.action_total, c.letter_total) == (1, 1, [3], 0, 0)
