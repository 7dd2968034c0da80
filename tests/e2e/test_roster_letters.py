"""The roster and letters pages in a real browser on a real server (the Town of tests/town.py, issue 10).

An admin deactivates an officer who left (gone from the kiosk's config), sets another's PIN (the
kiosk's config carries its hash), makes a chúc mừng letter as a Word file, and sees an impossible
date (31/02) refused with the form kept. Screenshots in Vietnamese and English, at desk width and
at phone width 360×740, go to test-artifacts/admin/.
"""
from __future__ import annotations

import io

import docx
import pytest
import requests
from town import Town, shot, sign_in

from sync import protocol


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    yield t
    t.stop()


def kiosk_officers(town):
    r = requests.get(town.url + protocol.PATH_CONFIG.format(kiosk_id="ki-ot-1"), timeout=30,
                     headers={"Authorization": f"Bearer {town.kiosk_token}"})
    return {o["id"]: o for o in r.json()["roster"]["officers"]}


def test_admin_deactivates_sets_a_pin_and_makes_a_congratulation_letter(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + "/admin/roster#officers")
    row = page.locator("tr[data-officer='cb-002']")
    row.get_by_role("button", name="Cho nghỉ").click()
    page.wait_for_url("**/admin/roster?left=cb-002*")
    assert "Cán bộ cb-002 đã nghỉ" in page.get_by_test_id("left").inner_text()
    assert page.locator("tr[data-officer='cb-002']").get_by_test_id("inactive").inner_text() == "Đã nghỉ"
    assert "cb-002" not in kiosk_officers(town)

    row = page.locator("tr[data-officer='cb-004']")
    row.locator("input[name=pin]").fill("246810")
    row.get_by_role("button", name="Đặt lại PIN").click()     # the demo roster gave it one
    page.wait_for_url("**/admin/roster?pin=cb-004*")
    assert "Đã đặt mã PIN mới cho cán bộ cb-004" in page.get_by_test_id("pin-saved").inner_text()
    assert protocol.check_pin("246810", kiosk_officers(town)["cb-004"]["pin_hash"])
    assert "scrypt$" not in page.content()
    page.locator("#officers").scroll_into_view_if_needed()
    shot(page, "60-roster-officer-left-pin-set")

    # the officers' form: the desk from a list with names, the procedures' letter from the four kinds
    desks = page.locator("#officers select[name=desk_id] option").all_inner_texts()
    assert any(t.startswith("Quầy số 1") for t in desks)
    letters = page.locator("#procedures select[name=letter] option").all_inner_texts()
    assert letters[1:] == ["Thư cảm ơn", "Thư xin lỗi và hẹn lại", "Thư chúc mừng", "Thư chia buồn"]

    page.goto(town.url + "/admin/letters")
    officers = page.locator("#officers option").evaluate_all("els => els.map(e => e.value)")
    assert "Trần Văn Đức" not in officers and "Phạm Quốc Hưng" in officers
    page.get_by_label("Loại thư").select_option("chuc_mung")
    page.get_by_label("Họ tên công dân").fill("Lê Thị Hoa")
    page.get_by_label("Mã hồ sơ").fill("H-2026-077")
    page.get_by_label("Thủ tục").fill("Đăng ký kết hôn")
    page.get_by_label("Cán bộ phụ trách").fill("Phạm Quốc Hưng")
    shot(page, "61-letters-congratulation-form")
    with page.expect_download() as got:
        page.get_by_role("button", name="Tải thư (Word)").click()
    download = got.value
    assert download.suggested_filename == "thu-chuc-mung-H-2026-077.docx"
    with open(download.path(), "rb") as fh:
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(fh.read())).paragraphs)
    assert "THƯ CHÚC MỪNG" in text and "Kính gửi: Ông/Bà Lê Thị Hoa" in text and "Đăng ký kết hôn" in text

    # an impossible date: refused, the field named, nothing typed lost
    page.get_by_label("Loại thư").select_option("xin_loi_hen_lai")
    page.get_by_label("Ngày hẹn mới (dd/mm/yyyy)").fill("31/02/2026")
    page.get_by_role("button", name="Tải thư (Word)").click()
    page.wait_for_load_state()
    assert "31/02/2026 không phải một ngày có thật" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Họ tên công dân").input_value() == "Lê Thị Hoa"
    assert page.get_by_label("Ngày hẹn mới (dd/mm/yyyy)").input_value() == "31/02/2026"
    assert page.get_by_label("Loại thư").input_value() == "xin_loi_hen_lai"
    shot(page, "62-letters-bad-date-kept")

    # English
    page.goto(town.url + "/lang/en?next=/admin/roster")
    assert page.locator("tr[data-officer='cb-002']").get_by_test_id("inactive").inner_text() == "Inactive"
    assert page.locator("tr[data-officer='cb-002']").get_by_role("button", name="Reactivate").is_visible()
    page.locator("#officers").scroll_into_view_if_needed()
    shot(page, "63-roster-officers-en")
    page.goto(town.url + "/admin/letters")
    assert page.locator("select[name=kind] option").all_inner_texts() == [
        "Thank-you letter", "Apology with a new date", "Congratulation", "Condolence"]
    page.locator("select[name=kind]").select_option("xin_loi_hen_lai")
    page.locator("input[name=name]").fill("Lê Thị Hoa")
    page.locator("input[name=new_date]").fill("31/02/2026")
    page.locator("button.primary").click()
    page.wait_for_load_state()
    assert "31/02/2026 is not a real date" in page.get_by_role("alert").inner_text()
    shot(page, "64-letters-bad-date-en")
    ctx.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_roster_and_letters_at_phone_width(town, browser, lang):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + f"/lang/{lang}?next=/admin/roster")
    page.locator("#officers").scroll_into_view_if_needed()
    shot(page, f"65-roster-phone-{lang}")
    pin = page.locator("tr[data-officer='cb-004'] input[name=pin]")
    assert pin.bounding_box()["width"] > 40
    # the officers' table scrolls inside its card, the page itself is no wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1
    page.goto(town.url + "/admin/letters")
    shot(page, f"66-letters-phone-{lang}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 1, width
    ctx.close()
