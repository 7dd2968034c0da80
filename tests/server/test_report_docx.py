"""The Word report and letters: reopen with python-docx and check what an admin would."""
from __future__ import annotations

import io
from datetime import date

import docx
import pytest
from town import NAMES, make_town

from sync.server.core import db
from sync.server.reports import periods, report_docx
from sync.server.reports.stats import Filter, Stats


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    engine = make_town(tmp_path_factory.mktemp("town") / "town.db")
    names = {"officer": {o["id"]: o["name"] for o in NAMES["officers"]},
             "desk": {d["id"]: d["name"] for d in NAMES["desks"]},
             "procedure": {p["code"]: p["name"] for p in NAMES["procedures"]}}
    data = report_docx.gather(Stats(engine, db.ratings, "corrected_at"),
                              Filter(periods.quarter(2026, 4)), names)
    return docx.Document(io.BytesIO(report_docx.report(data, on=date(2026, 11, 28))))


def _texts(document):
    return [p.text for p in document.paragraphs]


def test_nd30_page_and_font(report):
    sec = report.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert 20 <= round(sec.top_margin.mm) <= 25 and 20 <= round(sec.bottom_margin.mm) <= 25
    assert 30 <= round(sec.left_margin.mm) <= 35 and 15 <= round(sec.right_margin.mm) <= 20
    assert report.styles["Normal"].font.name == "Times New Roman"
    runs = [r for p in report.paragraphs for r in p.runs if r.text.strip()]
    assert runs and all(r.font.name == "Times New Roman" for r in runs)
    assert all(12 <= r.font.size.pt <= 14 for r in runs)


def test_header_motto_number_date(report):
    header = report.tables[0]
    left = [p for p in header.cell(0, 0).paragraphs if p.text]
    right = [p for p in header.cell(0, 1).paragraphs if p.text]
    assert [p.text for p in left] == ["UBND TỈNH ĐỒNG THÁP", "UBND XÃ ĐỒNG TÂM"]
    assert left[1].runs[0].bold
    assert right[0].text == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" and right[0].runs[0].bold
    motto = right[1].runs[0]
    assert right[1].text == "Độc lập - Tự do - Hạnh phúc" and motto.bold and motto.underline
    assert header.cell(1, 0).text.startswith("Số:") and header.cell(1, 0).text.endswith("/BC-UBND")
    place = header.cell(1, 1).paragraphs[0]
    assert place.text == "Đồng Tâm, ngày 28 tháng 11 năm 2026" and place.runs[0].italic


def test_title_and_figures(report):
    texts = _texts(report)
    title = texts.index("BÁO CÁO")
    assert report.paragraphs[title].runs[0].bold
    assert report.paragraphs[title].alignment == 1   # centred
    assert "quý IV năm 2026" in texts[title + 2]
    body = "\n".join(texts)
    assert "Tổng số lượt đánh giá ghi nhận: 10; trong đó 2 lượt" in body
    assert "số lượt đánh giá hợp lệ: 8" in body
    assert "Tỷ lệ hài lòng chung: 75,0%" in body
    assert "Có 1 lượt phản ánh nhũng nhiễu" in body
    assert len(report.inline_shapes) == 1           # the trend chart


def _table_with(report, heading):
    for t in report.tables:
        if t.cell(0, 1).text == heading:
            return [[c.text for c in row.cells] for row in t.rows]
    raise AssertionError(f"no table {heading!r}")


def test_tables_by_officer_desk_procedure_level_reason(report):
    officers = _table_with(report, "Cán bộ, công chức")
    assert officers[1] == ["1", "Phạm Quốc Hưng", "2", "2", "0", "1", "100,0"]
    assert ["2", "Nguyễn Thị Hồng Nhung", "3", "2", "1", "1", "66,7"] in officers
    desks = _table_with(report, "Quầy")
    assert desks[2] == ["2", "Quầy số 1 — Tư pháp, Hộ tịch", "6", "4", "2", "1", "66,7"]
    procs = _table_with(report, "Thủ tục")
    assert procs[3] == ["3", "(không ghi thủ tục)", "1", "0", "1", "0", "0,0"]
    levels = _table_with(report, "Mức độ")
    assert levels[1:] == [["1", "Rất hài lòng", "3", "37,5"], ["2", "Hài lòng", "3", "37,5"],
                          ["3", "Không hài lòng", "2", "25,0"]]
    reasons = dict((r[1], r[2]) for r in _table_with(report, "Lý do")[1:])
    assert reasons == {"Thái độ": "1", "Hướng dẫn": "1", "Số lần đi lại": "1", "Nhũng nhiễu": "1",
                       "Đúng hẹn": "0"}


def test_recipients_and_signature(report):
    sign = report.tables[-1]
    left = [p.text for p in sign.cell(0, 0).paragraphs]
    assert left[0] == "Nơi nhận:" and sign.cell(0, 0).paragraphs[0].runs[0].italic
    assert left[-1] == "- Lưu: VT."
    right = [p.text for p in sign.cell(0, 1).paragraphs if p.text]
    assert right[:2] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]


def test_apology_letter_carries_the_new_date():
    raw = report_docx.letter("xin_loi_hen_lai", {"name": "Nguyễn Văn An", "dossier": "H001",
                                                 "procedure": "Đăng ký khai sinh", "new_date": "05/12/2026",
                                                 "officer": "Trần Văn Đức"}, on=date(2026, 11, 28))
    d = docx.Document(io.BytesIO(raw))
    body = "\n".join(_texts(d))
    assert "THƯ XIN LỖI VÀ HẸN LẠI THỜI GIAN TRẢ KẾT QUẢ" in body
    assert "Kính gửi: Ông/Bà Nguyễn Văn An" in body
    assert "hẹn trả kết quả vào ngày 05/12/2026" in body and "hồ sơ số H001" in body
    assert round(d.sections[0].left_margin.mm) == 30


def test_thank_you_letter_and_unknown_kind():
    d = docx.Document(io.BytesIO(report_docx.letter("cam_on", {"procedure": "Đăng ký kết hôn"})))
    body = "\n".join(_texts(d))
    assert "THƯ CẢM ƠN" in body and "thủ tục Đăng ký kết hôn" in body
    with pytest.raises(ValueError):
        report_docx.letter("chuc_mung_x", {})
