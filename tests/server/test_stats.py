"""Satisfaction statistics on a real town.db (SQLite), against figures computed by hand.

The fixture is 12 ratings; the expected numbers in the asserts were worked
out on paper from the table in ``RATINGS`` (tests/town.py; not by the code under test).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from sqlalchemy import insert
from town import make_town

from sync.server.core import db
from sync.server.reports import periods
from sync.server.reports.stats import Filter, Stats, satisfied_levels


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    engine = make_town(tmp_path_factory.mktemp("town") / "town.db")
    return Stats(engine, db.ratings, "corrected_at", scale=3)


Q4 = Filter(periods.quarter(2026, 4))


def test_periods_are_half_open_local_ranges():
    q = periods.quarter(2026, 4)
    assert q.start.isoformat() == "2026-10-01T00:00:00+07:00"
    assert q.end.isoformat() == "2027-01-01T00:00:00+07:00"
    assert q.label() == "Quý IV năm 2026"
    h = periods.half(2026, 1)
    assert (h.first_day, h.end_day) == (date(2026, 1, 1), date(2026, 7, 1))
    assert h.label() == "6 tháng đầu năm 2026"
    assert periods.month(2026, 12).end_day == date(2027, 1, 1)
    assert periods.year(2026).days == 365
    c = periods.custom(date(2026, 11, 1), date(2026, 11, 28))
    assert (c.end_day, c.days) == (date(2026, 11, 29), 28)
    assert c.label() == "Từ ngày 01/11/2026 đến ngày 28/11/2026"
    assert periods.parse("2026-q4") == q
    assert periods.parse("2026-11-01..2026-11-28") == c
    assert periods.parse("2026-H2").label() == "6 tháng cuối năm 2026"
    assert periods.parse("2026-02").label() == "Tháng 02/2026"
    assert periods.containing("quarter", date(2026, 11, 28)) == q


@pytest.mark.parametrize("bad", ["", "2026-13", "2026-Q5", "2026-H3", "2026-11-30..2026-11-01",
                                 "2026-02-30..2026-03-01", "quý 4"])
def test_bad_period_says_why(bad):
    with pytest.raises(periods.PeriodError) as err:
        periods.parse(bad)
    assert str(err.value)


def test_overall_rate_excludes_misuse_but_shows_it(stats):
    f = stats.overall(Q4)
    assert (f.total, f.misuse, f.valid, f.satisfied) == (10, 2, 8, 6)
    assert f.rate == 75.0
    assert f.levels == {3: 3, 2: 3, 1: 2}


def test_by_officer_desk_procedure(stats):
    officers = {f.key: (f.total, f.misuse, f.valid, f.satisfied, f.rate) for f in stats.by("officer", Q4)}
    assert officers == {
        "cb-001": (4, 1, 3, 2, 66.7),
        "cb-002": (3, 0, 3, 2, 66.7),
        "cb-004": (3, 1, 2, 2, 100.0),
    }
    assert [f.key for f in stats.by("officer", Q4)][0] == "cb-004"   # best rate first
    desks = {f.key: (f.valid, f.satisfied, f.rate) for f in stats.by("desk", Q4)}
    assert desks == {"quay-1": (6, 4, 66.7), "quay-2": (2, 2, 100.0)}
    procs = {f.key: (f.total, f.valid, f.satisfied, f.rate) for f in stats.by("procedure", Q4)}
    assert procs == {"P1": (5, 4, 4, 100.0), "P2": (4, 3, 2, 66.7), None: (1, 1, 0, 0.0)}
    units = stats.by("unit", Q4)
    assert [(u.key, u.valid, u.rate) for u in units] == [("13321", 8, 75.0)]


def test_reasons_count_valid_ratings_only(stats):
    assert stats.reason_counts(Q4) == {
        "thai_do": 1, "huong_dan": 1, "dung_hen": 0, "so_lan_di_lai": 1, "nhung_nhieu": 1}


def test_trend_buckets_use_vietnam_local_time(stats):
    months = [(f.key, f.total, f.valid, f.satisfied, f.rate) for f in stats.trend(Q4, "month")]
    assert months == [("2026-10", 5, 4, 3, 75.0), ("2026-11", 3, 3, 2, 66.7), ("2026-12", 2, 1, 1, 100.0)]
    days = [(f.key, f.valid, f.rate) for f in stats.trend(Q4, "day")]
    assert days == [("2026-10-01", 3, 100.0), ("2026-10-15", 1, 0.0), ("2026-11-02", 2, 50.0),
                    ("2026-11-20", 1, 100.0), ("2026-12-01", 0, None), ("2026-12-31", 1, 100.0)]
    weeks = [(f.key, f.total) for f in stats.trend(Q4, "week")]   # key = the week's Monday
    assert weeks == [("2026-09-28", 3), ("2026-10-12", 2), ("2026-11-02", 2), ("2026-11-16", 1),
                     ("2026-11-30", 1), ("2026-12-28", 1)]


def test_filters_narrow_the_figures(stats):
    nov_cb2 = stats.overall(Filter(periods.month(2026, 11), officer="cb-002"))
    assert (nov_cb2.valid, nov_cb2.satisfied, nov_cb2.rate) == (2, 1, 50.0)
    day1 = stats.overall(Filter(periods.custom(date(2026, 10, 1), date(2026, 10, 1))))
    assert (day1.total, day1.rate) == (3, 100.0)
    q1 = stats.overall(Filter(periods.quarter(2027, 1)))
    assert (q1.total, q1.rate) == (1, 0.0)
    empty = stats.overall(Filter(periods.year(2025)))
    assert (empty.total, empty.rate) == (0, None)
    desk2 = stats.overall(Filter(periods.year(2026), desk="quay-2", procedure="P2"))
    assert (desk2.valid, desk2.satisfied) == (2, 2)


def test_latest_comments_newest_first(stats):
    comments = stats.latest_comments(Q4)
    assert [c["comment"] for c in comments] == ["Đòi tiền", "Phải đi lại ba lần", "Rất nhanh"]
    assert stats.latest_comments(Q4, limit=1)[0]["officer_id"] == "cb-002"


def test_scales():
    assert satisfied_levels(3) == [3, 2]
    assert satisfied_levels(5) == [5, 4]
    with pytest.raises(ValueError):
        Stats(None, db.ratings, "corrected_at", scale=7)


def test_one_pass_dashboard_gives_the_same_hand_figures(stats):
    dash = stats.dashboard(Q4, "month")
    o = dash.overall
    assert (o.total, o.misuse, o.valid, o.satisfied, o.rate) == (10, 2, 8, 6, 75.0)
    assert o.levels == {3: 3, 2: 3, 1: 2}
    assert {f.key: (f.valid, f.satisfied, f.rate) for f in dash.by["officer"]} == {
        "cb-001": (3, 2, 66.7), "cb-002": (3, 2, 66.7), "cb-004": (2, 2, 100.0)}
    assert {f.key: f.rate for f in dash.by["procedure"]} == {"P1": 100.0, "P2": 66.7, None: 0.0}
    assert {f.key: f.rate for f in dash.by["desk"]} == {"quay-1": 66.7, "quay-2": 100.0}
    assert [(f.key, f.rate) for f in dash.trend] == [("2026-10", 75.0), ("2026-11", 66.7), ("2026-12", 100.0)]
    assert dash.reasons == {"thai_do": 1, "huong_dan": 1, "dung_hen": 0, "so_lan_di_lai": 1, "nhung_nhieu": 1}
    assert [c["comment"] for c in dash.comments] == ["Đòi tiền", "Phải đi lại ba lần", "Rất nhanh"]
    assert [c["misuse"] for c in dash.comments] == [False, False, False]
    empty = stats.dashboard(Filter(periods.year(2024)), "day")
    assert (empty.overall.total, empty.overall.rate, empty.trend, empty.by["officer"]) == (0, None, [], [])


def test_rollup_gives_the_same_hand_figures_and_folds_new_ratings(town_db, tmp_path, monkeypatch):
    from sync.server.core import rollup
    monkeypatch.setattr(rollup, "CHUNK", 5)       # 12 ratings: folded in three chunks
    engine = make_town(town_db)
    fast = Stats(engine, db.ratings, "corrected_at", rollup=True)
    assert fast.dashboard(Q4, "month").overall.total == 0     # a read never folds (nor writes)
    assert rollup.fold(engine, list(fast.reasons)) == 12
    for step, trend in [("month", [("2026-10", 75.0), ("2026-11", 66.7), ("2026-12", 100.0)]),
                        ("week", [("2026-09-28", 100.0), ("2026-10-12", 0.0), ("2026-11-02", 50.0),
                                  ("2026-11-16", 100.0), ("2026-11-30", None), ("2026-12-28", 100.0)])]:
        dash = fast.dashboard(Q4, step)
        o = dash.overall
        assert (o.total, o.misuse, o.valid, o.satisfied, o.rate) == (10, 2, 8, 6, 75.0)
        assert o.levels == {3: 3, 2: 3, 1: 2}
        assert [(f.key, f.rate) for f in dash.trend] == trend
    assert {f.key: (f.total, f.valid, f.satisfied, f.rate) for f in dash.by["procedure"]} == {
        "P1": (5, 4, 4, 100.0), "P2": (4, 3, 2, 66.7), None: (1, 1, 0, 0.0)}
    assert {f.key: f.rate for f in dash.by["officer"]} == {"cb-001": 66.7, "cb-002": 66.7, "cb-004": 100.0}
    assert dash.reasons == {"thai_do": 1, "huong_dan": 1, "dung_hen": 0, "so_lan_di_lai": 1, "nhung_nhieu": 1}
    days = fast.dashboard(Filter(periods.custom(date(2026, 10, 1), date(2026, 10, 15)), desk="quay-1"), "day")
    assert [(f.key, f.valid, f.rate) for f in days.trend] == [("2026-10-01", 3, 100.0), ("2026-10-15", 1, 0.0)]
    # a new rating is folded in by the next fold (ingest's), exactly once
    with engine.begin() as conn:
        conn.execute(insert(db.ratings).values(
            id=str(uuid.uuid4()), kiosk_id="k1", seq=99, created_at="2026-12-02T09:00:00+07:00",
            unit_code="13321", desk_id="quay-2", officer_id="cb-004", procedure_code=None, level=1,
            reasons='["nhung_nhieu"]', comment=None, source="walk_up", flags="[]", prev_hash="0" * 64,
            hash="1" * 64, sig="2" * 64, received_at="x", corrected_at="2026-12-02T09:00:00+07:00"))
    for _ in range(2):
        rollup.fold(engine, list(fast.reasons))
        dash = fast.dashboard(Q4, "month")
        assert (dash.overall.valid, dash.overall.satisfied) == (9, 6)
        assert dash.reasons["nhung_nhieu"] == 2


def test_alert_rules_raise_each_cause_once(town_db, tmp_path):
    from datetime import timezone

    from sqlalchemy import select

    from sync.server.core.settings import set_setting
    engine = make_town(town_db)
    now = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)            # 10:00 in Vietnam
    with engine.begin() as conn:
        set_setting(conn, "alert_rules", {"officer_rate_below": 80, "officer_min_ratings": 2,
                                          "kiosk_silent_hours": 24})
        for kid, seen, revoked in [("k-quiet", "2026-11-26T09:00:00.000+00:00", False),
                                   ("k-ok", "2026-11-28T02:30:00.000+00:00", False),
                                   ("k-gone", "2026-01-01T00:00:00.000+00:00", True)]:
            conn.execute(db.kiosks.insert().values(id=kid, unit_code="13321", token_hash=kid * 8,
                                                   key_hex="0" * 64, revoked=revoked, enrolled_at=seen,
                                                   last_seen=seen, acked_through=0))
    from contextlib import nullcontext

    from sync.server.core import tasks
    tasks.catch_up(engine, nullcontext(), now=now)    # what ingest does after storing a batch
    tasks.sweep(engine, nullcontext(), now=now)       # what the background task does
    with engine.connect() as conn:
        rows = conn.execute(select(db.alerts.c.kind, db.alerts.c.kiosk_id, db.alerts.c.message)
                            .order_by(db.alerts.c.id)).all()
    kinds = sorted((k, kid) for k, kid, _m in rows)
    assert kinds == [("low_rate", None), ("low_rate", None), ("nhung_nhieu", "k1"), ("silent", "k-quiet")]
    low = sorted(m for k, _kid, m in rows if k == "low_rate")
    # October: cb-001 2 of 3 = 66,7 %; November: cb-002 1 of 2 = 50,0 % (hand-counted)
    # (no raw key such as "[cb-001 2026-10]" in front: the month is said in words)
    assert low[0] == "Nguyễn Thị Hồng Nhung: tỷ lệ hài lòng 66,7% (2/3) dưới ngưỡng 80% trong tháng 10/2026"
    assert low[1] == "Trần Văn Đức: tỷ lệ hài lòng 50,0% (1/2) dưới ngưỡng 80% trong tháng 11/2026"
    harass = next(m for k, _kid, m in rows if k == "nhung_nhieu")
    assert harass == "Phản ánh nhũng nhiễu đối với Trần Văn Đức (quay-1) lúc 02/11/2026 15:00: “Đòi tiền”"
    silent = next(m for k, _kid, m in rows if k == "silent")
    assert silent == "Ki-ốt k-quiet gửi dữ liệu lần cuối lúc 26/11/2026 16:00, đã hơn 24 giờ không liên lạc"
    tasks.catch_up(engine, nullcontext(), now=now)
    tasks.sweep(engine, nullcontext(), now=now)
    with engine.connect() as conn:                                        # nothing raised twice
        again = conn.execute(select(db.alerts.c.kind, db.alerts.c.count).order_by(db.alerts.c.id)).all()
    assert len(again) == 4 and all(n == 1 for _k, n in again)
    # each alert says when its cause happened, not when it was noticed
    with engine.connect() as conn:
        happened = dict(conn.execute(select(db.alerts.c.kind, db.alerts.c.happened_at)
                                     .where(db.alerts.c.kind.in_(["nhung_nhieu", "silent"]))).all())
    assert happened["nhung_nhieu"].startswith("2026-11-02T15:00") and happened["silent"].startswith("2026-11-26T09:00")


# --- the trend chart's axes (issue 10) --------------------------------------------------------------

def _svg_texts(svg: str) -> list[str]:
    """The texts of a matplotlib SVG (drawn as paths, each after a comment holding its text)."""
    import re
    return re.findall(r"<!-- (.*?) -->", svg)


def test_an_empty_chart_has_a_zero_count_axis_and_says_there_is_nothing():
    from sync.server.reports import charts
    texts = _svg_texts(charts.trend_svg([], labels=("Tỷ lệ hài lòng (%)", "Số đánh giá hợp lệ", "Chưa có dữ liệu")))
    assert "Chưa có dữ liệu" in texts
    numbers = [t for t in texts if t.replace("−", "-").lstrip("-").replace(".", "", 1).isdigit()]
    assert not [t for t in numbers if "−" in t or "-" in t or "." in t], numbers     # no −0.045
    assert numbers.count("0") == 2 and set(numbers) <= {"0", "20", "40", "60", "80", "100"}


@pytest.mark.parametrize("counts,ticks", [([1], ["0", "1"]), ([1, 2, 3], ["0", "1", "2", "3"]), ([2], ["0", "1", "2"])])
def test_tiny_counts_get_whole_number_ticks_from_zero(counts, ticks):
    from sync.server.reports import charts
    from sync.server.reports.stats import Figures
    trend = [Figures(key=f"2026-10-{i + 1:02d}", total=n, valid=n, satisfied=n, levels={}) for i, n in enumerate(counts)]
    texts = _svg_texts(charts.trend_svg(trend))
    count_ticks = texts[:texts.index("Số đánh giá hợp lệ")]
    assert count_ticks == ticks


def test_the_charts_decimal_mark_is_the_pages():
    from sync.server.reports import charts
    from sync.server.reports.stats import Figures
    trend = [Figures(key="2026-10", total=3, valid=3, satisfied=2, levels={})]
    assert "66,7" in _svg_texts(charts.trend_svg(trend))
    assert "66.7" in _svg_texts(charts.trend_svg(trend, decimal="."))


def test_reasons_are_split_between_praise_and_complaint(town_db, tmp_path):
    """Every level may tick reasons on the kiosk: a reason named by a satisfied rating is praise.

    The hand fixture names huong_dan once with a satisfied level, the rest with "Không hài lòng"; a "Rất hài lòng"
    naming thai_do must show as praise, on the raw path and on the roll-up alike."""
    from sync.server.core import rollup
    engine = make_town(town_db)
    with engine.begin() as conn:
        conn.execute(insert(db.ratings).values(
            id=str(uuid.uuid4()), kiosk_id="k1", seq=99, created_at="2026-12-02T09:00:00+07:00",
            unit_code="13321", desk_id="quay-2", officer_id="cb-004", procedure_code=None, level=3,
            reasons='["thai_do"]', comment=None, source="walk_up", flags="[]", prev_hash="0" * 64,
            hash="1" * 64, sig="2" * 64, received_at="x", corrected_at="2026-12-02T09:00:00+07:00"))
    raw = Stats(engine, db.ratings, "corrected_at", scale=3)
    fast = Stats(engine, db.ratings, "corrected_at", rollup=True)
    rollup.fold(engine, list(fast.reasons))
    for stats in (raw, fast):
        dash = stats.dashboard(Q4, "month")
        assert dash.reasons["thai_do"] == 2
        assert dash.reasons_satisfied == {"thai_do": 1, "huong_dan": 1, "dung_hen": 0, "so_lan_di_lai": 0,
                                          "nhung_nhieu": 0}
        assert dash.reasons_split()[0] == ("thai_do", 2, 1, 1)       # code, all, praise, complaint
