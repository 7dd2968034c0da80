"""Issue 12's "done when", on `hailong demo` as a citizen and an admin meet it.

The demo runs the Front's campaign on quay-1 while quay-2 keeps the one-tap
hl3. Both kiosk windows run (quay-2's beside quay-1's, on a screen wide
enough for both); tests/e2e/campaign_demo_probe.py starts the demo with an
observer in each kiosk app that only writes what is on screen and where
each button is, and every tap is a real X pointer click (XTest). A visit on
quay-1 with one question skipped reaches the server with its answers; one
on quay-2 is hl3. The admin, in Chromium, writes a new campaign for quay-1
starting today; the running kiosk asks it within a minute, without a
restart; its report comes out as Word from the page. Screenshots in both
languages: test-artifacts/demo-campaign/.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from helpers import ROOT, free_port, wait_until
from test_demo import all_ratings, stop_demo, up

from kiosk.store import KioskStore

PROBE = ROOT / "tests" / "e2e" / "campaign_demo_probe.py"
SHOTS = ROOT / "test-artifacts" / "demo-campaign"
VN = timezone(timedelta(hours=7))
Q1, Q2 = "DT-MC-01", "DT-MC-02"


@pytest.fixture(scope="module")
def wide_screen():
    """An Xvfb of its own, 2304×800: quay-1's window (1280×800) and quay-2's (1024×640) side by side."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (Debian package xvfb; `make system-packages` installs it)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "2304x800x24", "+extension", "GLX",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    assert number.strip(), "Xvfb did not start"
    kivy_home = tempfile.mkdtemp(prefix="kivy-home-")
    display = f":{number.decode().strip()}"
    env = dict(os.environ, DISPLAY=display, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KIVY_NO_CONFIG="1", KIVY_HOME=kivy_home, SDL_AUDIODRIVER="dummy")
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(kivy_home, ignore_errors=True)


class Demo:
    """The running demo: its folder, server, admin token, and what each kiosk window shows (the probe's files)."""

    def __init__(self, folder, base, display):
        self.folder, self.base, self.display = folder, base, display
        self.probe = folder / "probe"
        self.token = None
        self.started = datetime.now(VN)

    # what the kiosks show
    def state(self, kid: str) -> dict:
        try:
            return json.loads((self.probe / f"{kid}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {"screen": None, "texts": [], "targets": []}

    def wait(self, kid: str, pred, what: str, timeout: float = 20) -> dict:
        return wait_until(lambda: kept(self.state(kid), lambda s: s.get("screen") and pred(s)),
                          timeout, what=f"{kid}: {what}", step=0.1)

    def screen(self, kid: str, name: str, *texts: str, timeout: float = 20) -> dict:
        return self.wait(kid, lambda s: s["screen"] == name and all(t in s["texts"] for t in texts),
                         f"screen {name} showing {texts}", timeout)

    def tap(self, kid: str, pred, what: str) -> None:
        """A real click (XTest) on the centre of the first button ``pred`` picks, on the window of ``kid``.

        Clicked again (at most three times) when nothing on the window changed within 3 s: the first
        click on a window that has just opened may only give it the pointer.
        """
        for _attempt in range(3):
            state = self.wait(kid, lambda s: any(pred(t) for t in s["targets"]), f"a button: {what}")
            target = next(t for t in state["targets"] if pred(t))
            before = seen(state)
            xtest_click(self.display, target["x"], target["y"])
            try:
                self.wait(kid, lambda s, before=before: seen(s) != before, "a change", 3)
            except AssertionError:
                continue
            time.sleep(0.3)    # a person does not tap twice within the kiosk's double-touch guard (250 ms)
            return
        raise AssertionError(f"{kid}: tapping {what} changed nothing")

    def tap_text(self, kid: str, text: str) -> None:
        self.tap(kid, lambda t: t["text"] == text or t["text"].endswith(" " + text), f"«{text}»")

    def tap_level(self, kid: str, level: int) -> None:
        self.tap(kid, lambda t: t["cls"] == "LevelButton" and t["level"] == level, f"level {level}")

    def shot(self, name: str, kid: str) -> None:
        """The window of ``kid`` as the X screen shows it, into test-artifacts/demo-campaign/<name>.png."""
        from PIL import ImageGrab
        left, top, width, height = self.state(kid)["window"]
        time.sleep(0.3)    # the frame after the probe's last write
        ImageGrab.grab(xdisplay=self.display).crop((left, top, left + width, top + height)).save(SHOTS / f"{name}.png")

    # what the server holds
    def ratings_since(self, kid: str) -> list[dict]:
        return [r for r in all_ratings(self.base, self.token)
                if r["kiosk_id"] == kid and datetime.fromisoformat(r["created_at"]) >= self.started]


def seen(state: dict) -> tuple:
    """What a tap can change on a window: its screen, its texts, which chips are selected."""
    return state["screen"], state["texts"], [t.get("selected") for t in state["targets"]]


def kept(value, cond):
    """``value`` when ``cond(value)`` holds, else None (for wait_until)."""
    return value if cond(value) else None


def xtest_click(display: str, x: int, y: int) -> None:
    """A mouse click at screen pixel (x, y) through X (XTest), as a finger on the panel."""
    x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
    xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    conn = x11.XOpenDisplay(display.encode())
    assert conn, f"cannot open X display {display}"
    xtst.XTestFakeMotionEvent(conn, -1, x, y, 0)
    x11.XFlush(conn)
    time.sleep(0.1)      # the pointer is in the window before the finger goes down
    xtst.XTestFakeButtonEvent(conn, 1, 1, 0)
    xtst.XTestFakeButtonEvent(conn, 1, 0, 80)
    x11.XFlush(conn)
    x11.XCloseDisplay(conn)


@pytest.fixture(scope="module")
def demo(wide_screen, tmp_path_factory):
    SHOTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path_factory.mktemp("campaign-demo")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = folder / "demo.log"
    proc = subprocess.Popen([sys.executable, str(PROBE), str(folder / "probe"), "demo", "--dir", str(folder),
                             "--port", str(port)], cwd=ROOT, env=wide_screen, stdout=log_path.open("w"),
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    d = Demo(folder, base, wide_screen["DISPLAY"])
    try:
        wait_until(lambda: up(base), 120, what="the demo's town server", step=0.3)
        d.token = json.loads(subprocess.run(
            [sys.executable, "-m", "hailong", "admin", "--db", str(folder / "town.db"), "create-token",
             "--username", "admin", "--json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)["token"]
        d.campaign = json.loads(next(folder.glob("mttq-*.json")).read_text("utf-8"))
        d.log = lambda: log_path.read_text("utf-8")
        yield d
    except BaseException:
        print(log_path.read_text("utf-8")[-4000:])
        raise
    finally:
        stop_demo(proc)
        print(log_path.read_text("utf-8")[-3000:])


def test_the_demo_says_which_desk_asks_which_survey(demo):
    text = wait_until(lambda: kept(demo.log(), lambda t: "quay-2 (DT-MC-02)" in t), 120,
                      what="the demo's survey lines", step=0.3)
    sid = demo.campaign["id"]
    assert re.search(rf"quay-1 \(DT-MC-01\) asks the campaign {sid} .*Ủy ban MTTQ Việt Nam xã Đồng Tâm", text), text
    assert re.search(r"quay-2 \(DT-MC-02\) asks the survey hl3 .*\(one tap\)", text), text
    assert "/admin/surveys/new" in text
    assert demo.campaign["desks"] == ["quay-1"] and len(demo.campaign["questions"]) == 4
    assert demo.campaign["from"].endswith("-01") and demo.campaign["from"][:7] == demo.campaign["to"][:7]


def test_quay1_asks_the_campaign_and_a_visit_with_a_skipped_question_lands_with_its_answers(demo):
    c = demo.campaign
    title, title_en = c["title"]["vi"], c["title"]["en"]
    q = c["questions"]
    state = demo.screen(Q1, "welcome", title, timeout=180)    # two Kivy apps start on shared cores
    assert any(t.startswith("Khảo sát của Ủy ban MTTQ") for t in state["texts"]), state["texts"]
    time.sleep(1.5)      # the window has just opened: its first frames are still being laid out
    demo.shot("q1-1-welcome-vi", Q1)
    demo.tap_text(Q1, "Chạm vào đây để bắt đầu")
    demo.screen(Q1, "choose_officer")
    demo.tap(Q1, lambda t: t["officer_id"] == "cb-001", "cb-001's card")
    state = demo.screen(Q1, "rate", title)
    assert sorted(t["level"] for t in state["targets"] if t["cls"] == "LevelButton") == [1, 2, 3, 4, 5]
    demo.shot("q1-2-headline-vi", Q1)
    demo.tap_level(Q1, 4)                                   # Hài lòng
    demo.screen(Q1, "question", q[0]["text"]["vi"])
    demo.shot("q1-3-question-vi", Q1)
    demo.tap_level(Q1, 3)                                   # Đồng ý
    demo.screen(Q1, "question", q[1]["text"]["vi"])
    demo.tap_text(Q1, "Bỏ qua")                             # skipped
    demo.screen(Q1, "question", q[2]["text"]["vi"])
    demo.tap_level(Q1, 2)
    demo.screen(Q1, "question", q[3]["text"]["vi"])
    demo.tap_level(Q1, 3)
    demo.screen(Q1, "reasons")
    demo.tap_text(Q1, "Tiếp tục")
    demo.screen(Q1, "comment")
    demo.tap_text(Q1, "Bỏ qua")
    demo.screen(Q1, "thanks")
    demo.shot("q1-4-thanks-vi", Q1)

    def landed():
        return [r for r in demo.ratings_since(Q1) if r["survey"] == c["id"] and r["officer_id"] == "cb-001"]
    rating = wait_until(landed, 60, what="the campaign rating on the server", step=0.5)[0]
    assert rating["desk_id"] == "quay-1" and rating["level"] == 4
    assert rating["answers"] == {q[0]["code"]: 3, q[1]["code"]: None, q[2]["code"]: 2, q[3]["code"]: 3}

    # the same visit in English: the campaign's own English words
    demo.screen(Q1, "welcome", title, timeout=30)
    demo.tap(Q1, lambda t: t["cls"] == "LanguageButton", "the language button")
    state = demo.screen(Q1, "welcome", title_en)
    assert any(t.startswith("Survey by") or "Fatherland Front" in t or "MTTQ" in t for t in state["texts"]), state
    demo.shot("q1-5-welcome-en", Q1)
    demo.tap(Q1, lambda t: t["cls"] == "BigButton", "start")
    demo.screen(Q1, "choose_officer")
    demo.tap(Q1, lambda t: t["officer_id"] == "cb-003", "cb-003's card")
    demo.screen(Q1, "rate", title_en)
    demo.shot("q1-6-headline-en", Q1)
    demo.tap_level(Q1, 5)
    demo.screen(Q1, "question", q[0]["text"]["en"])
    demo.shot("q1-7-question-en", Q1)
    for i in range(4):
        demo.screen(Q1, "question", q[i]["text"]["en"])
        demo.tap_level(Q1, 3)
    demo.screen(Q1, "reasons")
    demo.tap(Q1, lambda t: t["cls"] == "BigButton" and t["text"] in ("Continue", "Next"), "Continue")
    demo.screen(Q1, "comment")
    demo.tap(Q1, lambda t: t["text"] == "Skip", "Skip")
    demo.screen(Q1, "thanks")
    demo.shot("q1-8-thanks-en", Q1)
    rating = wait_until(lambda: [r for r in demo.ratings_since(Q1) if r["officer_id"] == "cb-003"], 60,
                        what="the English visit on the server", step=0.5)[0]
    assert rating["survey"] == c["id"] and rating["level"] == 5
    assert rating["answers"] == {x["code"]: 3 for x in q}


def test_quay2_keeps_the_one_tap_survey(demo):
    state = demo.screen(Q2, "welcome", "Chạm vào đây để bắt đầu", timeout=180)
    assert not any("MTTQ" in t for t in state["texts"]), "quay-2 is not in the campaign"
    demo.shot("q2-1-welcome-vi", Q2)
    demo.tap_text(Q2, "Chạm vào đây để bắt đầu")
    demo.screen(Q2, "choose_officer")
    demo.tap(Q2, lambda t: t["officer_id"] == "cb-004", "cb-004's card")
    state = demo.screen(Q2, "rate")
    assert sorted(t["level"] for t in state["targets"] if t["cls"] == "LevelButton") == [1, 2, 3]
    demo.shot("q2-2-rate-vi", Q2)
    demo.tap(Q2, lambda t: t["cls"] == "LanguageButton", "the language button")
    demo.screen(Q2, "rate", "Very satisfied")
    demo.shot("q2-3-rate-en", Q2)
    demo.tap_level(Q2, 3)
    demo.screen(Q2, "reasons")
    demo.tap(Q2, lambda t: t["cls"] == "BigButton" and t["text"] in ("Continue", "Next"), "Continue")
    demo.screen(Q2, "comment")
    demo.tap(Q2, lambda t: t["text"] == "Skip", "Skip")
    demo.screen(Q2, "thanks")
    rating = wait_until(lambda: [r for r in demo.ratings_since(Q2) if r["officer_id"] == "cb-004"], 60,
                        what="quay-2's rating on the server", step=0.5)[0]
    assert rating["survey"] == "hl3" and rating["level"] == 3 and rating["answers"] == {}
    assert rating["desk_id"] == "quay-2"


def test_history_shows_the_campaign_and_on_time_figures(demo, browser):
    held = 0
    for db in ("kiosk.db", "kiosk-DT-MC-02.db"):
        store = KioskStore(demo.folder / db)
        held += store.count()
        store.close()
    assert held > 3000, "the demo brings a year of history"
    ratings = wait_until(lambda: kept(all_ratings(demo.base, demo.token), lambda rs: len(rs) >= held),
                         120, what="both kiosks' whole history on the server", step=0.5)
    on_campaign = [r for r in ratings if r["survey"] == demo.campaign["id"]]
    assert on_campaign and all(r["desk_id"] == "quay-1" for r in on_campaign)
    assert any(v is None for r in on_campaign for v in r["answers"].values()), "some questions skipped"
    assert all(r["survey"] == "hl3" for r in ratings if r["desk_id"] == "quay-2")
    flags = [f for r in ratings for f in r["flags"]]
    assert flags.count("on_time") > 50 and flags.count("late") > 10
    # the dashboard's figures per survey and on time, through the reports API and on the page
    body = requests.get(f"{demo.base}/api/v1/reports/dashboard", params={"period": f"{datetime.now(VN):%Y-%m}"},
                        headers={"Authorization": f"Bearer {demo.token}"}, timeout=30).json()
    by_survey = {f["id"]: f for f in body["surveys"]}
    assert {demo.campaign["id"], "hl3"} <= set(by_survey), body["surveys"]
    assert by_survey[demo.campaign["id"]]["on_time"] + by_survey[demo.campaign["id"]]["late"] > 0
    assert any(t["late"] for t in body["timeliness"]["officer"]), "on-time figures per officer are not empty"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, demo.base, "/admin")
        assert demo.campaign["title"]["vi"] in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "admin-0-dashboard-vi.png"), full_page=True)
        page.goto(f"{demo.base}/lang/en?next=/admin")
        assert demo.campaign["title"]["en"] in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "admin-0-dashboard-en.png"), full_page=True)
    finally:
        page.close()


def sign_in(page, base: str, path: str) -> None:
    page.goto(base + path)
    if page.get_by_label("Tên đăng nhập").count():
        page.get_by_label("Tên đăng nhập").fill("admin")
        page.get_by_label("Mật khẩu").fill("hailong-demo")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(re.compile(re.escape(base + path.split("?")[0])))


def docx_text(body: bytes) -> str:
    """Every paragraph and table cell of a Word document, one per line (python-docx)."""
    import io

    import docx
    doc = docx.Document(io.BytesIO(body))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines += [cell.text for cell in row.cells]
    for section in doc.sections:
        lines += [p.text for p in section.header.paragraphs]
    return "\n".join(lines)


def figures_of(demo: Demo, sid: str, satisfied) -> tuple[int, int, int, int]:
    """(satisfied, valid, on time, late) of survey ``sid`` counted from the ratings the admin API gives,
    by DESIGN.md's rule (misuse and duplicate receipts shown, not counted)."""
    rows = [r for r in all_ratings(demo.base, demo.token) if r["survey"] == sid]
    valid = [r for r in rows if not ({"rapid_repeat"} & set(r["flags"]) or "duplicate_receipt" in r["server_flags"])]
    return (sum(1 for r in valid if r["level"] in satisfied), len(valid),
            sum(1 for r in valid if "on_time" in r["flags"]), sum(1 for r in valid if "late" in r["flags"]))


def download_report(page, base: str, sid: str) -> tuple[bytes, bytes]:
    """The survey's Word report as the admin gets it: the link on the survey's page, clicked (Vietnamese,
    the official document); the same link with ``lang=en`` in the same signed-in browser (English)."""
    sign_in(page, base, f"/admin/surveys/{sid}")
    link = page.get_by_test_id("report")
    with page.expect_download() as dl:
        link.click()
    assert dl.value.suggested_filename.endswith(".docx"), dl.value.suggested_filename
    with open(dl.value.path(), "rb") as fh:
        vi = fh.read()
    english = page.context.request.get(base + link.get_attribute("href") + "&lang=en")
    assert english.ok and english.headers["content-type"].startswith("application/vnd.openxmlformats")
    return vi, english.body()


def test_the_campaigns_report_comes_out_as_word_in_both_languages(demo, browser):
    c = demo.campaign
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        body, body_en = download_report(page, demo.base, c["id"])
        page.screenshot(path=str(SHOTS / "admin-1-survey-page-vi.png"), full_page=True)
    finally:
        page.close()
    sat, valid, on_time, late = figures_of(demo, c["id"], c["satisfied"])
    assert valid >= 3 and on_time + late > 0, "the campaign's history (with receipts' dates) and this module's visits"
    text = docx_text(body)
    assert c["title"]["vi"] in text and "Ủy ban MTTQ Việt Nam xã Đồng Tâm".upper() in text.upper()
    assert f"Số lượt hài lòng: {sat}/{valid} lượt hợp lệ" in text, text[:3000]
    rate = f"{round(sat * 100 / valid, 1):.1f}".replace(".", ",")
    assert f"{rate}%" in text
    for q in c["questions"]:
        assert q["text"]["vi"] in text
    assert f"{on_time} lượt đánh giá đúng hoặc trước ngày hẹn, {late} lượt sau ngày hẹn" in text
    (SHOTS / f"{c['id']}-vi.docx").write_bytes(body)

    text = docx_text(body_en)
    assert c["title"]["en"] in text
    assert f"{round(sat * 100 / valid, 1):.1f}%" in text
    (SHOTS / f"{c['id']}-en.docx").write_bytes(body_en)


NEW = {"title_vi": "Khảo sát đột xuất về giải quyết thủ tục hành chính",
       "title_en": "Surprise survey on how procedures are handled",
       "q0_vi": "Hồ sơ của ông/bà được giải quyết đúng hẹn", "q0_en": "Your dossier was settled on time"}


def test_an_admin_writes_a_new_campaign_and_the_running_kiosk_asks_it_within_a_minute(demo, browser):
    today = datetime.now(VN).date()
    sid = f"mttq-dot-xuat-{today:%Y%m%d}"        # sorts after mttq-YYYY-MM: it wins even on the 1st
    pid = demo.state(Q1)["pid"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, demo.base, "/admin/surveys/new?from=mttq-can-bo")
        form = page.get_by_test_id("survey-form")
        form.locator("input[name=id]").fill(sid)
        form.locator("input[name=by]").fill("Ủy ban MTTQ Việt Nam xã Đồng Tâm")
        for name, value in NEW.items():
            form.locator(f"input[name={name}]").fill(value)
        if not form.get_by_test_id("campaign").is_checked():
            form.get_by_test_id("campaign").check()
        form.locator("input[name=from]").fill(today.isoformat())
        form.get_by_test_id("desk-quay-1").check()
        assert not form.get_by_test_id("desk-quay-2").is_checked()
        page.screenshot(path=str(SHOTS / "admin-2-new-campaign-form-vi.png"), full_page=True)
        form.get_by_test_id("save").click()
        page.get_by_test_id("saved").wait_for()
        saved_at = time.monotonic()
        assert page.url.startswith(f"{demo.base}/admin/surveys/{sid}")
        page.screenshot(path=str(SHOTS / "admin-3-campaign-saved-vi.png"), full_page=True)
        page.goto(f"{demo.base}/lang/en?next=/admin/surveys/{sid}")
        assert NEW["title_en"] in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "admin-4-campaign-en.png"), full_page=True)
        phone = browser.new_page(viewport={"width": 360, "height": 740})
        try:
            sign_in(phone, demo.base, f"/admin/surveys/{sid}")
            phone.screenshot(path=str(SHOTS / "admin-5-campaign-phone.png"), full_page=True)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scrolling on a phone"
        finally:
            phone.close()
    finally:
        page.close()

    # the running kiosk asks it within a minute (its agent pulls the config every 30 s), no restart
    state = demo.screen(Q1, "welcome", NEW["title_vi"], timeout=60)
    waited = time.monotonic() - saved_at
    print(f"the new campaign on quay-1's screen {waited:.1f} s after it was saved")
    assert waited < 60 and state["pid"] == pid, "the same kiosk process, not restarted"
    assert any("Ủy ban MTTQ" in t for t in state["texts"])
    time.sleep(0.5)
    demo.shot("q1-9-new-campaign-welcome-vi", Q1)
    assert NEW["title_vi"] not in demo.state(Q2)["texts"], "quay-2 is not in the new campaign"
    demo.tap(Q1, lambda t: t["cls"] == "LanguageButton", "the language button")
    demo.screen(Q1, "welcome", NEW["title_en"])
    demo.shot("q1-10-new-campaign-welcome-en", Q1)
    demo.tap(Q1, lambda t: t["cls"] == "BigButton", "start")
    demo.screen(Q1, "choose_officer")
    demo.tap(Q1, lambda t: t["officer_id"] == "cb-002", "cb-002's card")
    demo.screen(Q1, "rate", NEW["title_en"])
    demo.tap_level(Q1, 2)
    demo.screen(Q1, "question", NEW["q0_en"])
    demo.shot("q1-11-new-campaign-question-en", Q1)
    demo.tap_level(Q1, 1)
    for q in demo.campaign["questions"][1:]:      # the template's other questions: skipped
        demo.screen(Q1, "question", q["text"]["en"])
        demo.tap(Q1, lambda t: t["text"] == "Skip", "Skip")
    demo.screen(Q1, "reasons")
    demo.tap(Q1, lambda t: t["code"] == "dung_hen", "Đúng hẹn")
    demo.tap(Q1, lambda t: t["cls"] == "BigButton" and t["text"] in ("Continue", "Next"), "Continue")
    demo.screen(Q1, "comment")
    demo.tap(Q1, lambda t: t["text"] == "Skip", "Skip")
    demo.screen(Q1, "thanks")
    rating = wait_until(lambda: [r for r in demo.ratings_since(Q1) if r["survey"] == sid], 60,
                        what="a rating of the new campaign on the server", step=0.5)[0]
    assert rating["level"] == 2 and rating["officer_id"] == "cb-002" and rating["reasons"] == ["dung_hen"]
    assert rating["answers"] == {"lich_su": 1, "lang_nghe": None, "huong_dan_ro": None, "khong_nhung_nhieu": None}
    demo.new_campaign = sid


def test_the_new_campaigns_report_comes_out_as_word_from_its_page(demo, browser):
    sid = getattr(demo, "new_campaign", None)
    assert sid, "the new campaign was written by the test before"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        body, body_en = download_report(page, demo.base, sid)
        page.screenshot(path=str(SHOTS / "admin-6-new-campaign-results-vi.png"), full_page=True)
    finally:
        page.close()
    text = docx_text(body)
    assert NEW["title_vi"] in text and NEW["q0_vi"] in text
    assert "Số lượt hài lòng: 0/1 lượt hợp lệ" in text, text[:3000]
    (SHOTS / f"{sid}-vi.docx").write_bytes(body)
    text_en = docx_text(body_en)
    assert NEW["title_en"] in text_en and NEW["q0_en"] in text_en
    (SHOTS / f"{sid}-en.docx").write_bytes(body_en)
