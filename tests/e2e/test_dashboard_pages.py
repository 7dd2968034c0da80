"""The dashboard, the comments page, the kiosks page and the 404 page in a real browser (issue 10),
at a desktop's width and a phone's (360×740), in Vietnamese and in English.

The town is tests/town.py's Town (the hand-checked quarter IV 2026) with one more kiosk enrolled
just before the pages are opened. Screenshots go to test-artifacts/admin/issue10/.
"""
from __future__ import annotations

import pytest
from helpers import ARTIFACTS
from town import Town, hailong, sign_in

SHOTS = ARTIFACTS / "admin" / "issue10"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 740}}
WORDS = {
    "vi": {"satisfied": "Hài lòng (mọi mức)", "all": "Xem tất cả", "never": "Chưa kết nối lần nào (đăng ký lúc",
           "silent": "Im lặng quá lâu", "comments": "Ý kiến của người dân", "404": "Không tìm thấy trang",
           "back": "Về trang tổng quan"},
    "en": {"satisfied": "Satisfied (all levels)", "all": "See all", "never": "Never connected yet (enrolled",
           "silent": "Silent too long", "comments": "Citizens' comments", "404": "Page not found",
           "back": "Back to the dashboard"},
}


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    hailong(t.db, "admin", "enrol-kiosk", "--kiosk-id", "ki-ot-moi", "--unit", "13321", "--json")
    yield t
    t.stop()


def _shot(page, name):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (name, width)     # wide tables scroll in their card
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_dashboard_comments_kiosks_and_404(town, browser, lang, size):
    w = WORDS[lang]
    ctx = browser.new_context(viewport=SIZES[size], locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    if lang == "en":
        page.goto(town.url + "/lang/en?next=/admin")
    page.goto(town.url + "/admin?period=2026-Q4")
    officers = page.locator("section.card", has=page.locator("a[href^='/admin/officers/']")).first
    assert w["satisfied"] in officers.locator("thead").inner_text()
    assert "6" in page.get_by_test_id("satisfied-sum").inner_text()
    _shot(page, f"{size}-{lang}-1-dashboard")

    page.goto(town.url + "/admin/comments?period=2026-Q4")
    assert w["comments"] in page.locator("h1").inner_text()
    assert page.locator("ul.comments li").count() == 3
    assert "Phải đi lại ba lần" in page.locator("ul.comments").inner_text()
    _shot(page, f"{size}-{lang}-2-comments")

    page.goto(town.url + "/admin/kiosks")
    new = page.locator("tr[data-kiosk='ki-ot-moi']").inner_text()
    assert w["never"] in new and w["silent"] not in new
    _shot(page, f"{size}-{lang}-3-kiosks")

    response = page.goto(town.url + "/admin/no-such-page")
    assert response.status == 404
    assert w["404"] in page.locator("h1").inner_text()
    page.get_by_role("link", name=w["back"]).click()
    page.wait_for_url("**/admin")
    page.goto(town.url + "/admin/no-such-page")
    _shot(page, f"{size}-{lang}-4-404")
    if lang == "en":
        page.goto(town.url + "/lang/vi?next=/admin")
    ctx.close()
