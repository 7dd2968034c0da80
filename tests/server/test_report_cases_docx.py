"""The periodic Word report grows: cases opened, dealt with on time, overdue, the actions taken and the
letters sent next to the satisfaction figures; the evidence public key; a year's score annex. Rendered
through LibreOffice to PNG (test-artifacts/admin/report-cases-*.png) to be looked at."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date

import docx
import pytest
from test_scores_town import scored_town
from town import ARTIFACTS, NAMES

from sync.server.core import db
from sync.server.core.settings import set_setting
from sync.server.core.signing import ensure_signing_key, public_key_shown
from sync.server.reports import periods, report_docx, scoring
from sync.server.reports.stats import Filter, Stats

ON = date(2027, 1, 5)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = scored_town(tmp_path_factory.mktemp("report-cases") / "town.db")
    with engine.begin() as conn:
        ensure_signing_key(conn)
        set_setting(conn, scoring.SETTING, {"min_ratings": 2})
    return engine


def _names():
    return {"unit": {u["code"]: u["name"] for u in NAMES["units"]},
            "officer": {o["id"]: o["name"] for o in NAMES["officers"]},
            "desk": {d["id"]: d["name"] for d in NAMES["desks"]},
            "procedure": {p["code"]: p["name"] for p in NAMES["procedures"]}}


def _report(engine, flt):
    stats = Stats(engine, db.ratings, "corrected_at", rollup=True)
    data = report_docx.gather(stats, flt, _names(), today=ON)
    raw = report_docx.report(data, on=ON)
    return data, raw, docx.Document(io.BytesIO(raw))


def _table(d, heading, last=False):
    """The first table whose second heading is ``heading`` (the last one: the annex's)."""
    for t in reversed(d.tables) if last else d.tables:
        if len(t.columns) > 1 and t.cell(0, 1).text == heading:
            return [[c.text for c in row.cells] for row in t.rows]
    raise AssertionError(f"no table {heading!r}")


def test_the_cases_actions_and_letters_of_the_year(engine):
    _data, _raw, d = _report(engine, Filter(periods.year(2026)))
    body = "\n".join(p.text for p in d.paragraphs)
    assert "KẾT QUẢ XỬ LÝ VỤ VIỆC VÀ THƯ GỬI NGƯỜI DÂN" in body
    assert ("Trong kỳ mở 4 vụ việc cần xử lý (phản ánh nhũng nhiễu: 2; tỷ lệ hài lòng thấp: 1; dữ liệu ki-ốt bất thường: 1). "
            "Đã xử lý xong 3 vụ việc, trong đó 2 vụ việc đúng hạn, 1 vụ việc trễ hạn; 1 vụ việc quá hạn chưa "
            "xử lý xong (cuối kỳ).") in body
    assert "Tỷ lệ xử lý vụ việc đúng hạn: 50,0% (2/4 vụ việc" in body
    assert "Còn 1 vụ việc nhũng nhiễu chưa xử lý xong cuối kỳ (vụ việc số 3)" in body
    actions = _table(d, "Biện pháp")
    assert actions[1:4] == [["1", "Nhắc nhở", "1"], ["2", "Kiểm điểm", "1"], ["3", "Chấn chỉnh", "1"]]
    assert actions[-1] == ["", "Cộng", "3"]
    letters = _table(d, "Loại thư")
    assert letters[0] == ["TT", "Loại thư", "Đã lập", "Đã gửi"]
    assert ["1", "Thư cảm ơn", "1", "0"] in letters and ["2", "Thư xin lỗi và hẹn lại", "1", "1"] in letters
    assert letters[-1] == ["", "Cộng", "2", "1"]
    assert "Vụ việc cần xin lỗi công dân: 2; đã có thư xin lỗi: 1 (50,0%)." in body
    # the cases come next to the satisfaction figures: after the tables by officer, desk, procedure
    texts = [p.text for p in d.paragraphs]
    assert texts.index("V. KẾT QUẢ XỬ LÝ VỤ VIỆC VÀ THƯ GỬI NGƯỜI DÂN") > texts.index(
        "IV. KẾT QUẢ THEO THỦ TỤC HÀNH CHÍNH")


def test_the_evidence_public_key_is_printed_to_be_pinned(engine):
    with engine.connect() as conn:
        key = public_key_shown(conn)
    _data, _raw, d = _report(engine, Filter(periods.quarter(2026, 4)))
    line = [p.text for p in d.paragraphs if p.text.startswith("Khóa công khai kiểm chứng")]
    assert line == [f"Khóa công khai kiểm chứng hồ sơ của máy chủ (Ed25519): {key}"]
    assert len(key.replace(" ", "")) == 64


def test_a_years_report_carries_the_score_annex_after_the_signature(engine):
    _data, raw, d = _report(engine, Filter(periods.year(2026)))
    texts = [p.text for p in d.paragraphs]
    assert texts.index("KẾT QUẢ CHẤM ĐIỂM THI ĐUA") > texts.index("Phụ lục") > texts.index(
        "VIII. ĐÁNH GIÁ, KIẾN NGHỊ")
    assert "(Kèm theo Báo cáo kết quả khảo sát mức độ hài lòng năm 2026)" in texts
    officers = _table(d, "Cán bộ, công chức", last=True)
    assert officers[0][2:4] == ["Số lượt hợp lệ", "Tỷ lệ hài lòng (%)"]
    assert officers[1] == ["1", "Phạm Quốc Hưng", "2", "100,0", "40", "30", "15", "15", "100", "Xuất sắc"]
    assert officers[2][1] == "Nguyễn Thị Hồng Nhung" and officers[2][-2:] == ["30", "Yếu"]
    units = _table(d, "Đơn vị", last=True)
    assert units[1] == ["1", "UBND xã Đồng Tâm", "9", "66,7", "0", "0", "0", "5", "5", "Yếu"]
    assert "- Tỷ lệ hài lòng: Tỷ lệ hài lòng 100,0% (2/2 lượt hợp lệ), đạt mức ≥ 95%: 40 điểm." in texts
    _render(raw, "report-cases-year")


def test_a_quarters_report_has_no_annex_and_ends_with_the_signature(engine):
    data, _raw, d = _report(engine, Filter(periods.quarter(2026, 4)))
    assert data.scores is None and "KẾT QUẢ CHẤM ĐIỂM THI ĐUA" not in [p.text for p in d.paragraphs]
    assert d.tables[-1].cell(0, 0).paragraphs[0].text == "Nơi nhận:"


def test_an_officers_report_counts_that_officers_cases(engine):
    data, _raw, d = _report(engine, Filter(periods.year(2026), officer="cb-002"))
    body = "\n".join(p.text for p in d.paragraphs)
    assert data.scores is None
    assert "Trong kỳ mở 1 vụ việc cần xử lý (phản ánh nhũng nhiễu: 1). Đã xử lý xong 0 vụ việc" in body
    assert "Tỷ lệ xử lý vụ việc đúng hạn: 0,0% (0/1 vụ việc" in body


def test_the_annex_on_its_own(engine):
    stats = Stats(engine, db.ratings, "corrected_at", rollup=True)
    with engine.connect() as conn:
        sheet = scoring.sheet(stats, conn, periods.year(2026), ON)
    raw = report_docx.score_annex(sheet, on=ON)
    d = docx.Document(io.BytesIO(raw))
    texts = [p.text for p in d.paragraphs]
    assert "Phụ lục" in texts and "- Số lượt đánh giá hợp lệ tối thiểu để được chấm: 2." in texts
    assert "- Xếp loại tối đa khi còn vụ việc nhũng nhiễu chưa xử lý: Trung bình." in texts
    assert d.tables[0].cell(0, 0).paragraphs[1].text == "UBND XÃ ĐỒNG TÂM"          # the ND30 header
    assert d.tables[-1].cell(0, 0).paragraphs[0].text == "Nơi nhận:"
    _render(raw, "report-cases-annex")


def _render(raw: bytes, name: str) -> None:
    """The document through LibreOffice to PDF, then PNG pages, to be looked at."""
    if not shutil.which("soffice") or not shutil.which("pdftoppm"):
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    src = ARTIFACTS / f"{name}.docx"
    src.write_bytes(raw)
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(ARTIFACTS), str(src)],
                   check=True, capture_output=True, timeout=180)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(ARTIFACTS / f"{name}.pdf"), str(ARTIFACTS / name)],
                   check=True, timeout=120)
    assert list(ARTIFACTS.glob(f"{name}-*.png"))
