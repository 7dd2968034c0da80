"""The letters as Word files, read back with python-docx (the ND 30/2020 presentation: A4, margins,
Times New Roman 13–14, the header table, the signature block) and rendered through LibreOffice →
PDF → PNG into test-artifacts/letters/ to be looked at: the case's apology (blank and with a name),
the late-dossier apology form and the thank-you, congratulation and condolence letters."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date

import docx
import pytest
from docx.shared import Pt
from helpers import ARTIFACTS

from sync.server.reports import letters_docx
from sync.server.reports.report_docx import Issuer

OUT = ARTIFACTS / "letters"
ON = date(2026, 12, 2)
FIELDS = {"dossier": "000.00.12.H12-261201-0001", "procedure": "Chứng thực bản sao từ bản chính",
          "officer": "Trần Văn Đức", "reason": "thái độ phục vụ của cán bộ chưa đúng mực"}
LETTERS = {
    "xin-loi-vu-viec-de-trong": lambda: letters_docx.case_apology(FIELDS, on=ON),
    "xin-loi-vu-viec-co-ten": lambda: letters_docx.case_apology(
        {**FIELDS, "name": "Lê Thị Hoa", "received": "28/11/2026", "new_date": "05/12/2026"}, on=ON),
    "xin-loi-hen-lai": lambda: letters_docx.letter("xin_loi", {**FIELDS, "new_date": "05/12/2026"}, on=ON),
    "cam-on": lambda: letters_docx.letter("cam_on", FIELDS, on=ON),
    "chuc-mung": lambda: letters_docx.letter("chuc_mung", FIELDS, on=ON),
    "chia-buon": lambda: letters_docx.letter("chia_buon", FIELDS, on=ON),
}


def _all_text(d) -> list[str]:
    return [p.text for p in d.paragraphs] + [p.text for t in d.tables for row in t.rows for c in row.cells
                                             for p in c.paragraphs]


@pytest.mark.parametrize("name", LETTERS)
def test_each_letter_has_the_administrative_layout(name):
    d = docx.Document(io.BytesIO(LETTERS[name]()))
    sec = d.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin)] == [20, 20, 30, 15]
    fonts = {r.font.name for p in d.paragraphs for r in p.runs} | {
        r.font.name for t in d.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs}
    assert fonts == {"Times New Roman"}
    body = [r.font.size for p in d.paragraphs[2:] for r in p.runs]
    assert body and all(Pt(13) <= s <= Pt(14) for s in body)
    header, sign = d.tables[0], d.tables[-1]
    assert header.rows[0].cells[0].paragraphs[0].text == "UBND TỈNH ĐỒNG THÁP"
    assert header.rows[0].cells[0].paragraphs[1].text == "UBND XÃ ĐỒNG TÂM"
    assert [p.text for p in header.rows[0].cells[1].paragraphs[:2]] == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    assert header.rows[0].cells[1].paragraphs[1].runs[0].underline
    assert header.rows[1].cells[1].text == "Đồng Tâm, ngày 02 tháng 12 năm 2026"
    assert header.rows[1].cells[0].text in ("Số:      /PXL-UBND", "Số:      /TC-UBND")
    assert [p.text for p in sign.rows[0].cells[1].paragraphs[:3]] == [
        "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "(Ký, ghi rõ họ tên và đóng dấu)"]
    assert sign.rows[0].cells[0].paragraphs[0].text == "Nơi nhận:"
    text = "\n".join(_all_text(d))
    assert "{" not in text and "000.00.12.H12-261201-0001" in text


def test_the_case_apology_follows_the_forms_fields():
    blank = "\n".join(_all_text(docx.Document(io.BytesIO(LETTERS["xin-loi-vu-viec-de-trong"]()))))
    assert "Kính gửi: Ông/Bà …………………………………………" in blank
    assert "Ngày …/…/……, Ủy ban nhân dân xã Đồng Tâm tiếp nhận hồ sơ của Ông/Bà đề nghị giải quyết " \
           "thủ tục hành chính: Chứng thực bản sao từ bản chính." in blank
    assert "Mã hồ sơ: 000.00.12.H12-261201-0001." in blank
    assert "Lý do: thái độ phục vụ của cán bộ chưa đúng mực." in blank
    assert "thành thật xin lỗi Ông/Bà" in blank and "vào ngày" not in blank
    named = "\n".join(_all_text(docx.Document(io.BytesIO(LETTERS["xin-loi-vu-viec-co-ten"]()))))
    assert "Kính gửi: Ông/Bà Lê Thị Hoa" in named and "Ngày 28/11/2026, Ủy ban nhân dân" in named
    assert "hẹn trả kết quả giải quyết hồ sơ cho Ông/Bà vào ngày 05/12/2026." in named
    late = "\n".join(_all_text(docx.Document(io.BytesIO(LETTERS["xin-loi-hen-lai"]()))))
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in late
    assert "Thời gian hẹn trả kết quả giải quyết hồ sơ: ngày …/…/……." in late
    assert "Tuy nhiên đến nay, Ủy ban nhân dân xã Đồng Tâm chưa trả kết quả giải quyết hồ sơ cho Ông/Bà." in late


def test_the_signature_block_is_the_issuers():
    issuer = Issuer(signer_on_behalf="", signer_title="THỦ TRƯỞNG CƠ QUAN", signer_name="Nguyễn Văn Nam",
                    symbol="TB-UBND")
    d = docx.Document(io.BytesIO(letters_docx.case_apology(FIELDS, issuer, ON)))
    cell = d.tables[-1].rows[0].cells[1]
    assert cell.paragraphs[0].text == "THỦ TRƯỞNG CƠ QUAN" and cell.paragraphs[-1].text == "Nguyễn Văn Nam"
    assert "(Ký, ghi rõ họ tên và đóng dấu)" not in cell.text
    assert d.tables[0].rows[1].cells[0].text == "Số:      /PXL-UBND"


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftoppm")), reason="LibreOffice/poppler")
def test_the_letters_render_as_one_page_each(tmp_path):
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in LETTERS.items():
        (tmp_path / f"{name}.docx").write_bytes(make())
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), *sorted(str(p) for p in tmp_path.glob("*.docx"))],
                   check=True, capture_output=True, timeout=300)
    for name in LETTERS:
        pdf = tmp_path / f"{name}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Pages:\s+1$", info, re.M), name         # a letter fits on one A4 page
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text, name
        assert "000.00.12.H12-261201-0001" in "".join(text.split()), name      # may wrap at its dots
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(OUT / name)], check=True)
        assert (OUT / f"{name}.png").stat().st_size > 20_000
