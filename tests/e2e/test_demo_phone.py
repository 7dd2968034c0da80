"""Issue 15's "done when", in `make demo`: a receipt printed the way the staff panel prints it carries the
phone page's URL in its QR (the demo points the unit's public base URL at its own server); that URL,
read back from the printed PNG with zxing, opens the phone page in Chromium at a phone's size; the
rating lands once, in the unit's WEB- chain, with the public log's check done in the page; a second try
is refused."""
import json
import subprocess
import sys

import requests
import zxingcpp
from helpers import ARTIFACTS, ROOT, free_port, http_ok, wait_until
from PIL import Image
from test_demo import stop_demo

from hailong.demo import DEMO_ADMIN

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "vi-VN"}


def test_a_demo_receipt_opens_the_phone_page_and_rates_once(xvfb, tmp_path, browser):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([sys.executable, "-m", "hailong", "demo", "--dir", str(tmp_path), "--port", str(port)],
                            cwd=ROOT, env=xvfb, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_until(lambda: http_ok(base + "/healthz"), 120, what="the demo's server", step=0.5)

        def printed():     # the staff panel's Printer ([printer] save_dir); the key and URL come by sync
            proc = subprocess.run([sys.executable, "-m", "hailong", "receipt", "print", "--config",
                                   str(tmp_path / "config.toml"), "--officer", "cb-001", "--dossier", "HS-PHONE-1"],
                                  cwd=ROOT, capture_output=True, text=True)
            pngs = sorted((tmp_path / "prints").glob("*-receipt-*.png"))
            if proc.returncode != 0 or not pngs:
                return None
            found = zxingcpp.read_barcodes(Image.open(pngs[-1]))
            url = found[0].text if found else ""
            return url if url.startswith(base + "/r/") else None   # before the first sync: HL1.… or no key
        url = wait_until(printed, 90, what="a demo receipt whose QR is the phone page's URL", step=1)

        ctx = browser.new_context(**PHONE)
        page = ctx.new_page()
        page.goto(url)
        assert "HS-PHONE-1" in page.get_by_test_id("officer").inner_text()
        shots = ARTIFACTS / "phone"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "demo-1-ask.png"), full_page=True)
        page.locator("main").get_by_text("Rất hài lòng", exact=True).tap()
        page.get_by_role("button", name="Gửi đánh giá").tap()
        page.get_by_text("Đánh giá của Ông/Bà đã được ghi nhận").wait_for()
        page.locator("[data-testid=log-check][data-verified=yes]").wait_for()
        page.screenshot(path=str(shots / "demo-2-done.png"), full_page=True)
        page.goto(url)
        page.get_by_text("Phiếu này đã được dùng để đánh giá").wait_for()
        ctx.close()

        token = subprocess.run([sys.executable, "-m", "hailong", "admin", "--db", str(tmp_path / "town.db"),
                                "create-token", "--username", DEMO_ADMIN[0], "--json"], cwd=ROOT, capture_output=True,
                               text=True)
        assert token.returncode == 0, token.stderr     # read the rating back through the admin API
        tok = json.loads(token.stdout)["token"]
        rows = requests.get(base + "/api/v1/ratings", params={"limit": 5000},
                            headers={"Authorization": f"Bearer {tok}"}, timeout=10).json()["ratings"]
        mine = [r for r in rows if r["dossier_code"] == "HS-PHONE-1"]
        assert [(r["kiosk_id"], r["source"]) for r in mine] == [("WEB-13321", "phone")]
        # "Rất hài lòng" is the top level of the survey desk 1 asks (the demo's Front campaign: 5 levels)
        assert mine[0]["level"] == (3 if mine[0]["survey"] == "hl3" else 5)
    except BaseException:
        print((tmp_path / "demo.log").read_text("utf-8")[-4000:])
        raise
    finally:
        stop_demo(demo)
