"""The admin's web pages in a real browser (Debian's Chromium via Playwright) on a real server.

The town is set up the way an admin does it: ``hailong admin`` creates the
users and enrols a kiosk, ``import-roster`` loads the demo roster, and the
ratings arrive through the sync API as a signed batch. The ratings are the
hand-checked ones of test_stats (quarter IV 2026: 75,0 % overall, cb-001
66,7 %). Screenshots of every page go to test-artifacts/admin/.
"""
from __future__ import annotations

import csv
import io

import pytest
from helpers import ROOT
from town import Town, shot, sign_in


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    yield t
    t.stop()


def test_admin_signs_in_filters_a_quarter_opens_an_officer_acks_an_alert_and_exports(town, browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="vi-VN")
    page = ctx.new_page()
    page.goto(town.url + "/login")
    page.get_by_label("Tên đăng nhập").fill("an")
    page.get_by_label("Mật khẩu").fill("sai-mật-khẩu")
    page.get_by_role("button", name="Đăng nhập").click()
    assert "Sai tên đăng nhập hoặc mật khẩu." in page.locator(".error").inner_text()
    shot(page, "01-login-wrong-password")

    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.get_by_label("Kỳ báo cáo").select_option("2026-Q4")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url("**/admin?period=2026-Q4*")
    assert page.locator("h1").inner_text() == "Kết quả khảo sát — Quý IV năm 2026"
    assert page.get_by_test_id("rate").inner_text() == "75,0%"
    assert "6 lượt hài lòng (mọi mức) / 8 lượt hợp lệ" in page.locator(".kpi.main").inner_text()
    officers = page.locator("section.card", has_text="Theo cán bộ")
    first = officers.locator("tbody tr").first.inner_text()
    assert "Phạm Quốc Hưng" in first and "100,0%" in first
    assert page.locator("svg").count() >= 1           # the trend chart, drawn on the server
    shot(page, "02-dashboard-q4")

    officers.get_by_role("link", name="Nguyễn Thị Hồng Nhung").click()
    page.wait_for_url("**/admin/officers/cb-001?*")
    assert page.get_by_test_id("officer-name").inner_text() == "Nguyễn Thị Hồng Nhung"
    assert page.get_by_test_id("rate").inner_text() == "66,7%"
    assert "Phải đi lại ba lần" in page.locator("ul.comments").inner_text()
    shot(page, "03-officer")

    page.get_by_role("link", name="Cảnh báo").click()
    page.wait_for_url("**/admin/alerts")
    row = page.locator("tr.kind-nhung_nhieu")
    assert row.count() == 1 and "Trần Văn Đức" in row.inner_text() and "Đòi tiền" in row.inner_text()
    shot(page, "04-alerts-open")
    row.get_by_label("Ghi chú xử lý").fill("Đã mời công dân lên làm việc, chuyển thanh tra xã")
    row.get_by_role("button", name="Đã xử lý").click()
    page.wait_for_url("**/admin/alerts")
    assert page.locator("tr.kind-nhung_nhieu").count() == 0
    done = page.locator("section.card", has_text="Đã xử lý").locator("tbody tr", has_text="Đòi tiền")
    assert "Đã mời công dân lên làm việc" in done.inner_text() and "an" in done.inner_text()
    shot(page, "05-alerts-acknowledged")

    page.get_by_role("link", name="Ki-ốt").click()
    page.wait_for_url("**/admin/kiosks")
    kiosk = page.locator("tr[data-kiosk='ki-ot-1']")
    assert "12" in kiosk.inner_text() and "Bình thường" in kiosk.inner_text()
    assert "Đã thu hồi" in page.locator("tr[data-kiosk='ki-ot-cu']").inner_text()
    shot(page, "06-kiosks")

    page.goto(town.url + "/admin?period=2026-Q4&desk=quay-2")
    with page.expect_download() as dl:
        page.get_by_role("link", name="CSV").click()
    path = tmp_path / "export.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert len(rows) == 3                      # quầy 2 in Q4: seq of 20/11, 01/12 (misuse), 31/12
    assert {r["Cán bộ"] for r in rows} == {"Phạm Quốc Hưng"}
    assert [r["Tính vào tỷ lệ"] for r in rows] == ["Có", "Không", "Có"]

    page.get_by_role("link", name="EN").click()
    page.wait_for_url("**/admin?period=2026-Q4&desk=quay-2")
    assert page.locator("h1").inner_text() == "Survey results — Quarter IV 2026"
    assert page.get_by_role("link", name="Alerts").count() == 1
    shot(page, "07-dashboard-english")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(town.url + "/admin")
    assert "/login" in page.url
    ctx.close()


def test_viewer_reads_but_cannot_acknowledge(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in(page, town, "binh", "mật-khẩu-xem")
    assert "(chỉ xem)" in page.locator(".who").inner_text()
    page.goto(town.url + "/admin/alerts")
    assert page.get_by_role("button", name="Đã xử lý").count() == 0
    shot(page, "08-alerts-viewer")
    page.get_by_role("link", name="Danh mục").click()
    page.wait_for_url("**/admin/roster")
    assert page.locator("#officers tbody tr").count() == 5
    assert page.get_by_role("button", name="Thêm / sửa").count() == 0
    shot(page, "09-roster-viewer")
    page.get_by_role("link", name="Thư", exact=True).click()
    page.wait_for_url("**/admin/letters")
    page.get_by_label("Loại thư").select_option("xin_loi_hen_lai")
    page.get_by_label("Họ tên công dân").fill("Nguyễn Văn An")
    page.get_by_label("Ngày hẹn mới (dd/mm/yyyy)").fill("05/12/2026")
    shot(page, "10-letters")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Tải thư (Word)").click()
    assert dl.value.suggested_filename == "thu-xin-loi-hen-lai-ho-so.docx"
    ctx.close()


def test_every_page_string_has_an_english_translation():
    import re

    from babel.messages.pofile import read_po
    with (ROOT / "assets/locale/en/LC_MESSAGES/hailong_server.po").open("rb") as fh:
        english = {m.id: m.string for m in read_po(fh) if m.id}
    server = ROOT / "sync" / "server"
    used = set()
    for path in [*server.glob("web/templates/*.html"), *server.glob("web/*.py"), *server.glob("reports/*.py")]:
        used |= set(re.findall(r'''\b(?:_|tr)\(\s*["']([^"']+)["']\s*[,)]''', path.read_text()))
    from sync.server.core.alerts import KIND_LABELS
    used |= set(KIND_LABELS.values())
    missing = sorted(s for s in used if not english.get(s))
    assert not missing, missing
