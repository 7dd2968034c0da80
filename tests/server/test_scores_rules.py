"""The emulation score's rules: bands, classification edges, the nhũng nhiễu cap, too few ratings,
criteria refused with their field named, and a year of a real town with known ratings and cases."""
from __future__ import annotations

from datetime import date

import pytest
from test_scores_town import scored_town

from sync.server.core import db
from sync.server.reports import periods, scoring
from sync.server.reports.case_figures import CaseFigures
from sync.server.reports.stats import Figures, Stats


def _score(rate_sat, valid, cases=None, **criteria):
    doc = scoring.check_criteria({"min_ratings": 10, **criteria})
    s = scoring.Score("officer", "x", "X", "u", Figures(valid=valid, total=valid, satisfied=rate_sat),
                      cases or CaseFigures())
    return scoring.score_one(doc, s)


@pytest.mark.parametrize("satisfied,points", [(1000, 40), (950, 40), (949, 35), (900, 35), (899, 25),
                                              (800, 25), (700, 15), (699, 0), (0, 0)])
def test_the_rate_bands_include_their_lower_edge(satisfied, points):
    s = _score(satisfied, 1000)
    assert s.points("rate") == points
    rate = scoring.fmt_rate(satisfied / 10)
    assert s.criteria[0].why.startswith(f"Tỷ lệ hài lòng {rate}% ({satisfied}/1000 lượt hợp lệ)")


@pytest.mark.parametrize("total,klass", [(100, "xuat_sac"), (90, "xuat_sac"), (89, "tot"), (75, "tot"),
                                         (74, "kha"), (60, "kha"), (59, "trung_binh"), (45, "trung_binh"),
                                         (44, "yeu"), (0, "yeu")])
def test_classification_edges(total, klass):
    # a perfect officer but for the rate: 60 points from the rest, the rate band gives the remainder
    s = _score(10, 10, rate_bands=[[100, total - 60 if total >= 60 else 0]],
               on_time_none=min(60, total), nn_points=0, apology_none=0)
    assert (s.total, s.klass) == (total, klass)


def test_an_unresolved_nhung_nhieu_case_caps_the_classification():
    cases = CaseFigures(opened=1, overdue=1, unresolved_nn=[7], apology_worthy=1, apologised=1)
    s = _score(10, 10, cases, on_time_bands=[[0, 30]])
    assert s.points("nhung_nhieu") == 0 and "#7" in s.criteria[2].why
    assert s.total == 85 and s.klass == "trung_binh" and s.capped
    assert "không quá «Trung bình»" in s.note
    uncapped = _score(10, 10, cases, on_time_bands=[[0, 30]], nn_cap="")
    assert uncapped.klass == "tot" and not uncapped.capped


def test_too_few_ratings_are_not_scored():
    s = _score(9, 9)
    assert s.total is None and s.klass is None and s.criteria == []
    assert s.note == "9 lượt đánh giá hợp lệ, cần ít nhất 10: chưa đủ số liệu"


def test_no_case_at_all_gives_the_points_set_for_it():
    s = _score(10, 10)
    assert [c.points for c in s.criteria] == [40, 30, 15, 15] and s.klass == "xuat_sac"
    assert s.criteria[1].why == "Không có vụ việc phải xử lý trong kỳ: 30 điểm"


@pytest.mark.parametrize("form,field,words", [
    ({"rate_bands": "90:35; 95:40"}, "rate_bands", "giảm dần"),
    ({"rate_bands": "95:40; 90:45"}, "rate_bands", "không được nhiều điểm hơn"),
    ({"rate_bands": "120:40"}, "rate_bands", "từ 0 đến 100"),
    ({"rate_bands": "95=40"}, "rate_bands", "mức:điểm"),
    ({"on_time_bands": ""}, "on_time_bands", "để trống"),
    ({"min_ratings": "abc"}, "min_ratings", "không phải một số"),
    ({"min_ratings": "2,5"}, "min_ratings", "số nguyên"),
    ({"nn_points": "5000"}, "nn_points", "từ 0 đến 1000"),
    ({"nn_cap": "gioi"}, "nn_cap", "xếp loại"),
    ({"class_tot": "95"}, "class_tot", "thấp hơn"),
    ({"apology_bands": "x" * 400}, "apology_bands", "quá dài"),
])
def test_bad_criteria_are_refused_naming_the_field(form, field, words):
    typed = {**scoring.form_values(scoring.DEFAULT_CRITERIA), **form}
    with pytest.raises(scoring.CriteriaError) as exc:
        scoring.criteria_from_form(typed)
    assert exc.value.field == field
    assert words in exc.value.message.format(**exc.value.kw)


def test_the_form_reads_back_what_it_shows():
    typed = scoring.form_values(scoring.DEFAULT_CRITERIA)
    assert typed["rate_bands"] == "95:40; 90:35; 80:25; 70:15"
    assert scoring.criteria_from_form(typed) == scoring.check_criteria({})
    custom = scoring.criteria_from_form({**typed, "rate_bands": "92,5:50; 80:20", "min_ratings": "2"})
    assert custom["rate_bands"] == [[92.5, 50], [80, 20]] and custom["min_ratings"] == 2


def test_a_stored_criteria_that_cannot_be_used_falls_back_on_the_defaults(town_db, tmp_path):
    from sync.server.core.settings import set_setting
    engine = scored_town(town_db)
    with engine.begin() as conn:
        set_setting(conn, scoring.SETTING, {"rate_bands": "nonsense"})
        assert scoring.criteria(conn) == scoring.check_criteria({})
        scoring.save_criteria(conn, {"min_ratings": 2})
        assert scoring.criteria(conn)["min_ratings"] == 2


def test_a_year_of_the_hand_checked_town(town_db, tmp_path):
    engine = scored_town(town_db)
    stats = Stats(engine, db.ratings, "corrected_at", rollup=True)
    with engine.connect() as conn:
        result = scoring.sheet(stats, conn, periods.year(2026), date(2027, 1, 5),
                               doc=scoring.check_criteria({"min_ratings": 2}))
    officers = {s.key: s for s in result.officers}
    four, one, two = officers["cb-004"], officers["cb-001"], officers["cb-002"]
    assert [s.key for s in result.officers] == ["cb-004", "cb-001", "cb-002"]     # best first
    assert (four.ratings.rate, [c.points for c in four.criteria], four.total, four.klass) == (
        100.0, [40, 30, 15, 15], 100, "xuat_sac")
    assert (one.ratings.rate, [c.points for c in one.criteria], one.total, one.klass) == (
        50.0, [0, 0, 15, 15], 30, "yeu")
    assert one.criteria[1].why == ("1/2 vụ việc xử lý đúng hạn (50,0%; 1 trễ hạn, 0 quá hạn chưa xử lý), "
                                   "dưới mọi mức: 0 điểm")
    assert one.criteria[3].why == "1/1 vụ việc cần xin lỗi đã có thư xin lỗi (100,0%), đạt mức ≥ 100%: 15 điểm"
    assert (two.ratings.rate, [c.points for c in two.criteria], two.klass) == (66.7, [0, 0, 0, 0], "yeu")
    assert "Còn 1 vụ việc nhũng nhiễu chưa xử lý xong cuối kỳ (#3)" in two.criteria[2].why
    (unit,) = result.units
    assert (unit.key, unit.ratings.valid, unit.ratings.rate) == ("13321", 9, 66.7)
    assert [c.points for c in unit.criteria] == [0, 0, 0, 5] and unit.total == 5
    assert result.most == 100
    # the defaults want 30 ratings: nobody in this small town is scored
    with engine.connect() as conn:
        default = scoring.sheet(stats, conn, periods.year(2026), date(2027, 1, 5))
    assert all(s.klass is None and scoring.NOT_ENOUGH in s.note for s in default.officers + default.units)


def test_the_excel_table_holds_the_figures(town_db, tmp_path):
    import openpyxl
    engine = scored_town(town_db)
    stats = Stats(engine, db.ratings, "corrected_at", rollup=True)
    with engine.connect() as conn:
        result = scoring.sheet(stats, conn, periods.year(2026), date(2027, 1, 5),
                               doc=scoring.check_criteria({"min_ratings": 2}))
    out = tmp_path / "scores.xlsx"
    with out.open("wb") as fh:
        scoring.write_xlsx(result, fh)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Đơn vị", "Cán bộ", "Tiêu chí"]
    rows = list(book["Cán bộ"].iter_rows(values_only=True))
    assert rows[0][:3] == ("TT", "Mã", "Tên") and rows[0][-3:] == ("Tổng điểm", "Xếp loại", "Căn cứ")
    assert rows[1][:6] == (1, "cb-004", "Phạm Quốc Hưng", "UBND xã Đồng Tâm", 2, 100)
    assert rows[1][9:15] == (40, 30, 15, 15, 100, "Xuất sắc")
    assert rows[3][1] == "cb-002" and rows[3][-2] == "Yếu" and "#3" in rows[3][-1]
    assert book["Cán bộ"].freeze_panes == "A2"


def test_a_custom_period_reads_the_days(town_db, tmp_path):
    """Days, not whole months: 01/10–15/10 holds cb-001's ratings 1, 2, 3 (4 is misuse) and cb-002's 12."""
    engine = scored_town(town_db)
    stats = Stats(engine, db.ratings, "corrected_at", rollup=True)
    with engine.connect() as conn:
        result = scoring.sheet(stats, conn, periods.parse("2026-10-01..2026-10-15"), date(2027, 1, 5),
                               doc=scoring.check_criteria({"min_ratings": 1}))
    officers = {s.key: s for s in result.officers}
    assert (officers["cb-001"].ratings.valid, officers["cb-001"].ratings.misuse,
            officers["cb-001"].ratings.satisfied) == (3, 1, 2)
    assert (officers["cb-002"].ratings.valid, officers["cb-002"].ratings.rate) == (1, 100.0)
    assert officers["cb-004"].klass is None                    # no rating in those days
    # the case of that fortnight: the tampering one, dealt with on time
    (unit,) = result.units
    assert (unit.cases.opened, unit.cases.on_time, unit.cases.due) == (1, 1, 1)
