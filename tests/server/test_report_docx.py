"""The Word report and letters: reopen with python-docx and check what an admin would."""
from __future__ import annotations

import io
from datetime import date

import docx
import pytest
from town import NAMES, make_town

from sync.server.core import db
from sync.server.reports import letters_docx, periods, report_docx
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
    # complaint and praise apart (every level may tick reasons): huong_dan came with a "Hài lòng"
    table = _table_with(report, "Nội dung")
    assert table[0] == ["TT", "Nội dung", "Khi chưa hài lòng", "Khi hài lòng", "Tổng số lượt"]
    reasons = {r[1]: r[2:] for r in table[1:]}
    assert reasons == {"Thái độ": ["1", "0", "1"], "Hướng dẫn": ["0", "1", "1"], "Số lần đi lại": ["1", "0", "1"],
                       "Nhũng nhiễu": ["1", "0", "1"], "Đúng hẹn": ["0", "0", "0"]}


def test_recipients_and_signature(report):
    sign = report.tables[-1]
    left = [p.text for p in sign.cell(0, 0).paragraphs]
    assert left[0] == "Nơi nhận:" and sign.cell(0, 0).paragraphs[0].runs[0].italic
    assert left[-1] == "- Lưu: VT."
    right = [p.text for p in sign.cell(0, 1).paragraphs if p.text]
    assert right[:2] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]


def test_apology_letter_carries_the_new_date():
    raw = letters_docx.letter("xin_loi_hen_lai", {"name": "Nguyễn Văn An", "dossier": "H001",
                                                 "procedure": "Đăng ký khai sinh", "new_date": "05/12/2026",
                                                 "officer": "Trần Văn Đức"}, on=date(2026, 11, 28))
    d = docx.Document(io.BytesIO(raw))
    body = "\n".join(_texts(d))
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in body       # the one-stop desk's form
    assert "Kính gửi: Ông/Bà Nguyễn Văn An" in body
    assert "giải quyết hồ sơ vào ngày 05/12/2026" in body and "H001" in body
    assert round(d.sections[0].left_margin.mm) == 30


def test_thank_you_letter_and_unknown_kind():
    d = docx.Document(io.BytesIO(letters_docx.letter("cam_on", {"procedure": "Đăng ký kết hôn"})))
    body = "\n".join(_texts(d))
    assert "THƯ CẢM ƠN" in body and "thủ tục Đăng ký kết hôn" in body
    with pytest.raises(ValueError):
        letters_docx.letter("chuc_mung_x", {})


# --- the officer's report, page numbers, the signer, a running period (issue 10) -----------------

def _names():
    return {"officer": {o["id"]: o["name"] for o in NAMES["officers"]},
            "desk": {d["id"]: d["name"] for d in NAMES["desks"]},
            "procedure": {p["code"]: p["name"] for p in NAMES["procedures"]}}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return make_town(tmp_path_factory.mktemp("town2") / "town.db")


def _report(engine, flt, issuer=None, on=date(2027, 1, 5)):
    data = report_docx.gather(Stats(engine, db.ratings, "corrected_at"), flt, _names())
    return data, docx.Document(io.BytesIO(report_docx.report(data, issuer, on=on)))


def test_an_officers_report_names_the_officer_and_gives_their_own_figures(engine):
    data, d = _report(engine, Filter(periods.quarter(2026, 4), officer="cb-002"))
    texts = _texts(d)
    title = texts.index("BÁO CÁO")
    assert texts[title + 1] == "Kết quả đánh giá của người dân, tổ chức đối với cán bộ Trần Văn Đức"
    assert "quý IV năm 2026" in texts[title + 2]
    body = "\n".join(texts)
    # cb-002 in Q4: 5 (level 3), 6 (level 1, nhũng nhiễu), 12 (level 2): 3 valid, 2 satisfied = 66,7 %
    assert "I. KẾT QUẢ CỦA CÁN BỘ TRẦN VĂN ĐỨC" in texts
    assert "Tỷ lệ hài lòng của cán bộ Trần Văn Đức: 66,7%" in body
    assert "tỷ lệ hài lòng chung của Ủy ban nhân dân xã Đồng Tâm trong kỳ là 75,0% (6/8 lượt hợp lệ)" in body
    assert "Tỷ lệ hài lòng chung: " not in body
    assert not any(t.cell(0, 1).text == "Cán bộ, công chức" for t in d.tables)     # no table of officers
    assert report_docx.file_name(data) == "hailong-2026-Q4-bao-cao-can-bo-cb-002-tran-van-duc.docx"


def test_the_units_report_keeps_its_title_and_file_name(engine):
    data, d = _report(engine, Filter(periods.quarter(2026, 4)))
    texts = _texts(d)
    assert texts[texts.index("BÁO CÁO") + 1] == "Kết quả khảo sát mức độ hài lòng của người dân, tổ chức"
    assert report_docx.file_name(data) == "hailong-2026-Q4-bao-cao.docx"
    body = "\n".join(texts)
    assert "Số lượt hài lòng (gồm các mức Rất hài lòng, Hài lòng): 6." in body
    officers = next(t for t in d.tables if t.cell(0, 1).text == "Cán bộ, công chức")
    assert [c.text for c in officers.rows[0].cells][3:5] == ["Hài lòng (mọi mức)", "Chưa hài lòng (mọi mức)"]


def _fields(part) -> list[str]:
    from docx.oxml.ns import qn
    return [t.text.strip() for t in part._element.iter(qn("w:instrText"))]


def test_every_page_is_numbered_in_the_footer(engine):
    _data, d = _report(engine, Filter(periods.quarter(2026, 4)))
    footer = d.sections[0].footer
    assert _fields(footer) == ["PAGE", "NUMPAGES"]
    assert footer.paragraphs[0].text.startswith("Trang ") and footer.paragraphs[0].alignment == 1


def test_the_signers_name_from_the_settings_and_no_hint_above_it(engine):
    issuer = report_docx.Issuer(signer_name="Lê Văn Bảy")
    _data, d = _report(engine, Filter(periods.quarter(2026, 4)), issuer)
    right = [p for p in d.tables[-1].cell(0, 1).paragraphs if p.text]
    assert [p.text for p in right] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Lê Văn Bảy"]
    assert right[-1].runs[0].bold
    _data, d = _report(engine, Filter(periods.quarter(2026, 4)))                # no name set
    right = [p.text for p in d.tables[-1].cell(0, 1).paragraphs if p.text]
    assert right == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "(Ký, ghi rõ họ tên và đóng dấu)"]


def test_a_report_made_before_the_period_ends_says_up_to_when(engine):
    _data, d = _report(engine, Filter(periods.quarter(2026, 4)), on=date(2026, 11, 28))
    body = "\n".join(_texts(d))
    assert "Số liệu đến ngày 28/11/2026 (kỳ báo cáo chưa kết thúc)." in body
    assert "(từ ngày 01/10/2026 đến ngày 31/12/2026; số liệu đến ngày 28/11/2026)" in body
    _data, d = _report(engine, Filter(periods.quarter(2026, 4)), on=date(2027, 1, 5))
    assert "số liệu đến ngày" not in "\n".join(_texts(d)).lower()


def test_the_comments_heading_says_how_many_there_are(engine):
    data, d = _report(engine, Filter(periods.year(2026)))
    assert data.comment_total == 4      # Rất nhanh, Phải đi lại ba lần, Đòi tiền, Quý trước
    assert any(t.endswith("Ý KIẾN CỦA NGƯỜI DÂN (MỚI NHẤT)") for t in _texts(d))
