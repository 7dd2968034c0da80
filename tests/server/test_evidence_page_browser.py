"""The evidence page in Chromium: an admin picks a quarter, clicks the button, and the file the browser saves
verifies with `hailong verify-pack --key <the key the page shows>`. Screenshots on a desktop and a
360 px phone go to test-artifacts/admin/ (evidence-*.png); the page must not scroll sideways on the phone.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import ROOT
from town import Town, shot, sign_in

from sync import cli_i18n, evidence

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make system-packages)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def town(module_town_db, tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("evidence-page"), db=module_town_db)
    yield t
    t.stop()


def test_an_admin_downloads_a_quarters_pack_that_verifies(browser, town, tmp_path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.get_by_role("navigation").get_by_role("link", name="Hồ sơ kiểm chứng").click()
    page.wait_for_url(town.url + "/admin/evidence")
    shown = page.get_by_test_id("public-key").inner_text()
    key = evidence.normal_key(shown)
    assert key is not None
    page.get_by_label("Kỳ").select_option("2026-Q4")
    shot(page, "evidence-desktop")
    with page.expect_download() as info:
        page.get_by_role("button", name="Tải hồ sơ kiểm chứng (.zip)").click()
    download = info.value
    assert download.suggested_filename == "hoso-kiem-chung-2026-Q4.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    env = {k: v for k, v in os.environ.items() if k not in cli_i18n.ENV_VARS}
    done = subprocess.run([sys.executable, "-m", "hailong.cli", "verify-pack", str(saved), "--key", shown],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env={**env, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 đánh giá của 1 ki-ốt" in done.stdout
    page.goto(town.url + "/lang/en?next=/admin/evidence")
    page.wait_for_url(town.url + "/admin/evidence")
    assert page.get_by_role("button", name="Download the evidence pack (.zip)").is_visible()
    shot(page, "evidence-desktop-en")
    ctx.close()


def test_the_page_fits_a_phone(browser, town):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                              locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, town, "an", "mật-khẩu-quản-trị")
    page.goto(town.url + "/admin/evidence")
    assert page.get_by_role("button", name="Tải hồ sơ kiểm chứng (.zip)").is_visible()
    shot(page, "evidence-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    ctx.close()
