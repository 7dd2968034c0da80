"""From a case to the apology letter, in a real browser on a real server (the Town of tests/town.py,
issue 11). The Town's nhũng nhiễu rating opened a case by itself; the admin opens the case page,
follows its dossier's "Văn bản xin lỗi" to the form, types the applicant's name, downloads the Word
letter (the name in it, nowhere in town.db), sees it listed "Chưa gửi" and marks it sent from the
case page. Screenshots at desk width and at 360×740 go to test-artifacts/admin/ (70-76).

The test module runs its walk first: the phone-width screenshots show the letter issued and sent."""
from __future__ import annotations

import io
import sqlite3

import docx
import pytest
from town import Town, shot, sign_in


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    yield t
    t.stop()


def _one(town, sql, *args):
    con = sqlite3.connect(town.db)
    try:
        return con.execute(sql, args).fetchone()
    finally:
        con.close()


def _case(town) -> tuple[int, str]:
    """The case the nhũng nhiễu rating opened, and that rating's dossier."""
    row = _one(town, "SELECT c.id, r.dossier_code FROM cases c JOIN case_links l ON l.case_id = c.id "
                     "JOIN ratings r ON r.id = l.rating_id WHERE c.kind = 'nhung_nhieu' AND c.officer_id = 'cb-002'")
    assert row, "the nhũng nhiễu rating opened no case"
    return row


def _docx_text(path) -> str:
    with open(path, "rb") as fh:
        d = docx.Document(io.BytesIO(fh.read()))
    return "\n".join([p.text for p in d.paragraphs] +
                     [p.text for t in d.tables for row in t.rows for c in row.cells for p in c.paragraphs])


def test_from_the_case_page_to_the_apology_and_marked_sent(town, browser):
    case_id, dossier = _case(town)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + f"/admin/cases/{case_id}")
    letters = page.locator("#letters")
    assert "Chưa làm văn bản nào." in letters.inner_text()
    row = letters.locator(f"tr[data-dossier='{dossier}']")
    row.scroll_into_view_if_needed()
    shot(page, "70-case-letters-dossiers")
    row.get_by_role("link", name="Văn bản xin lỗi").click()
    page.wait_for_url(f"**/admin/cases/{case_id}/letter?dossier={dossier}")
    assert page.get_by_test_id("dossier").inner_text() == dossier
    assert "nhũng nhiễu" in page.get_by_label("Lý do").input_value()        # the kind's reason, to edit
    page.get_by_label("Họ tên công dân").fill("Võ Thị Thu Trang")
    page.get_by_label("Ngày hẹn trả kết quả mới (dd/mm/yyyy)").fill("09/12/2026")
    shot(page, "71-case-letter-form")
    with page.expect_download() as got:
        page.get_by_role("button", name="Tải văn bản xin lỗi (Word)").click()
    download = got.value
    assert download.suggested_filename == f"van-ban-xin-loi-vu-viec-{case_id}-{dossier.lower()}.docx"
    text = _docx_text(download.path())
    assert "VĂN BẢN XIN LỖI" in text and "Kính gửi: Ông/Bà Võ Thị Thu Trang" in text
    assert f"Mã hồ sơ: {dossier}." in text and "vào ngày 09/12/2026." in text and "(Trần Văn Đức)" in text
    assert _one(town, "SELECT count(*) FROM letters_issued WHERE case_id = ?", case_id) == (1,)

    # the case page lists it, not sent yet; "mark as sent" comes back to the case page
    page.goto(town.url + f"/admin/cases/{case_id}#letters")
    issued = page.get_by_test_id("letters-issued")
    assert "Văn bản xin lỗi" in issued.inner_text() and "Chưa gửi" in issued.inner_text()
    assert "Võ Thị Thu Trang" not in page.content()
    issued.get_by_role("button", name="Đánh dấu đã gửi").click()
    page.wait_for_url(f"**/admin/cases/{case_id}?letter_sent=*")
    assert page.get_by_test_id("letter-sent").inner_text() == "Đã ghi nhận văn bản đã gửi."
    state = page.get_by_test_id("letters-issued").get_by_test_id("letter-state")
    assert state.inner_text().startswith("Đã gửi")
    assert page.get_by_role("button", name="Đánh dấu đã gửi").count() == 0
    # the case's log (the case page's own list) holds both events
    assert "Văn bản xin lỗi hồ sơ " + dossier in page.content()
    assert "Đã gửi văn bản xin lỗi hồ sơ " + dossier in page.content()
    page.locator("#letters").scroll_into_view_if_needed()
    shot(page, "72-case-letters-sent")

    # the name typed went into the letter only
    con = sqlite3.connect(town.db)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(repr(r) for t in tables for r in con.execute(f'SELECT * FROM "{t}"'))
    finally:
        con.close()
    assert "Trang" not in dump and dossier in dump

    # the letters page lists it too, with its case
    page.goto(town.url + "/admin/letters#issued")
    listed = page.get_by_test_id("letters-issued").locator("tbody tr").first
    assert dossier in listed.inner_text() and "Đã gửi" in listed.inner_text()
    assert listed.get_by_role("link", name=f"Vụ việc số {case_id}").get_attribute("href") == f"/admin/cases/{case_id}"
    page.locator("#issued").scroll_into_view_if_needed()
    shot(page, "76-letters-issued")

    # English
    page.goto(town.url + f"/lang/en?next=/admin/cases/{case_id}/letter?dossier={dossier}")
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Download the apology (Word)").is_visible()
    shot(page, "73-case-letter-form-en")
    ctx.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_case_letter_form_at_phone_width(town, browser, lang):
    case_id, dossier = _case(town)
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + f"/lang/{lang}?next=/admin/cases/{case_id}/letter?dossier={dossier}")
    page.wait_for_load_state()
    shot(page, f"74-case-letter-phone-{lang}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 1, width
    assert page.locator("input[name=name]").bounding_box()["width"] > 200
    page.goto(town.url + "/admin/letters")
    shot(page, f"75-letters-issued-phone-{lang}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1
    ctx.close()
