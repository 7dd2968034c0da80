"""The alerts page in a real browser (Debian's Chromium via Playwright) on a real server (issue 10).

The Town of tests/town.py (its one harassment rating of cb-002, "Đòi tiền") and a second kiosk
that sends, as a kiosk does, harassment of cb-002 in each of six past months and a hole of three
seqs. The admin filters by kind and officer, acknowledges two groups at once with one note, one
more with its own button, and reads it all in English and on a phone (360×740). Screenshots go to
test-artifacts/admin/alerts-*.png.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
import requests
from town import Town, hailong, shot, sign_in

from sync import protocol
from sync.server.core.clock import VN_TZ

MONTHS = 6


def month_back(n: int) -> datetime:
    today = datetime.now(VN_TZ)
    total = today.year * 12 + today.month - 1 - n
    return datetime(total // 12, total % 12 + 1, 12, 10, 30, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("town"))
    kiosk = json.loads(hailong(t.db, "admin", "enrol-kiosk", "--kiosk-id", "ki-ot-2", "--unit", "13321", "--json"))
    records, prev, seq = [], protocol.ZERO_HASH, 0
    for n in range(MONTHS, 0, -1):
        for i in range(n):                       # n ratings in the month n months back
            seq += 1
            if n == 2 and i == 0:
                seq += 3                         # seqs never sent: a gap
                prev = "ab" * 32
            rec = protocol.seal({
                "id": str(uuid.uuid4()), "kiosk_id": "ki-ot-2", "seq": seq,
                "created_at": month_back(n).replace(minute=i).isoformat(), "unit_code": "13321",
                "desk_id": "quay-1", "officer_id": "cb-002", "dossier_code": None, "procedure_code": None,
                "receipt_id": None, "level": 1, "reasons": ["nhung_nhieu"], "comment": f"Gợi ý bồi dưỡng {n}-{i}",
                "source": "walk_up", "flags": []}, prev, kiosk["key"])
            prev = rec["hash"]
            records.append(rec)
    body = {"kiosk_id": "ki-ot-2", "sent_at": datetime.now(timezone.utc).isoformat(), "ratings": records}
    r = requests.post(t.url + protocol.PATH_BATCH, json=body, timeout=30, headers={
        "Authorization": f"Bearer {kiosk['token']}", "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 200, r.text
    yield t
    t.stop()


def groups(page):
    return page.locator("#groups tbody tr")


def test_admin_filters_acknowledges_groups_and_reads_it_in_english(town, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.get_by_role("link", name="Cảnh báo").click()
    page.wait_for_url("**/admin/alerts")
    text = page.locator("main").inner_text()
    assert "[cb-" not in text and "seq " not in text and "cb-002" not in text
    assert "Thiếu các phiếu số" in text and "ki-ốt ki-ot-2 (UBND xã Đồng Tâm)" in text
    shot(page, "alerts-01-open")

    page.locator("select[name=kind]").select_option("nhung_nhieu")
    page.locator("select[name=subject]").select_option("cb-002")
    page.get_by_role("button", name="Lọc").click()
    page.wait_for_url("**/admin/alerts?*kind=nhung_nhieu*")
    assert "subject=cb-002" in page.url
    # one group per month: the six past months and the Town's November (2026-11) unless it is one of them
    months = {month_back(n).strftime("%Y-%m") for n in range(1, MONTHS + 1)} | {"2026-11"}
    assert groups(page).count() == len(months)
    newest = groups(page).first
    assert "Trần Văn Đức — Quầy số 1 — Tư pháp, Hộ tịch" in newest.inner_text()
    assert newest.get_by_role("link", name="Xem các đánh giá của cán bộ trong tháng").count() == 1
    shot(page, "alerts-02-filtered")

    # two groups at once, one note
    chosen = [groups(page).nth(i).get_attribute("data-group") for i in (0, 1)]
    for key in chosen:
        page.locator(f'tr[data-group="{key}"] input[type=checkbox]').check()
    page.get_by_label("Ghi chú cho các mục đã chọn").fill("Đã làm việc với anh Đức, báo cáo Chủ tịch")
    page.get_by_role("button", name="Xác nhận đã xem các mục đã chọn").click()
    page.wait_for_url("**/admin/alerts?*kind=nhung_nhieu*")
    assert "Đã xác nhận 2 cảnh báo." in page.locator(".saved").inner_text()
    assert groups(page).count() == len(months) - 2
    recent = page.locator("#recent tbody tr")
    assert recent.count() == 2
    assert all("Đã làm việc với anh Đức" in recent.nth(i).inner_text() for i in (0, 1))
    shot(page, "alerts-03-two-acknowledged")

    # one group with its own button, as before
    row = groups(page).first
    row.get_by_label("Ghi chú xử lý").fill("Đã mời công dân lên làm việc")
    row.get_by_role("button", name="Đã xử lý").click()
    page.wait_for_url("**/admin/alerts?*kind=nhung_nhieu*")
    assert groups(page).count() == len(months) - 3
    assert "Đã mời công dân lên làm việc" in page.locator("#recent").inner_text()

    page.get_by_role("link", name="EN").click()
    page.wait_for_url("**/admin/alerts?*kind=nhung_nhieu*")
    text = page.locator("main").inner_text()
    assert "Harassment reported against Trần Văn Đức" in text
    assert page.get_by_role("button", name="Acknowledge the chosen groups").count() == 1
    assert "Phản ánh nhũng nhiễu đối với" not in text
    shot(page, "alerts-04-english")
    page.goto(town.url + "/admin/alerts?kind=gap")
    assert "Ratings no." in page.locator("#groups").inner_text()
    shot(page, "alerts-05-english-gap")
    ctx.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_alerts_page_on_a_phone(town, browser, lang):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    if lang == "en":
        page.goto(town.url + "/lang/en?next=/admin/alerts")
    page.goto(town.url + "/admin/alerts")
    assert groups(page).count() >= 2
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 2, width                        # no sideways scrolling
    button = page.locator("form.bulk button")
    assert button.bounding_box()["width"] <= 360
    shot(page, f"alerts-06-phone-{lang}")
    ctx.close()
