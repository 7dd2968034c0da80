"""The real kiosk app under Xvfb, driven by simulated touches (tests/kiosk_driver.py).

Each run is its own process (a Kivy Window is created once per process) on
its own kiosk.db; what a user would check is asserted on that database, the
visible texts and the screenshots in test-artifacts/kiosk/.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from helpers import ROOT, wait_until, x_window_names
from kiosk_runs import KEY, run_kiosk

from kiosk.store import KioskStore
from kiosk.ui.kivy_setup import input_providers, kivy_settings
from sync.protocol import DEFAULT_REASONS, SCALES


@pytest.fixture
def out(artifacts):
    return artifacts("kiosk")


def pixel(path: Path, x: float, y: float) -> tuple:
    """The colour at window point (x, y) (Kivy's origin is bottom-left)."""
    from PIL import Image
    with Image.open(path) as im:
        return im.convert("RGB").getpixel((int(x), im.height - 1 - int(y)))


@pytest.fixture(scope="module")
def full_visit(xvfb, artifacts, tmp_path_factory):
    """One whole scripted visit, shared by the tests that read it."""
    out = artifacts("kiosk")
    return (*run_kiosk(xvfb, tmp_path_factory.mktemp("full"), out, "full_visit"), out)


def test_full_visit_stores_exactly_one_correct_row(full_visit):
    result, rows, store, out = full_visit
    notes = result["notes"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["officer_id"], row["level"], row["source"]) == ("cb-002", 1, "walk_up")
    assert (row["unit_code"], row["desk_id"], row["kiosk_id"]) == ("13321", "quay-1", "TEST-KIOSK")
    assert row["reasons"] == ["thai_do", "nhung_nhieu"]
    # typed key by key on the on-screen keyboard: Telex, the đ key, the nặng tone key
    assert row["comment"] == "Chưa đúng hẹn, phải đi lại."
    assert unicodedata.is_normalized("NFC", row["comment"])
    assert row["flags"] == []
    assert store.verify() == (None, None)
    # durable before thanks: the row was there when the thank-you screen showed
    assert notes["rows_when_thanks_shown"] == 1
    assert notes["thanks_seconds"] < 4        # thanks_timeout 1 s, then welcome by itself
    # every level button at least 20 mm, at this screen's dpi and on a 10.1" 1280x800 panel
    for level, width, height in notes["level_sizes"]:
        assert min(width, height) >= 20 / 25.4 * notes["dpi"], level
        assert min(width, height) >= 118, level
    # the screens read in Vietnamese with every diacritic
    assert "Xin mời Ông/Bà đánh giá cán bộ đã phục vụ" in result["texts"]["welcome"]
    assert "UBND xã Đồng Tâm" in result["texts"]["welcome"]
    assert "Quầy số 1 — Tư pháp, Hộ tịch" in result["texts"]["welcome"]
    assert {"Trần Văn Đức", "Nguyễn Thị Hồng Nhung", "Lê Thị Ánh Tuyết"} <= set(result["texts"]["choose_officer"])
    assert {"Rất hài lòng", "Hài lòng", "Không hài lòng"} <= set(result["texts"]["rate"])
    from kiosk.visit import CHIP_LABELS
    assert {label for label, _en in CHIP_LABELS.values()} <= set(result["texts"]["reasons"])
    assert "Điều gì khiến Ông/Bà đánh giá như vậy?" in result["texts"]["reasons"]
    for name in ("welcome", "choose_officer", "rate", "rate_pressed", "reasons", "comment", "thanks"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name


def test_level_buttons_look_alike_even_while_pressed(full_visit):
    """The officer must not see which level was pressed: same colour, no pressed highlight."""
    result, _rows, _store, out = full_visit
    shot = out / "rate_pressed.png"
    boxes = result["notes"]["level_boxes"]
    colours = {}
    for level, (x, y, w, h) in boxes.items():
        samples = [pixel(shot, x + w * fx, y + h * 0.06) for fx in (0.1, 0.5, 0.9)]
        samples += [pixel(shot, x + w * 0.06, y + h * fy) for fy in (0.3, 0.6, 0.9)]
        colours[level] = set(samples)
    assert len(boxes) == 3
    pressed = colours["1"]
    assert colours["2"] == colours["3"] == pressed, colours


def test_language_toggle_changes_texts_and_resets_on_welcome(xvfb, tmp_path, out):
    result, rows, _ = run_kiosk(xvfb, tmp_path, out, "language")
    texts = result["texts"]
    assert "Xin mời Ông/Bà đánh giá cán bộ đã phục vụ" in texts["welcome_vi"]
    assert "Please rate the officer who served you" in texts["welcome_en"]
    assert "Xin mời Ông/Bà đánh giá cán bộ đã phục vụ" not in texts["welcome_en"]
    assert {"Very satisfied", "Satisfied", "Not satisfied", "Back"} <= set(texts["rate_en"])
    assert {"Rất hài lòng", "Quay lại"} <= set(texts["rate_vi_again"])
    assert {"Send rating", "Skip", "Delete", "Space"} <= set(texts["comment_en"])
    assert "Thank you for your rating!" in texts["thanks_en"]
    # back to config's language when the visit ends
    assert "Xin mời Ông/Bà đánh giá cán bộ đã phục vụ" in texts["welcome_after"]
    # names from the roster are never translated
    assert "Nguyễn Thị Hồng Nhung" in texts["rate_en"]
    assert len(rows) == 1 and rows[0]["level"] == 3 and rows[0]["comment"] is None


def test_idle_timeout_keeps_the_tapped_level_and_escape_does_not_quit(xvfb, tmp_path, out):
    result, rows, _ = run_kiosk(xvfb, tmp_path, out, "idle")
    notes = result["notes"]
    # walked away at the reasons screen: a tap is a rating, with the chip chosen
    assert [(r["officer_id"], r["level"], r["reasons"]) for r in rows] == [("cb-002", 1, ["thai_do"])] \
        or [(r["level"], r["reasons"]) for r in rows] == [(1, ["thai_do"])]
    assert notes["rows_after_idle"] == 1
    assert 1.0 <= notes["idle_seconds"] < 6          # idle_timeout = 2, counted from the last touch
    assert notes["alive_after_escape"] is True
    assert "Phiếu này đã được đánh giá. Cảm ơn Ông/Bà!" in result["texts"]["message"]


def test_double_touch_counts_once(xvfb, tmp_path, out):
    # touches 50 ms apart against a 300 ms guard: a wide margin for a slow CI machine
    result, rows, _ = run_kiosk(xvfb, tmp_path, out, "double_touch", ui={"touch_debounce_ms": 300},
                                survey={"comment": False})
    notes = result["notes"]
    assert notes["debounced"] == 1
    assert notes["level_presses"] == 1
    assert len(rows) == 1 and rows[0]["level"] == 2 and rows[0]["officer_id"] == "cb-003"


def test_rapid_repeat_is_flagged_not_dropped(xvfb, tmp_path, out):
    _result, rows, _ = run_kiosk(xvfb, tmp_path, out, "rapid_repeat",
                                 ui={"rapid_repeat_seconds": 60}, survey={"comment": False})
    assert [r["flags"] for r in rows] == [[], ["rapid_repeat"]]


def test_staff_leave_kiosk_mode_only_with_the_pin(xvfb, tmp_path, out):
    result, rows, store = run_kiosk(xvfb, tmp_path, out, "staff_exit")
    notes = result["notes"]
    assert notes["wrong_pin_events"] == 1
    assert notes["stopping"] is True
    assert store.event_counts() == {"staff_pin_wrong": 1}
    assert rows == []


def test_wrong_pins_lock_the_pad_and_it_says_how_long(xvfb, tmp_path, out):
    result, rows, store = run_kiosk(xvfb, tmp_path, out, "pin_lock")
    notes = result["notes"]
    assert notes["titles"][:4] == ["Sai mã PIN, xin nhập lại"] * 4
    assert notes["locked_seconds"] in (59, 60)
    locked = f"Nhập sai nhiều lần. Vui lòng thử lại sau {notes['locked_seconds']} giây."
    assert notes["titles"][4] == locked and locked in notes["pad_texts"]
    assert notes["events"] == 5 and notes["events_after_exit_pin"] == 5
    assert notes["stars_while_locked"] == "" and notes["still_running"] is True   # the exit PIN waits too
    assert notes["counted_down"] is True
    assert notes["title_en"].startswith("Too many wrong PINs. Please try again in ")
    from kiosk.staff import PinLock
    assert 0 < PinLock(store).remaining() <= 60          # held in kiosk.db: a restart keeps it
    assert rows == []
    assert (out / "pin_locked.png").stat().st_size > 10_000


def test_five_level_scale(xvfb, tmp_path, out):
    result, rows, _ = run_kiosk(xvfb, tmp_path, out, "scale5", survey={"scale": 5})
    sizes = result["notes"]["level_sizes"]
    assert sorted(level for level, _w, _h in sizes) == [1, 2, 3, 4, 5]
    assert all(min(w, h) >= 118 for _level, w, h in sizes)
    assert {vi for _lv, vi, _en, _s in SCALES[5]} <= set(result["texts"]["rate_scale5"])
    assert result["notes"]["screen_after_3"] == "reasons"     # as after every level
    assert rows == []


def test_no_roster_says_so_and_does_not_start(xvfb, tmp_path, out):
    result, rows, _ = run_kiosk(xvfb, tmp_path, out, "no_roster", demo=False)
    texts = result["texts"]["welcome_no_roster"]
    assert "Quầy này chưa có danh sách cán bộ." in texts
    assert "Chạm vào đây để bắt đầu" not in texts
    assert result["notes"]["screen_after_tap"] == "welcome"
    arrived = result["texts"]["welcome_roster_arrived"]
    assert "Xin mời Ông/Bà đánh giá cán bộ đã phục vụ" in arrived and "UBND xã Đồng Tâm" in arrived
    assert rows == []


# ------------------------------------------------------------ without a window

def test_one_input_provider_per_config():
    assert input_providers({"input_provider": "mouse", "input_device": ""}) == {
        "mouse": "mouse,disable_multitouch"}
    assert input_providers({"input_provider": "mtdev", "input_device": "/dev/input/event3"}) == {
        "touch": "mtdev,/dev/input/event3"}
    assert input_providers({"input_provider": "hidinput", "input_device": ""}) == {
        "%(name)s": "probesysfs,provider=hidinput"}
    ui = {"input_provider": "mtdev", "input_device": "/dev/input/event0", "fullscreen": True,
          "show_cursor": False, "width": 1280, "height": 800}
    settings = kivy_settings(ui)
    assert "mouse" not in settings["input"] and len(settings["input"]) == 1
    assert settings["kivy"]["exit_on_escape"] == "0"
    assert settings["graphics"]["show_cursor"] == "0"
    assert settings["graphics"]["fullscreen"] == "auto"


def test_configure_replaces_kivy_default_providers():
    """Kivy's defaults are mouse + probesysfs (the Raspberry Pi double touch); one is left."""
    code = ("from kiosk.ui.kivy_setup import configure\n"
            "from kivy.config import Config\n"
            "assert dict(Config.items('input')) and len(Config.items('input')) >= 1\n"
            "configure({'input_provider': 'hidinput', 'input_device': '/dev/input/event1',"
            " 'fullscreen': False, 'show_cursor': False, 'width': 800, 'height': 480})\n"
            "print(sorted(Config.items('input')))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1",
                               "KIVY_NO_CONFIG": "1", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[('touch', 'hidinput,/dev/input/event1')]"


def ui_msgids() -> set[str]:
    """Every Vietnamese string the screens show: t("…") in .kv/.py, messages, tones, scales, reasons."""
    found = set()
    for path in list((ROOT / "kiosk" / "ui").rglob("*.kv")) + list((ROOT / "kiosk" / "ui").rglob("*.py")):
        found |= set(re.findall(r'\b(?:app\.t|self\.t|tr)\("([^"]+)"', path.read_text("utf-8")))
    from kiosk import visit
    from kiosk.ui.widgets import TONE_KEYS
    found |= {visit.NOT_STORED, visit.ALREADY_RATED, visit.RECEIPT_INVALID}
    found |= {name for _letter, name in TONE_KEYS.values()}
    found |= {vi for scale in SCALES.values() for _lv, vi, _en, _s in scale}
    found |= {vi for vi, _en in DEFAULT_REASONS.values()}
    found |= {vi for vi, _en in visit.CHIP_LABELS.values()}
    return found


def test_catalogue_covers_every_ui_string():
    from babel.messages.pofile import read_po
    with open(ROOT / "assets/locale/en/LC_MESSAGES/hailong.po", "rb") as fh:
        catalogue = {m.id: m.string for m in read_po(fh) if m.id}
    used = ui_msgids()
    assert len(used) > 40
    missing = sorted(m for m in used if not catalogue.get(m))
    assert not missing, f"not in hailong.po: {missing}"
    for scale in SCALES.values():                 # the catalogue agrees with the protocol's labels
        for _lv, vi, en, _s in scale:
            assert catalogue[vi] == en
    for vi, en in DEFAULT_REASONS.values():
        assert catalogue[vi] == en
    from kiosk.visit import CHIP_LABELS                # the chips' own words, the same in the catalogue
    for vi, en in CHIP_LABELS.values():
        assert catalogue[vi] == en
    assert all(unicodedata.is_normalized("NFC", m) for m in catalogue)


def test_hailong_kiosk_command_runs_and_stops_on_sigterm(xvfb, tmp_path):
    """`hailong kiosk` opens the window on the configured kiosk.db; systemd's SIGTERM stops it cleanly."""
    import signal
    config = tmp_path / "config.toml"
    config.write_text('[kiosk]\nid = "CMD"\nunit_code = "13321"\ndesk_id = "quay-1"\n'
                      f'key = "{KEY}"\n[ui]\nfullscreen = true\n', "utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "hailong", "kiosk", "--config", str(config)],
                            env=xvfb, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def window_up():     # the app's window is mapped (Kivy names it after build(), then runs on_start)
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            return (tmp_path / "kiosk.db").exists() and "hailong" in x_window_names(xvfb["DISPLAY"])
        wait_until(window_up, 60, what="the kiosk window", step=0.1)
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = KioskStore(tmp_path / "kiosk.db")
    assert store.schema_version >= 2 and store.count() == 0


def test_keyboard_widget_types_vietnamese_and_stops_at_the_limit(xvfb):
    """The on-screen keyboard itself: Telex, capitals, tone keys, and no character past max_length."""
    code = """
import json
from kivy.lang import Builder
from kiosk.ui.widgets import VietKeyboard
Builder.load_file('kiosk/ui/widgets.kv')
def press(kb, keys):
    for v in keys:
        kb.key_for(v).dispatch('on_release')
kb = VietKeyboard()
press(kb, ['shift', 'v', 'i', 'e', 'e', 't', 'j', 'space', 'n', 'a', 'm', 'space', 'đ', 'e', 'p', 'tone:nang',
           'space', 'q', 'u', 'a', 'tone:sac', 'backspace', 'telex', 'a', 'a'])
full = kb.text
small = VietKeyboard(max_length=3)
hits = []
small.on_text_limit = lambda: hits.append(1)
press(small, ['a', 'b', 'c', 'd', 'e'])
print(json.dumps({"full": full, "small": small.text, "hits": len(hits)}, ensure_ascii=False))
"""
    proc = subprocess.run([sys.executable, "-c", code], env=xvfb, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["full"] == "Việt nam đẹp quaa"     # quá ⌫ → qu… then Telex off: "aa" stays
    assert got["small"] == "abc" and got["hits"] == 2


def test_walk_away_at_the_comment_keeps_the_rating_and_the_words(xvfb, tmp_path, out):
    """Rất hài lòng, "Tốt" typed, then the citizen leaves: warned, then welcome, exactly one row."""
    result, rows, store = run_kiosk(xvfb, tmp_path, out, "walk_away", ui={"idle_timeout": 3})
    notes = result["notes"]
    assert notes["rows_at_tap"] == 0 and notes["draft_at_tap"]["level"] == 3   # held durably at the tap
    assert notes["typed"] == "Tốt"
    assert [(r["officer_id"], r["level"], r["comment"], r["source"]) for r in rows] == [
        ("cb-001", 3, "Tốt", "walk_up")]
    assert store.draft() is None and store.verify() == (None, None)
    # the warning came first, over the comment screen, then the visit ended
    assert notes["screen_under_warning"] == "comment"
    assert "Ông/Bà còn tiếp tục không?" in result["texts"]["idle_warning"]
    assert "Tiếp tục" in result["texts"]["idle_warning"]
    assert notes["ended_after"] > notes["warning_after"] and notes["warning_gone"]
    width, height = notes["go_on_size"]
    assert min(width, height) >= 20 / 25.4 * notes["dpi"] and min(width, height) >= 118
    assert (out / "idle_warning.png").stat().st_size > 10_000


def test_go_on_keeps_the_visit(xvfb, tmp_path, out):
    result, rows, _ = run_kiosk(xvfb, tmp_path, out, "go_on", ui={"idle_timeout": 6})
    notes = result["notes"]
    assert "Are you still there? Would you like to go on?" in result["texts"]["idle_warning_en"]
    assert "Continue" in result["texts"]["idle_warning_en"]
    assert notes["after_go_on"] == ["comment", "comment", True]
    assert notes["rows_after_go_on"] == 0         # still the citizen's visit: not sealed yet
    assert notes["rows_at_thanks"] == 1
    assert [(r["level"], r["comment"]) for r in rows] == [(2, None)]


def test_killed_right_after_the_tap_the_rating_is_there_after_restart(xvfb, tmp_path, out):
    import os
    import signal

    from kiosk_runs import BASE_UI, DRIVER, toml_value
    lines = ["[kiosk]", 'id = "TEST-KIOSK"', 'unit_code = "13321"', 'desk_id = "quay-1"',
             'db = "kiosk.db"', f'key = "{KEY}"', "[ui]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in {**BASE_UI, "idle_timeout": 30}.items()]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", "utf-8")
    proc = subprocess.run([sys.executable, str(DRIVER), str(config), "tap_then_die", str(out), "--demo"],
                          env=xvfb, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    store = KioskStore(tmp_path / "kiosk.db", key_hex=KEY)
    assert store.count() == 0 and store.draft()["level"] == 3      # durable at the tap, not yet sealed
    store.close()
    result, rows, store = run_kiosk(xvfb, tmp_path, out, "restart")
    assert result["notes"]["rows_at_start"] == 1 and result["notes"]["draft_at_start"] is None
    assert [(r["officer_id"], r["level"]) for r in rows] == [("cb-001", 3)]
    assert store.verify() == (None, None)
    assert os.path.exists(tmp_path / "kiosk.db")


# ------------------------------------------------- every level takes the same steps

def crop_below_header(path: Path):
    """The screen under the header (the header's clock may turn a minute between two shots)."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        return im.crop((0, 140, im.width, im.height)).tobytes()


def without_clock(items: list) -> list:
    """The header's clock ("06:35") may turn a minute between two visits."""
    return [t for t in items if not (isinstance(t, str) and re.fullmatch(r"\d\d:\d\d", t))]


@pytest.mark.parametrize("scale", [3, 5])
def test_every_level_takes_the_same_steps_on_the_screen(xvfb, tmp_path, out, scale):
    """Tap each level in turn: the same screens, pixel for pixel, the same chips, the same taps to finish."""
    result, rows, store = run_kiosk(xvfb, tmp_path, out, "same_steps",
                                    ui={"idle_timeout": 30, "thanks_timeout": 1}, survey={"scale": scale})
    walks = result["notes"]["walks"]
    assert sorted(map(int, walks)) == list(range(1, scale + 1))
    first = walks["1"]
    assert first["screens"][:5] == ["choose_officer", "rate", "reasons", "comment", "thanks"]
    for level, walk in walks.items():
        assert walk["rows_at_tap"] == scale - int(level)         # the earlier visits (best level first)
        assert walk["draft_level"] == int(level)                  # durable at the tap, for every level
        for key in ("screens", "chips", "texts_reasons", "texts_comment", "texts_thanks"):
            assert without_clock(walk[key]) == without_clock(first[key]), (level, key)
        for shot in ("reasons", "reasons_chosen", "comment", "thanks"):
            assert crop_below_header(out / f"same_steps_{shot}_{level}.png") == \
                crop_below_header(out / f"same_steps_{shot}_1.png"), (level, shot)
        assert abs(walk["thanks_s"] - first["thanks_s"]) < 1.0
    from kiosk.visit import CHIP_LABELS
    assert sorted(text for _code, text, _sel in first["chips"]) == sorted(vi for vi, _en in CHIP_LABELS.values())
    assert sorted(level for level, _reasons in result["notes"]["rows"]) == list(range(1, scale + 1))
    assert all(reasons == ["thai_do"] for _level, reasons in result["notes"]["rows"])
    assert store.verify() == (None, None)
