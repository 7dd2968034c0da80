"""The kiosks page's outbox and webhook form in a real browser (Chromium via Playwright), desktop and phone.

A server whose SMTP server is down: a harassment rating's mails fail and the page shows them, with the
error and the next try, the SMTP server's address with its password hidden; the admin saves a unit's
webhook (a wrong one first: refused, kept as typed). Screenshots: test-artifacts/admin/notify-*.png.
"""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import free_port, start_server, stop, wait_until
from town import shot, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))   # the mail tests' town and kiosk
from test_notify_mail import PASSWORD, Kiosk, Receiver, make_town  # noqa: E402


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notify")
    made = make_town(tmp / "town.db", tmp)
    port = free_port()
    proc = start_server(made["db"], port, "--smtp", f"smtp://thu.dongtam:Bi-Mat-42@127.0.0.1:{free_port()}",
                        "--notify-retry-seconds", "5", log=tmp / "server.log")
    url = f"http://127.0.0.1:{port}"
    Kiosk(made, url).send({"level": 1, "reasons": ["nhung_nhieu"], "comment": "Gợi ý bồi dưỡng"})
    yield SimpleNamespace(url=url, **made)
    stop(proc)


def test_the_outbox_and_the_webhooks_on_the_kiosks_page(browser, town):
    receiver = Receiver()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, town, "lan", PASSWORD.strip())

        def failed_shown():
            page.goto(town.url + "/admin/kiosks#notify")
            return page.locator("#outbox-failed li.bad").count() >= 2
        wait_until(failed_shown, timeout=60, what="the failed mails on the page", step=0.5)
        notify = page.locator("#notify")
        text = notify.inner_text()
        assert "smtp://thu.dongtam:***@127.0.0.1" in text and "Bi-Mat-42" not in page.content()
        assert "lan@dongtam.vn" in text and "tinh@tinh.gov.vn" in text and "Connection refused" in text
        assert "Lần thử tiếp" in text

        page.locator("input[name=\"webhook:13321\"]").fill("zalo.tinh.vn/relay")
        page.get_by_role("button", name="Lưu webhook").click()
        # the browser's own check of type=url stops it first; the server refuses what gets through too
        if page.url.endswith("/admin/kiosks/webhooks"):
            assert "phải bắt đầu bằng http://" in page.locator("#webhook-error").inner_text()
        page.locator("input[name=\"webhook:13321\"]").fill(receiver.url + "/zalo")
        page.get_by_role("button", name="Lưu webhook").click()
        page.wait_for_url("**/admin/kiosks?webhooks=saved*")
        assert page.get_by_role("status").filter(has_text="Đã lưu địa chỉ webhook").is_visible()
        assert page.locator("input[name=\"webhook:13321\"]").input_value() == receiver.url + "/zalo"
        page.locator("#notify").scroll_into_view_if_needed()
        shot(page, "notify-kiosks-desktop")

        phone = browser.new_page(viewport={"width": 360, "height": 740})
        sign_in(phone, town, "lan", PASSWORD.strip())
        phone.goto(town.url + "/admin/kiosks#notify")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360 + 1   # the page fits; tables scroll
        shot(phone, "notify-kiosks-phone")
        phone.close()
    finally:
        page.close()
        receiver.close()
