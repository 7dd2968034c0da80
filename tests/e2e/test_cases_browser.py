"""The cases pages in a real browser (Debian's Chromium via Playwright) on a real server (issue 11).

The Town of tests/town.py holds one nhũng nhiễu rating of cb-002 ("Đòi tiền", November 2026): the
server opened its case when the rating arrived. The admin goes from the menu to the list, opens
the case, reads its cause, is refused closing it without an action (the typed text kept), records
an action, closes it and sees it closed; then reads it in English and on a phone (360×740).
Screenshots go to test-artifacts/admin/cases-*.png.
"""
from __future__ import annotations

import pytest
from town import Town, shot, sign_in


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    yield t
    t.stop()


def test_list_case_action_close_and_see_it_closed(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.get_by_role("link", name="Vụ việc").first.click()
    page.wait_for_url("**/admin/cases")
    rows = page.locator("table.cases tbody tr")
    assert rows.count() == 1
    assert "Phản ánh nhũng nhiễu" in rows.first.inner_text() and "Trần Văn Đức" in rows.first.inner_text()
    shot(page, "cases-01-list")

    rows.first.get_by_role("link").first.click()
    page.wait_for_url("**/admin/cases/1")
    text = page.locator("main").inner_text()
    assert "Vụ việc số 1 · Phản ánh nhũng nhiễu" in text
    assert "Phản ánh nhũng nhiễu đối với Trần Văn Đức" in text and "Đòi tiền" in text
    assert page.get_by_test_id("case-status").inner_text() == "Mở"

    # closing without an action: refused, naming what is missing, with the typed text kept
    page.get_by_label("Nguyên nhân tìm được").fill("Cán bộ gợi ý bồi dưỡng")
    page.get_by_role("button", name="Đóng vụ việc").click()
    error = page.get_by_test_id("case-error")
    assert "còn thiếu ít nhất một biện pháp đã thực hiện, kết quả xử lý" in error.inner_text()
    assert page.get_by_label("Nguyên nhân tìm được").input_value() == "Cán bộ gợi ý bồi dưỡng"
    shot(page, "cases-02-refused")

    form = page.get_by_test_id("action-form")
    form.get_by_label("Biện pháp").select_option("kiem_diem")
    form.get_by_label("Nội dung").fill("Họp kiểm điểm, cán bộ nhận khuyết điểm")
    form.get_by_role("button", name="Ghi biện pháp").click()
    page.wait_for_url("**/admin/cases/1?done=action*")
    log = page.get_by_test_id("case-log").inner_text()
    assert "Kiểm điểm" in log and "Họp kiểm điểm, cán bộ nhận khuyết điểm" in log and "an" in log
    assert page.get_by_test_id("case-status").inner_text() == "Đang xử lý"

    page.get_by_label("Nguyên nhân tìm được").fill("Cán bộ gợi ý bồi dưỡng")
    page.get_by_label("Kết quả xử lý").fill("Đã kiểm điểm, xin lỗi công dân")
    page.get_by_role("button", name="Đóng vụ việc").click()
    page.wait_for_url("**/admin/cases/1?done=closed*")
    assert page.get_by_test_id("case-status").inner_text() == "Đóng"
    assert page.get_by_test_id("case-outcome").inner_text() == "Đã kiểm điểm, xin lỗi công dân"
    assert page.get_by_role("button", name="Mở lại vụ việc").is_visible()
    shot(page, "cases-03-closed")

    page.goto(town.url + "/admin/cases")
    assert page.locator("table.cases tbody tr").count() == 0                 # not closed: none left
    page.goto(town.url + "/admin/cases?status=closed")
    assert "Đóng" in page.locator("table.cases tbody tr").first.inner_text()

    page.goto(town.url + "/lang/en?next=/admin/cases/1")
    text = page.locator("main").inner_text()
    assert "Case no. 1" in text and "Case log" in text and "Self-criticism review" in text
    shot(page, "cases-04-english")
    page.goto(town.url + "/lang/vi?next=/admin/cases")
    ctx.close()


def test_the_case_pages_on_a_phone(town, browser):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN", device_scale_factor=2)
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    for path, name in (("/admin/cases?status=all", "cases-05-phone-list"), ("/admin/cases/1", "cases-06-phone-case"),
                       ("/admin/cases/new?officer=cb-002", "cases-07-phone-new")):
        page.goto(town.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360 + 1, (path, width)            # nothing runs off the screen: tables scroll in their card
        shot(page, name)
    ctx.close()
