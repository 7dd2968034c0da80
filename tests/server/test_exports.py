"""CSV and Excel exports: reopen the files as Excel/a spreadsheet user would and check them."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from town import RATINGS, make_town

from sync import columns
from sync.server.reports import exports, periods
from sync.server.reports.stats import Filter

EVIL = "=HYPERLINK(\"http://x\",\"bấm\")"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    extra = RATINGS + [("2026-11-25T10:00:00+07:00", "cb-002", "quay-1", "P1", 3, ["thai_do"], [], EVIL)]
    return make_town(tmp_path_factory.mktemp("town") / "town.db", extra)


def test_csv_has_bom_vietnamese_headers_and_the_filters_rows(engine, tmp_path):
    path = tmp_path / "q4.csv"
    with path.open("wb") as fh:
        n = exports.export(engine, Filter(periods.quarter(2026, 4)), "csv", fh)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Thời gian", "Cán bộ", "Quầy", "Mức độ (chữ)"]       # the people's columns first
    assert rows[0][-4:] == ["Mã cán bộ", "Ki-ốt", "Số thứ tự", "Mã đánh giá"]    # the machine's last
    assert "Ý kiến" in rows[0] and "Cờ" in rows[0] and "Thủ tục" in rows[0]
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert n == len(body) == 11          # 10 hand-counted Q4 ratings + the formula one
    assert body[0]["Thời gian"] == "2026-10-01 06:30:00"   # oldest first, local time, a form Excel reads as a date
    assert body[-1]["Thời gian"] == "2026-12-31 23:59:59"
    for r in body:                                         # "Thời gian nhận" local too (stored in UTC), no µs
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["Thời gian nhận"]), r["Thời gian nhận"]
    by_seq = {int(r["Số thứ tự"]): r for r in body}
    three = by_seq[3]
    assert three["Cán bộ"] == "Nguyễn Thị Hồng Nhung"
    assert three["Quầy"] == "Quầy số 1 — Tư pháp, Hộ tịch (quay-1)"
    assert three["Mức độ"] == "1" and three["Mức độ (chữ)"] == "Không hài lòng"
    assert three["Lý do"] == "Thái độ; Số lần đi lại"
    assert three["Ý kiến"] == "Phải đi lại ba lần"
    assert three["Thủ tục"] == "Chứng thực bản sao từ bản chính (P2)"
    assert three["Nguồn"] == "Trực tiếp" and three["Hồ sơ"] == "H003"
    assert by_seq[4]["Cờ"] == "Lặp nhanh (nghi lạm dụng)" and by_seq[4]["Tính vào tỷ lệ"] == "Không"
    assert three["Tính vào tỷ lệ"] == "Có"
    assert by_seq[13]["Ý kiến"] == "'" + EVIL       # never a live formula in Excel
    assert 9 not in by_seq and 10 not in by_seq      # outside the quarter


def test_xlsx_reopens_with_the_same_rows_and_no_formula(engine, tmp_path):
    path = tmp_path / "q4.xlsx"
    flt = Filter(periods.quarter(2026, 4), officer="cb-002")
    with path.open("wb") as fh:
        n = exports.export(engine, flt, "xlsx", fh)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    assert head == columns.HEADERS and head[0] == "Thời gian" and head[1] == "Cán bộ"
    assert ws["A1"].font.bold
    assert ws.freeze_panes == "A2"
    assert n == len(rows) - 1 == 4        # cb-002: seq 12, 5, 6 and the formula one
    col = {h: i for i, h in enumerate(head)}
    assert {r[col["Cán bộ"]] for r in rows[1:]} == {"Trần Văn Đức"}
    assert [r[col["Số thứ tự"]] for r in rows[1:]] == [12, 5, 6, 13]
    evil = ws.cell(row=5, column=col["Ý kiến"] + 1)
    assert evil.value == EVIL and evil.data_type == "s"
    six = rows[3]
    assert (six[col["Mức độ"]], six[col["Lý do"]], six[col["Ý kiến"]], six[col["Thủ tục"]]) == (
        1, "Nhũng nhiễu", "Đòi tiền", None)  # no procedure: empty cell
    assert_printable_sheet(ws, n)


def assert_printable_sheet(ws, n):
    """What Excel needs to sort, filter and print the sheet as an admin expects (the pull's sheet too)."""
    head = [c.value for c in ws[1]]
    for key in ("Thời gian", "Thời gian nhận"):          # real dates, local, to the second
        cells = [ws.cell(row=r, column=head.index(key) + 1) for r in range(2, n + 2)]
        assert all(isinstance(c.value, datetime) and c.is_date for c in cells), [c.value for c in cells]
        assert all(c.value.microsecond == 0 and c.value.tzinfo is None for c in cells)
        assert {c.number_format for c in cells} == {"dd/mm/yyyy hh:mm"}
    assert ws.auto_filter.ref == f"A1:{get_column_letter(len(head))}{n + 1}"
    assert ws.print_title_rows == "$1:$1"                  # the header on every printed page
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (int(ws.page_setup.fitToWidth), int(ws.page_setup.fitToHeight)) == (1, 0)
    assert ws.freeze_panes == "A2"
    # the printout: the people's columns up to "Cờ" (ids and kiosk stay on the screen), about 200
    # characters wide, so one landscape page wide stays readable (LibreOffice: ~75 %)
    printed = head.index("Cờ") + 1
    assert ws.print_area.endswith(f"!$A$1:${get_column_letter(printed)}${n + 1}"), ws.print_area
    assert head[:printed][:3] == ["Thời gian", "Cán bộ", "Quầy"] and "Mã đánh giá" not in head[:printed]
    widths = [ws.column_dimensions[get_column_letter(i + 1)].width for i in range(printed)]
    assert sum(widths) <= 210 and widths[head.index("Ý kiến")] >= 30
    assert ws.oddFooter.center.text == "&P / &N"          # page numbers


def test_empty_filter_gives_headers_only(engine, tmp_path):
    buf = io.BytesIO()
    assert exports.export(engine, Filter(periods.year(2020)), "csv", buf) == 0
    assert buf.getvalue().decode("utf-8-sig").count("\n") == 1
    with pytest.raises(ValueError):
        exports.export(engine, Filter(periods.year(2020)), "pdf", io.BytesIO())


def test_each_rating_is_labelled_on_its_own_survey_and_a_repeated_receipt_is_not_counted(town_db, tmp_path):
    from sqlalchemy import update

    from sync.server.core import db
    engine = make_town(town_db)
    with engine.begin() as conn:       # rating 1 was given on the 5-level survey; rating 2 repeats a receipt
        conn.execute(update(db.ratings).where(db.ratings.c.seq == 1).values(survey="hl5", level=3))
        conn.execute(update(db.ratings).where(db.ratings.c.seq == 2).values(server_flags='["duplicate_receipt"]'))
    rows = {r["seq"]: r for r in exports.rating_rows(engine, Filter(periods.parse("2026")))}
    assert (rows[1]["survey"], rows[1]["level_label"]) == ("hl5", "Bình thường")     # not "Rất hài lòng" of hl3
    assert rows[2]["counted"] == "Không" and "Phiếu hẹn đánh giá lần nữa" in rows[2]["flags"]
    assert rows[3]["counted"] == "Có"
