"""Issue 11's "done when", on `hailong demo` as an admin meets it.

A nhũng nhiễu rating taken by the running kiosk reaches the town, opens (or
joins) the officer's case of the month and is told by e-mail: the demo's
mail catcher keeps the mail as a .eml file. The admin follows the mail's
link into the pages, records an action, closes the case; a new nhũng nhiễu
rating for the same officer reopens it and is told again. The admin
downloads the month's evidence pack from its page and `hailong verify-pack`
checks it offline against the key the page shows; the scores page shows the
year's classification. Screenshots in test-artifacts/admin/loop-*.png.
"""
from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import requests
from helpers import ROOT, free_port, wait_until
from test_demo import stop_demo, up

from kiosk.store import KioskStore

SHOTS = ROOT / "test-artifacts" / "admin"
VN = timezone(timedelta(hours=7))


def mails(folder):
    """Every mail the demo's catcher kept, parsed, oldest first."""
    out = []
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        out.append({"subject": str(msg["subject"]), "to": str(msg["to"]),
                    "text": body.get_content() if body else ""})
    return out


def harassment(folder, key, comment):
    """A nhũng nhiễu rating of cb-002 (desk 1) appended to the running kiosk's store, as the app writes one."""
    store = KioskStore(folder / "kiosk.db", "DT-MC-01", key)
    try:
        return store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-002", level=1,
                            reasons=["nhung_nhieu"], comment=comment)
    finally:
        store.close()


def case_of(base, token, case_id):
    body = requests.get(f"{base}/api/v1/cases", params={"officer": "cb-002", "limit": 500},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return next((c for c in body["cases"] if c["id"] == case_id), None)


def test_from_a_harassment_rating_to_a_mail_a_closed_case_that_reopens_a_verified_pack_and_scores(
        xvfb, tmp_path, browser):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen([sys.executable, "-m", "hailong", "demo", "--dir", str(tmp_path), "--port", str(port)],
                            cwd=ROOT, env=xvfb, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    mail_dir = tmp_path / "mail"
    try:
        wait_until(lambda: up(base), 120, what="the demo's town server", step=0.3)
        wait_until(lambda: str(mail_dir) in (tmp_path / "demo.log").read_text("utf-8"), 60,
                   what="the demo saying where its mail is", step=0.3)
        token = json.loads(subprocess.run(
            [sys.executable, "-m", "hailong", "admin", "--db", str(tmp_path / "town.db"), "create-token",
             "--username", "admin", "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)["token"]
        key = (tmp_path / "config.toml").read_text("utf-8").split('key = "')[1].split('"')[0]

        # 1. a citizen reports harassment on the kiosk; the case of this month is told by mail
        month = datetime.now(VN).strftime("%Y-%m")
        first = harassment(tmp_path, key, "Cán bộ gợi ý phải bồi dưỡng thêm mới giải quyết nhanh")

        def this_months_case():
            body = requests.get(f"{base}/api/v1/cases", params={"officer": "cb-002", "kind": "nhung_nhieu",
                                                                 "limit": 500},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
            return next((c for c in body["cases"] if c["month"] == month
                         and any(l.get("rating_id") == first["id"] for l in c["links"])), None)
        case = wait_until(this_months_case, 120, what="this month's nhũng nhiễu case of cb-002, with the rating")
        case_id = case["id"]

        def told():
            for m in mails(mail_dir):
                found = re.search(rf"(https?://\S+/admin/cases/{case_id})\b", m["text"])
                if found:
                    return m, found[1]
            return None
        mail, link = wait_until(told, 120, what=f"a mail about case {case_id}", step=0.5)
        print(mail["subject"], mail["text"], sep="\n")
        assert "nhũng nhiễu" in (mail["subject"] + mail["text"]).lower()
        assert mail["to"] == "quantri@dongtam.example.vn"
        assert "cb-002" in mail["text"] or "Trần" in mail["text"] or "Nguyễn" in mail["text"], "the mail names the officer"
        assert link.startswith(base), "the mail's link leads to this server"

        # 2. the admin follows the link, records an action and closes the case
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(link)
        page.get_by_label("Tên đăng nhập").fill("admin")
        page.get_by_label("Mật khẩu").fill("hailong-demo")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(link)
        assert f"Vụ việc số {case_id}" in page.get_by_test_id("case-title").inner_text()
        page.screenshot(path=str(SHOTS / "loop-1-case-from-mail.png"), full_page=True)
        form = page.get_by_test_id("action-form")
        form.locator("select[name=action]").select_option("kiem_diem")
        form.locator("input[name=text]").fill("Họp kiểm điểm cán bộ ngày 02/12, có biên bản")
        form.get_by_role("button", name="Ghi biện pháp").click()
        page.wait_for_selector("[data-event=action][data-action=kiem_diem]")
        close = page.get_by_test_id("close-form")
        close.locator("textarea[name=found_cause]").fill("Cán bộ gợi ý bồi dưỡng để làm nhanh")
        close.locator("textarea[name=outcome]").fill("Đã kiểm điểm, nhắc nhở trước cơ quan; xin lỗi công dân")
        close.get_by_role("button", name="Đóng vụ việc").click()
        page.get_by_test_id("case-closed").wait_for()
        assert page.get_by_test_id("case-status").get_attribute("data-status") == "closed"
        page.screenshot(path=str(SHOTS / "loop-2-case-closed.png"), full_page=True)
        assert case_of(base, token, case_id)["status"] == "closed"
        told_before = len(mails(mail_dir))

        # 3. the officer is named again: the case reopens by itself, and that is told too
        harassment(tmp_path, key, "Lại gợi ý bồi dưỡng")
        reopened = wait_until(lambda: (lambda c: c if c and c["status"] != "closed" and c["reopened"] >= 1 else None)(
            case_of(base, token, case_id)), 90, what="the case reopened by a new nhũng nhiễu rating", step=0.5)
        assert any(e["kind"] == "reopened" for e in reopened["events"])
        wait_until(lambda: any(f"/admin/cases/{case_id}" in m["text"] for m in mails(mail_dir)[told_before:]), 90,
                   what="a mail telling the reopening", step=0.5)
        page.reload()
        assert page.get_by_test_id("case-status").get_attribute("data-status") == "open"
        page.screenshot(path=str(SHOTS / "loop-3-case-reopened.png"), full_page=True)

        # 4. the month's evidence pack, downloaded from its page, verifies offline against the key shown
        page.goto(f"{base}/admin/evidence")
        pinned = page.get_by_test_id("public-key").inner_text().replace(" ", "")
        assert re.fullmatch(r"[0-9a-f]{64}", pinned), "the evidence page shows the server's public key"
        page.locator("select[name=period]").select_option(month)
        with page.expect_download() as dl:
            page.get_by_role("button", name=re.compile("Tải")).click()
        pack = tmp_path / "pack.zip"
        dl.value.save_as(pack)
        check = subprocess.run([sys.executable, "-m", "hailong", "verify-pack", str(pack), "--key", pinned],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr

        # 5. the year's scores
        page.goto(f"{base}/admin/scores?period={month[:4]}")
        text = page.inner_text("main")
        assert any(word in text for word in ("Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"))
        page.screenshot(path=str(SHOTS / "loop-4-scores.png"), full_page=True)
        page.close()
    except BaseException:
        print((tmp_path / "demo.log").read_text("utf-8")[-4000:])
        raise
    finally:
        stop_demo(demo)
