"""The phone page in Chromium at a phone's size (issue 15): a receipt's URL opens the page, one tap on a
level and one on "Gửi đánh giá" store the rating once, a second try is refused kindly, a forged receipt
gets its own page; the page is light and fits 360 px. Screenshots in test-artifacts/phone/."""
from __future__ import annotations

import time

import pytest
from helpers import ARTIFACTS
from sqlalchemy import select
from town import Town

from sync import protocol
from sync.server.core import db
from sync.server.core.settings import receipt_key

SHOTS = ARTIFACTS / "phone"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "vi-VN"}


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    t = Town(tmp_path_factory.mktemp("phone"))
    engine = db.make_engine(str(t.db))
    with engine.connect() as conn:
        t.receipt_key = receipt_key(conn)
    t.engine = engine
    yield t
    engine.dispose()
    t.stop()


def receipt_url(town, officer="cb-001", dossier="H12.34-000777", key=None) -> tuple[str, str]:
    fields = protocol.receipt_fields("13321", "quay-1", officer, dossier, "1.001193", int(time.time()) - 120)
    url = protocol.make_receipt_token(fields, key or town.receipt_key, base_url=town.url)
    payload = url.rsplit("/r/", 1)[1].split(".")[0]
    return url, protocol.receipt_id(payload)


def shot(page, name):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, (name, width)          # nothing wider than the phone: no sideways scrolling
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def held(town, rid):
    with town.engine.connect() as conn:
        return conn.execute(select(db.ratings.c.kiosk_id, db.ratings.c.level, db.ratings.c.source)
                            .where(db.ratings.c.receipt_id == rid)).all()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_citizen_rates_on_the_phone_once(town, browser, lang):
    url, rid = receipt_url(town, dossier=f"H12.34-{lang}")
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sizes = []
    page.on("response", lambda r: sizes.append(len(r.body())) if r.ok and r.request.method == "GET" else None)
    page.goto(url)
    if lang == "en":
        page.get_by_role("link", name="EN").tap()
        page.wait_for_url(url)
    assert "Nguyễn Thị Hồng Nhung" in page.get_by_test_id("officer").inner_text()
    assert page.locator("img").evaluate("i => i.naturalWidth") > 0          # the officer's photo came
    assert page.locator("script").count() == 0
    assert sum(sizes) < 200_000, sizes                                       # a slow link: small page
    shot(page, f"{lang}-1-ask")
    level = {"vi": "Rất hài lòng", "en": "Very satisfied"}[lang]
    page.get_by_text(level, exact=True).tap()
    box = page.get_by_role("button").bounding_box()
    assert box["height"] >= 56 and box["width"] >= 300                      # a big target
    page.get_by_role("button", name={"vi": "Gửi đánh giá", "en": "Send my rating"}[lang]).tap()
    done = {"vi": "Đánh giá của Ông/Bà đã được ghi nhận", "en": "Your rating has been recorded"}[lang]
    page.get_by_text(done).wait_for()
    assert level not in page.content()
    # the public log's check, done by the phone itself against the server's published key
    page.locator("[data-testid=log-check][data-verified=yes]").wait_for()
    assert page.locator("[data-ok]").is_visible() and not page.locator("[data-bad]").is_visible()
    shot(page, f"{lang}-2-done")
    assert held(town, rid) == [("WEB-13321", 3, "phone")]

    page.goto(url)                                                          # the same receipt again
    used = {"vi": "Phiếu này đã được dùng để đánh giá", "en": "This receipt has already been used to rate"}[lang]
    page.get_by_text(used).wait_for()
    shot(page, f"{lang}-3-already")
    assert len(held(town, rid)) == 1

    forged, _ = receipt_url(town, key="cd" * 32)
    page.goto(forged)
    page.get_by_text({"vi": "Phiếu không hợp lệ", "en": "Invalid receipt"}[lang]).wait_for()
    shot(page, f"{lang}-4-forged")
    if lang == "en":
        page.goto(town.url + "/lang/vi?next=/login")
    ctx.close()


def test_choosing_nothing_says_so_in_the_page(town, browser):
    url, rid = receipt_url(town, dossier="H12.34-none")
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(url)
    page.get_by_role("button", name="Gửi đánh giá").tap()
    # the browser's own check (required) stops the send: nothing is stored, the page stays
    assert page.url == url and held(town, rid) == []
    assert page.locator("input[name=level]:invalid").count() > 0
    ctx.close()


def test_anyone_looks_a_receipt_up_in_the_public_log_and_a_forged_proof_fails(town, browser):
    url, rid = receipt_url(town, dossier="H12.34-log")
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(url)
    page.locator("main").get_by_text("Hài lòng", exact=True).tap()
    page.get_by_role("button", name="Gửi đánh giá").tap()
    page.locator("[data-testid=log-check][data-verified=yes]").wait_for()

    page.goto(town.url + "/log")
    page.get_by_label("Mã phiếu (đường dẫn trong mã QR, hoặc mã tra cứu 16 ký tự)").fill(rid)
    page.get_by_role("button", name="Tra cứu").tap()
    page.locator("[data-testid=log-check][data-verified=yes]").wait_for()
    assert "Hài lòng" not in page.locator("main").inner_text()          # never the level
    shot(page, "vi-5-lookup")

    # the same page with one byte of the signed root changed: the phone's own check says it does not match
    note = page.locator("#log-check").get_attribute("data-note")
    lines = note.split("\n")
    root = lines[2]
    lines[2] = ("B" if root[0] != "B" else "C") + root[1:]
    page.evaluate("n => document.getElementById('log-check').setAttribute('data-note', n)", "\n".join(lines))
    page.evaluate("() => { const b = document.getElementById('log-check'); b.removeAttribute('data-verified');"
                  " b.querySelector('[data-ok]').hidden = true; }")
    page.add_script_tag(url="/static/log-check.js")
    page.locator("[data-testid=log-check][data-verified=no]").wait_for()
    assert page.locator("[data-bad]").is_visible()

    page.goto(town.url + "/log?code=" + "f" * 16)
    assert page.get_by_test_id("log-none").is_visible()
    page.goto(town.url + "/log?code=%3Cscript%3E")
    assert "Mã này không đọc được" in page.content()
    ctx.close()
