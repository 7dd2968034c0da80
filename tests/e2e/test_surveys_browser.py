"""The surveys pages in a real browser (Debian's Chromium via Playwright) on a real server (issue 12).

An admin goes from the menu to the surveys, starts a campaign from the Front's template, is refused
saving it without an English title (the field named, what was typed kept), fixes it, chooses desk
quay-1, saves, sees it listed as running at quay-1 (and quay-2 still asking the default), previews
it as the kiosk shows it in Vietnamese and English, and stops it early (quay-1 back on the default); then the list, the
form and the preview on a phone (360×740), in both languages. Screenshots go to
test-artifacts/admin/surveys-*.png.
"""
from __future__ import annotations

import pytest
from town import Town, shot, sign_in

from sync.server.reports import periods


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    yield t
    t.stop()


def _no_wider_than_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 362, f"the page is {width} px wide on a 360 px phone"


def test_write_a_front_campaign_see_it_running_at_quay_1_and_preview_it(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.get_by_role("link", name="Khảo sát", exact=True).first.click()
    page.wait_for_url("**/admin/surveys")
    assert "Mức độ hài lòng (3 mức)" in page.get_by_test_id("survey-list").inner_text()
    shot(page, "surveys-01-list")

    page.get_by_test_id("tpl-mttq-can-bo").click()
    page.wait_for_url("**/admin/surveys/new?from=mttq-can-bo")
    page.get_by_label("Mã khảo sát (chữ không dấu, số, - _)").fill("mttq-dot-1")
    page.get_by_label("Đơn vị thực hiện (hiện cho công dân: «Khảo sát của …»)").fill(
        "Ủy ban MTTQ Việt Nam xã Đồng Tâm")
    page.get_by_label("Tên khảo sát (tiếng Anh)").fill("")
    page.get_by_test_id("desk-quay-1").check()
    page.get_by_test_id("save").click()
    error = page.locator('.field-error[data-field="title_en"]')
    assert error.inner_text() == "chưa điền"
    assert page.get_by_label("Mã khảo sát (chữ không dấu, số, - _)").input_value() == "mttq-dot-1"   # kept
    assert page.get_by_test_id("desk-quay-1").is_checked()
    shot(page, "surveys-02-refused")

    page.get_by_label("Tên khảo sát (tiếng Anh)").fill("Survey of officers' conduct")
    page.get_by_test_id("save").click()
    page.wait_for_url("**/admin/surveys/mttq-dot-1?saved=1")
    assert page.get_by_test_id("state").inner_text() == "Đang chạy"
    shot(page, "surveys-03-saved")

    page.get_by_role("link", name="← Khảo sát").click()
    page.wait_for_url("**/admin/surveys")
    row = page.locator('tr[data-survey="mttq-dot-1"]')
    assert "Đang chạy" in row.inner_text() and "Quầy số 1" in row.inner_text()
    assert "mttq-dot-1" in page.locator('tr[data-desk="quay-1"]').inner_text()
    assert "mttq-dot-1" not in page.locator('tr[data-desk="quay-2"]').inner_text()
    shot(page, "surveys-04-running")

    page.goto(town.url + "/admin/surveys/mttq-dot-1/preview")
    screens = page.locator("section.kiosk")
    assert screens.count() == 1 + 4 + 2          # the headline, four questions, reasons, comment
    assert "Khảo sát của Ủy ban MTTQ Việt Nam xã Đồng Tâm" in screens.first.inner_text()
    assert "Cán bộ lắng nghe ý kiến của ông/bà" in page.locator("main").inner_text()
    big = page.locator(".kiosk-btn").first.bounding_box()
    assert big["height"] >= 60                      # big buttons, as on the kiosk
    shot(page, "surveys-05-preview-vi")
    page.get_by_test_id("preview-en").click()
    page.wait_for_url("**/preview?lang=en")
    assert "The officer listened to you" in page.locator("main").inner_text()
    shot(page, "surveys-06-preview-en")

    # stopped now (the box must be ticked first): quay-1 asks the default again
    page.goto(town.url + "/admin/surveys/mttq-dot-1")
    page.get_by_test_id("end-confirm").check()
    page.get_by_role("button", name="Kết thúc đợt khảo sát ngay").click()
    page.wait_for_url("**/admin/surveys/mttq-dot-1?ended=1")
    assert page.get_by_test_id("state").inner_text() == "Đã dừng sớm"
    shot(page, "surveys-07-stopped")
    page.goto(town.url + "/admin/surveys")
    assert "mttq-dot-1" not in page.locator('tr[data-desk="quay-1"]').inner_text()
    ctx.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_pages_on_a_phone(town, browser, lang):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    if lang == "en":
        page.goto(town.url + "/lang/en?next=/admin/surveys")
    for name, path in (("list", "/admin/surveys"), ("form", "/admin/surveys/new?from=danh-gia-ho-so"),
                       ("preview", "/admin/surveys/hl3/preview"), ("results", "/admin/surveys/hl3")):
        page.goto(town.url + path)
        _no_wider_than_the_phone(page)
        shot(page, f"surveys-phone-{lang}-{name}")
    if lang == "en":
        assert "Surveys" in page.locator("main").inner_text() or "Survey" in page.locator("main").inner_text()
    assert periods.today_vn()
    ctx.close()
