"""Drive the real kiosk app with simulated touches, in its own process.

    python tests/kiosk_driver.py CONFIG SCENARIO OUT_DIR [--demo]

Starts the app exactly as ``hailong kiosk`` does (kiosk.commands.run_kiosk:
the app with its sync agent when [server] url and token are set), with one
extra service: a scripted citizen. Touches are real MotionEvents fed
through Kivy's event loop (the same path as the input provider's), so the
debounce guard, the widgets' collision and the screens all take part.
Screenshots go to OUT_DIR/<name>.png; OUT_DIR/<SCENARIO>.json says what happened.

A Kivy Window can be created once per process, hence one process per run.
"""
from __future__ import annotations

import itertools
import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.config import load  # noqa: E402

_ids = itertools.count(1000)


def _touch_class():
    from kivy.input.motionevent import MotionEvent

    class DriverTouch(MotionEvent):
        """A finger at window pixel (x, y)."""

        def __init__(self, x, y):
            from kivy.base import EventLoop
            win = EventLoop.window
            super().__init__("driver", next(_ids), {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
                             is_touch=True, type_id="touch")

        def depack(self, args):
            self.sx, self.sy = args["x"], args["y"]
            self.profile = ["pos"]
            super().depack(args)

    return DriverTouch


class Driver:
    """What a scripted citizen can do. Generator steps: ``yield`` = next frame, ``yield 0.5`` = wait."""

    def __init__(self, app, out: Path):
        from kivy.base import EventLoop
        self.app = app
        self.out = out
        self.loop = EventLoop
        self.Touch = _touch_class()
        self.result: dict = {"shots": [], "texts": {}, "notes": {}}

    # where things are
    @property
    def screen(self) -> str:
        return self.app.root.sm.current

    def walk(self, widget=None):
        widget = widget or self.app.root.sm.current_screen
        yield widget
        for child in widget.children:
            yield from self.walk(child)

    def find(self, pred, root=None):
        hits = [w for w in self.walk(root) if pred(w)]
        if not hits:
            raise LookupError(f"no widget matches on screen {self.screen}")
        return hits[0]

    def by_id(self, name):
        return self.app.root.sm.current_screen.ids[name]

    def visible_texts(self) -> list[str]:
        from kivy.uix.label import Label
        texts = [w.text for w in self.walk(self.app.root) if isinstance(w, Label)
                 and w.text and w.opacity > 0 and self._shown(w)]
        return texts

    @staticmethod
    def _opaque(w, top) -> bool:
        """No widget between ``w`` and ``top`` is hidden (opacity 0)."""
        node = w
        while node is not None and node is not top:
            if node.opacity == 0:
                return False
            node = node.parent
        return True

    def _shown(self, w) -> bool:
        sm = self.app.root.sm
        node = w
        while node is not None and node is not self.app.root:
            if node.__class__.__name__.endswith("Screen") and node is not sm.current_screen:
                return False
            if node.opacity == 0:
                return False
            node = node.parent
        return True

    # touches
    def center_of(self, widget):
        return widget.to_window(*widget.center)

    def down(self, widget=None, pos=None):
        x, y = pos or self.center_of(widget)
        touch = self.Touch(x, y)
        self.loop._dispatch_input("begin", touch)
        return touch

    def up(self, touch):
        touch.update_time_end()
        self.loop._dispatch_input("end", touch)

    def tap(self, widget=None, pos=None, hold=0.06):
        """Generator: press, hold, release, let two frames pass."""
        touch = self.down(widget, pos)
        yield hold
        self.up(touch)
        yield
        # a person does not tap again within the double-touch guard
        yield max(0.2, self.app.cfg.ui["touch_debounce_ms"] / 1000 + 0.08)

    def wait_for(self, cond, timeout=10.0, what="condition"):
        start = time.monotonic()
        while not cond():
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"waited {timeout}s for {what} (screen {self.screen})")
            yield 0.05

    def wait_screen(self, name, timeout=10.0, through_reasons=True):
        """Wait for screen ``name``; on the way, a reasons screen is passed with "Tiếp tục".

        The reasons screen follows every level (kiosk/visit.py), so a citizen
        heading for the comment or the thanks goes through it; ``through_reasons``
        False waits without touching it.
        """
        def there():
            if (through_reasons and name != "reasons" and self.screen == "reasons"
                    and self.app.visit.state == "reasons"):
                self.app.root.sm.get_screen("reasons").submit()     # as a tap on "Tiếp tục" does
            return self.screen == name
        yield from self.wait_for(there, timeout, f"screen {name}")
        yield
        yield

    def shot(self, name):
        """Screenshot of the window to OUT/<name>.png (Kivy adds a counter; we rename)."""
        from kivy.core.window import Window
        yield
        yield
        made = Window.screenshot(name=str(self.out / f"{name}.png"))
        target = self.out / f"{name}.png"
        if made and Path(made).exists():
            os.replace(made, target)
        self.result["shots"].append(str(target))
        self.result["texts"][name] = self.visible_texts()

    def type_keys(self, keys: list[str]):
        """Tap on-screen keyboard keys by their value ("a", "tone:sac", "space", "backspace"…)."""
        keyboard = self.by_id("keyboard")
        for value in keys:
            yield from self.tap(keyboard.key_for(value), hold=0.03)


def keys_for(text: str) -> list[str]:
    """Keyboard key values to type ``text`` with the Telex keys (s f r x j for tones)."""
    out = []
    for ch in text:
        if ch == " ":
            out.append("space")
        elif ch.isupper():
            out += ["shift", ch.lower()]
        else:
            out.append(ch)
    return out


# --------------------------------------------------------------- scenarios

def full_visit(d: Driver):
    """Welcome → officer → Không hài lòng → two reasons → comment typed on the keyboard → thanks."""
    yield from d.wait_screen("welcome")
    yield from d.shot("welcome")
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.shot("choose_officer")
    yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-002"
                            and w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.shot("rate")
    level_sizes = [(b.level, b.width, b.height) for b in d.walk() if b.__class__.__name__ == "LevelButton"]
    d.result["notes"]["level_sizes"] = level_sizes
    from kivy.metrics import Metrics
    d.result["notes"]["dpi"] = Metrics.dpi
    # hold a finger on "Không hài lòng" for a screenshot: it must look like the others
    worst = d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 1)
    d.result["notes"]["level_boxes"] = {
        int(b.level): [*b.to_window(b.x, b.y), b.width, b.height]
        for b in d.walk() if b.__class__.__name__ == "LevelButton"}
    finger = d.down(worst)
    yield 0.2
    yield from d.shot("rate_pressed")
    d.up(finger)
    yield from d.wait_screen("reasons")
    yield 0.2
    yield from d.tap(d.find(lambda w: getattr(w, "code", None) == "thai_do"))
    yield from d.tap(d.find(lambda w: getattr(w, "code", None) == "nhung_nhieu"))
    yield 0.3
    yield from d.shot("reasons")
    yield from d.tap(d.by_id("next_button"))
    yield from d.wait_screen("comment")
    # "Chưa đúng hẹn, phải đi lại." with Telex keys, the đ key and the nặng tone key
    yield from d.type_keys(keys_for("Chuwa ddungs henj, phair ") + ["đ", "i", "space", "l", "a", "i",
                                                                      "tone:nang", "."])
    yield 0.3
    d.result["notes"]["typed"] = d.by_id("keyboard").text
    yield from d.shot("comment")
    yield from d.tap(d.by_id("send_button"))
    yield from d.wait_screen("thanks")
    d.result["notes"]["rows_when_thanks_shown"] = d.app.store.count()
    yield from d.shot("thanks")
    t0 = time.monotonic()
    yield from d.wait_screen("welcome", timeout=10)
    d.result["notes"]["thanks_seconds"] = time.monotonic() - t0


def language(d: Driver):
    """Toggle to English on welcome and on the rate screen; back to Vietnamese after the visit."""
    yield from d.wait_screen("welcome")
    d.result["texts"]["welcome_vi"] = d.visible_texts()
    yield from d.tap(d.app.root.ids.language_button)
    yield 0.3
    yield from d.shot("welcome_en")
    # a tap anywhere on welcome starts (here: on the unit's name, not on the button)
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "Label" and w.text == d.app.unit_name))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-001"
                            and w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.shot("rate_en")
    yield from d.tap(d.app.root.ids.language_button)
    yield 0.3
    d.result["texts"]["rate_vi_again"] = d.visible_texts()
    yield from d.tap(d.app.root.ids.language_button)
    yield 0.3
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("comment")
    yield from d.shot("comment_en")
    yield from d.tap(d.by_id("skip_button"))
    yield from d.wait_screen("thanks")
    d.result["texts"]["thanks_en"] = d.visible_texts()
    yield from d.wait_screen("welcome", timeout=10)
    yield 0.3
    d.result["texts"]["welcome_after"] = d.visible_texts()


def idle(d: Driver):
    """Start, choose, Không hài lòng, one reason, leave: idle timeout → welcome, the rating kept.

    Then Escape is ignored."""
    yield from d.wait_screen("welcome")
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 1))
    yield from d.wait_screen("reasons")
    yield from d.tap(d.find(lambda w: getattr(w, "code", None) == "thai_do"))
    t0 = time.monotonic()
    yield from d.wait_screen("welcome", timeout=15)
    d.result["notes"]["idle_seconds"] = time.monotonic() - t0
    d.result["notes"]["rows_after_idle"] = d.app.store.count()
    # Escape: the app keeps running (the window's keyboard handler swallows 27)
    from kivy.core.window import Window
    Window.dispatch("on_key_down", 27, 9, None, [])
    Window.dispatch("on_keyboard", 27, 9, None, [])
    Window.dispatch("on_key_up", 27, 9)
    yield 0.5
    d.result["notes"]["alive_after_escape"] = d.app.root is not None and d.screen == "welcome"
    # a refusal (as the receipt flow will show it), then "Về trang đầu"
    from kiosk.visit import ALREADY_RATED
    d.app.visit.show_message(ALREADY_RATED)
    yield from d.wait_screen("message")
    yield from d.shot("message")
    yield from d.tap(d.by_id("home_button"))
    yield from d.wait_screen("welcome", timeout=2)


def double_touch(d: Driver):
    """Two touch_downs 50 ms apart on a level button, then the same bounce on the next screen."""
    presses = []
    yield from d.wait_screen("welcome")
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-003"
                            and w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield 0.3
    button = d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 2)
    button.bind(on_press=lambda *_: presses.append(time.monotonic()))
    first = d.down(button)
    yield 0.05
    second = d.down(button)
    yield 0.02
    d.up(first)
    yield
    d.up(second)
    yield 0.5
    d.result["notes"]["level_presses"] = len(presses)
    d.result["notes"]["screen_after"] = d.screen
    d.result["notes"]["debounced"] = d.app.debounced_touches
    if d.screen in ("reasons", "thanks"):            # the reasons screen (every level) passed with "Tiếp tục"
        yield from d.wait_screen("welcome", timeout=10)
    d.result["notes"]["rows"] = d.app.store.count()


def rapid_repeat(d: Driver):
    """Two quick walk-up ratings: the second is flagged rapid_repeat (kept, not dropped)."""
    for _ in range(2):
        yield from d.wait_screen("welcome")
        yield from d.tap(d.by_id("start_button"))
        yield from d.wait_screen("choose_officer")
        yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-001"
                                and w.__class__.__name__ == "OfficerCard"))
        yield from d.wait_screen("rate")
        yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
        yield from d.wait_screen("thanks")
        yield from d.tap(pos=(640, 400))     # a tap on thanks does nothing harmful
        yield from d.wait_screen("welcome", timeout=10)
    d.result["notes"]["rows"] = d.app.store.count()


def staff_exit(d: Driver):
    """Long press in the top-right corner opens the PIN pad; a wrong PIN keeps kiosk mode; the right one quits."""
    from kivy.core.window import Window
    yield from d.wait_screen("welcome")
    corner = (Window.width - 20, Window.height - 20)
    touch = d.down(pos=corner)
    yield from d.wait_for(lambda: d.app._pin_pad is not None, 5, "PIN pad")
    d.up(touch)
    yield 0.3
    pad = d.app._pin_pad
    yield from d.shot("pin_pad")

    def key(text):
        return d.find(lambda w: w.__class__.__name__ == "PinKey" and w.text == text, root=pad)
    for digit in "0000":
        yield from d.tap(key(digit))
        yield 0.3
    yield from d.tap(key("OK"))
    yield 0.3
    d.result["notes"]["wrong_pin_events"] = d.app.store.event_counts().get("staff_pin_wrong", 0)
    d.result["notes"]["running_after_wrong_pin"] = True
    for digit in d.app.cfg.ui["staff_pin"]:
        yield from d.tap(key(digit))
        yield 0.3
    d.result["notes"]["stopping"] = True
    yield from d.tap(key("OK"))
    yield 5          # app.stop() ends the loop before this returns


def pin_lock(d: Driver):
    """Five wrong PINs typed with real touches lock the pad; it says how long to wait; the exit PIN waits too."""
    from kivy.core.window import Window
    from kivy.uix.label import Label
    yield from d.wait_screen("welcome")
    touch = d.down(pos=(Window.width - 20, Window.height - 20))
    yield from d.wait_for(lambda: d.app._pin_pad is not None, 5, "PIN pad")
    d.up(touch)
    yield 0.3
    pad = d.app._pin_pad

    def key(text):
        return d.find(lambda w: w.__class__.__name__ == "PinKey" and w.text == text, root=pad)
    notes = d.result["notes"]
    notes["titles"] = []
    for _try in range(5):
        for digit in "1357":
            yield from d.tap(key(digit))
        yield from d.tap(key("OK"))
        yield 0.2
        notes["titles"].append(pad.ids.title.text)
    yield from d.wait_for(lambda: pad.locked_seconds > 0, 5, "the lock")
    notes["locked_seconds"] = pad.locked_seconds
    notes["events"] = d.app.store.event_counts().get("staff_pin_wrong", 0)
    yield from d.shot("pin_locked")
    notes["pad_texts"] = [w.text for w in d.walk(pad) if isinstance(w, Label) and w.text]
    # the exit PIN, typed while locked: the digits do nothing, OK checks nothing, kiosk mode stays
    for digit in d.app.cfg.ui["staff_pin"]:
        yield from d.tap(key(digit))
    notes["stars_while_locked"] = pad.pin
    yield from d.tap(key("OK"))
    yield 1.2
    notes["still_running"] = True
    notes["events_after_exit_pin"] = d.app.store.event_counts().get("staff_pin_wrong", 0)
    notes["counted_down"] = pad.locked_seconds < notes["locked_seconds"]
    d.app.visit.set_language("en")
    yield 0.3
    notes["title_en"] = pad.ids.title.text
    yield from d.shot("pin_locked_en")


def scale5(d: Driver):
    """A 5-level scale: five faces and words, each still a big target; reasons for levels 1-3."""
    yield from d.wait_screen("welcome")
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.shot("rate_scale5")
    d.result["notes"]["level_sizes"] = [(b.level, b.width, b.height) for b in d.walk()
                                        if b.__class__.__name__ == "LevelButton"]
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    d.result["notes"]["screen_after_3"] = d.screen


def no_roster(d: Driver):
    """An empty kiosk.db and no --demo: welcome says so; a tap does not start a visit."""
    yield from d.wait_screen("welcome")
    yield from d.shot("welcome_no_roster")
    yield from d.tap(pos=(640, 400))
    yield 0.3
    d.result["notes"]["screen_after_tap"] = d.screen
    # the roster arrives as the sync agent applies it: stored, then the config event
    from kiosk.roster import load_roster_file
    d.app.store.apply_roster(load_roster_file())
    d.app.config_applied({})
    screen = d.app.root.sm.get_screen("welcome")
    yield from d.wait_for(lambda: screen.has_officers, 10, "the roster on welcome")
    yield 0.2
    d.result["texts"]["welcome_roster_arrived"] = d.visible_texts()
    yield from d.tap(pos=(640, 400))
    yield from d.wait_screen("choose_officer", timeout=3)


# ------------------------------------------- receipts, the scanner, the staff panel
#
# These scenarios get real pty pairs (tests/ptys.py): a scanner port the
# scenario writes codes into, and a FakePrinter on the printer port. The
# config's [scanner]/[printer] ports are pointed at them before the app starts.

DEVICES: dict = {}


def setup_devices(cfg, out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ptys import FakePrinter, PtyPort
    scanner = PtyPort()
    printer = PtyPort()
    DEVICES.update(scanner=scanner, printer=printer, fake=FakePrinter(printer))
    cfg.scanner["port"] = scanner.path
    cfg.printer.update(port=printer.path, baudrate=921600, timeout=1)


def teardown_devices() -> None:
    if DEVICES:
        DEVICES["fake"].stop()
        DEVICES["scanner"].close()
        DEVICES["printer"].close()


def scan(text: str) -> None:
    """A serial scanner reads a code: its bytes and CR LF on the pty."""
    DEVICES["scanner"].write(text.encode("utf-8") + b"\r\n")


def bad_tokens(app) -> dict:
    """Refused codes, each kind made with the test kiosk's key (or deliberately without it)."""
    from datetime import datetime, timedelta, timezone

    from kiosk import receipts
    from sync import protocol
    cfg, store, key = app.cfg, app.store, receipts.receipt_key(app.cfg, app.store)
    vectors = json.loads((Path(__file__).resolve().parent / "vectors" / "receipt.json").read_text("utf-8"))
    now = int(time.time())
    good = receipts.issue(cfg, store, "cb-001", "HS-ALTER-1", None)
    payload, sig = good.token[len("HL1."):].split(".")
    altered = dict(good.fields, o="cb-003")
    return {
        "wrong_key": protocol.make_receipt_token(good.fields, "c3" * 32),
        "altered": "HL1." + protocol.b64url(protocol.canonical_json(altered)) + "." + sig,
        "vector_wrong_key": vectors["forged_examples"]["wrong_key"],
        "vector_altered_officer": vectors["forged_examples"]["altered_officer"],
        "expired": receipts.issue(cfg, store, "cb-001", "HS-OLD-1", None,
                                  now=datetime.now(timezone.utc) - timedelta(days=40)).token,
        "other_unit": protocol.make_receipt_token(
            protocol.receipt_fields("99999", "quay-1", "cb-001", "HS-X", None, now), key),
        "unknown_officer": protocol.make_receipt_token(
            protocol.receipt_fields(cfg.kiosk["unit_code"], "quay-1", "cb-999", "HS-Y", None, now), key),
        "not_a_receipt": "https://example.vn/some-other-qr",
    }


class CountingAgent:
    """Stands in for the sync agent: counts nudges (bound to the app's on_rating_stored, as sync_service does)."""

    def __init__(self):
        self.nudges = 0

    def nudge(self):
        self.nudges += 1


def message_text(d: Driver) -> str:
    return d.app.root.sm.get_screen("message").ids.message_text.text


def receipts_flow(d: Driver):
    """Scan a receipt → rate its officer; scan again → already rated; every bad kind refused."""
    from kiosk import receipts
    agent = CountingAgent()
    d.app.bind(on_rating_stored=lambda _app, _record: agent.nudge())
    yield from d.wait_screen("welcome")
    issued = receipts.issue(d.app.cfg, d.app.store, "cb-002", "000.00.21.H31-261128-0042", "1.001193")
    t0 = time.monotonic()
    scan(issued.token)
    yield from d.wait_screen("rate", timeout=5)
    d.result["notes"]["scan_to_rate_s"] = time.monotonic() - t0
    d.result["notes"]["rate_officer"] = d.by_id("officer_name").text
    d.result["notes"]["rate_photo"] = d.by_id("officer_photo").photo
    yield from d.shot("receipt_rate")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("thanks")
    d.result["notes"]["receipt_id"] = issued.receipt_id
    d.result["notes"]["nudges_after_rating"] = agent.nudges
    yield from d.wait_screen("welcome", timeout=10)

    scan(issued.token)                                # the same receipt again
    yield from d.wait_screen("message", timeout=5)
    yield from d.shot("receipt_already_rated")
    yield from d.tap(d.by_id("home_button"))
    yield from d.wait_screen("welcome", timeout=3)

    refused = {}
    for name, token in bad_tokens(d.app).items():
        before = d.app.scanning.handled
        scan(token)
        yield from d.wait_for(lambda: d.app.scanning.handled > before, 5, f"scan {name}")
        yield from d.wait_screen("message", timeout=5)
        refused[name] = message_text(d)
        yield from d.shot(f"receipt_refused_{name}")
        yield from d.tap(d.by_id("home_button"))
        yield from d.wait_screen("welcome", timeout=3)
    d.result["notes"]["refused"] = refused

    # in English: the refusal follows the language the citizen chose
    yield from d.tap(d.app.root.ids.language_button)
    yield 0.2
    scan(bad_tokens(d.app)["expired"])
    yield from d.wait_screen("message", timeout=5)
    d.result["notes"]["refused_en"] = message_text(d)
    yield from d.shot("receipt_refused_expired_en")
    t0 = time.monotonic()
    yield from d.wait_screen("welcome", timeout=15)       # times back by itself
    d.result["notes"]["message_seconds"] = time.monotonic() - t0

    # a scan in the middle of a walk-up visit restarts it for the receipt's officer
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    second = receipts.issue(d.app.cfg, d.app.store, "cb-003", "HS-2026-0002", None)
    scan(second.token)
    yield from d.wait_screen("rate", timeout=5)
    d.result["notes"]["second_officer"] = d.by_id("officer_name").text
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 1))
    yield from d.wait_screen("reasons")
    yield from d.tap(d.by_id("next_button"))
    yield from d.wait_screen("thanks")
    d.result["notes"]["nudges"] = agent.nudges
    d.result["notes"]["device_state"] = devices_of(d.app)


def config_from_agent(d: Driver):
    """Started with no roster and no receipt key; the real sync agent brings both from the town server.

    The app must take them in on the agent's event, without a restart
    (issue 10: a valid receipt was refused until the kiosk restarted): the
    roster shows on welcome, a receipt signed with the town's key (the test
    leaves it in town_receipt_key.txt beside the config) rates its officer,
    and the rating reaches the server on the app's nudge, long before the
    agent's interval.
    """
    from sync import protocol
    app = d.app
    yield from d.wait_for(lambda: app.config_refreshes >= 1, 20, "the agent's config event")
    screen = app.root.sm.get_screen("welcome")
    d.result["notes"]["officers_on_welcome"] = screen.has_officers
    d.result["notes"]["verifier_key"] = app.scanning.verifier.receipt_key
    yield 0.2
    d.result["texts"]["welcome_after_config"] = d.visible_texts()
    yield from d.shot("welcome_after_config")
    key = (Path(app.cfg.db_path).parent / "town_receipt_key.txt").read_text("ascii").strip()
    token = protocol.make_receipt_token(protocol.receipt_fields(
        app.cfg.kiosk["unit_code"], app.cfg.kiosk["desk_id"], "cb-002", "HS-EVENT-1", None,
        int(time.time())), key)
    scan(token)
    yield from d.wait_screen("rate", timeout=5)
    d.result["notes"]["rate_officer"] = d.by_id("officer_name").text
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("thanks")
    t0 = time.monotonic()
    yield from d.wait_for(lambda: app.store.sync_counts()["pending"] == 0, 10, "the nudged agent to send it")
    d.result["notes"]["sent_after_s"] = time.monotonic() - t0
    d.result["notes"]["config_refreshes"] = app.config_refreshes


def provisioned_offline(d: Driver):
    """A kiosk provisioned from a bundle with the server down (issue 14): the roster is on welcome at once;
    an officer prints a QR receipt (the bundle's receipt key); the printed QR, read back, rates its officer."""
    import zxingcpp
    app = d.app
    fake = DEVICES["fake"]
    yield from d.wait_screen("welcome")
    welcome = app.root.sm.get_screen("welcome")
    d.result["notes"]["officers_on_welcome"] = welcome.has_officers
    d.result["texts"]["welcome"] = d.visible_texts()
    yield from d.shot("provisioned_welcome")
    yield from pin(d, "222222")                          # cb-002 of this desk, PIN from the bundle's roster
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    for key in "HS-0042":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "printing")
    d.result["notes"]["print_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    yield from d.wait_for(lambda: fake.printed.jobs(), 10, "the printed receipt")
    d.result["notes"]["jobs"] = save_jobs(d, "provisioned_receipt")
    page = fake.printed.jobs()[0]
    codes = [c.text for c in zxingcpp.read_barcodes(page.convert("L"))]
    d.result["notes"]["printed_codes"] = codes
    yield from d.tap(screen.ids.close_button)
    yield from d.wait_screen("welcome", timeout=3)
    scan(codes[0])                                       # the citizen's receipt at the scanner
    yield from d.wait_screen("rate", timeout=5)
    d.result["notes"]["rate_officer"] = d.by_id("officer_name").text
    yield from d.shot("provisioned_rate")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("thanks")
    d.result["notes"]["counts"] = app.store.sync_counts()


def wedge(d: Driver):
    """A keyboard-wedge scanner types the code into the window and presses Enter."""
    from kivy.core.window import Window

    from kiosk import receipts
    yield from d.wait_screen("welcome")
    issued = receipts.issue(d.app.cfg, d.app.store, "cb-001", "HS-WEDGE-7", "1.000894")
    for ch in issued.token:
        Window.dispatch("on_textinput", ch)
    Window.dispatch("on_key_down", 13, 40, None, [])
    Window.dispatch("on_key_up", 13, 40)
    yield from d.wait_screen("rate", timeout=5)
    d.result["notes"]["rate_officer"] = d.by_id("officer_name").text
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 2))
    yield from d.wait_screen("thanks")
    # stray typing (a person at a keyboard: slow keys) is not taken for a scan
    for ch in "abc":
        Window.dispatch("on_textinput", ch)
        yield 1.2
    Window.dispatch("on_key_down", 13, 40, None, [])
    yield 0.2
    d.result["notes"]["screen_after_stray"] = d.screen
    yield from d.wait_screen("welcome", timeout=5)
    # the same with real key events through X and SDL
    second = receipts.issue(d.app.cfg, d.app.store, "cb-003", "HS-XTEST-8", None)
    xtest_type(second.token)
    yield from d.wait_screen("rate", timeout=5)
    d.result["notes"]["xtest_officer"] = d.by_id("officer_name").text
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("thanks")


def xtest_type(text: str) -> None:
    """Type ``text`` and Return as real X key events (XTest), as a USB wedge scanner does.

    The events go through the X server and SDL like a keyboard's, so this
    checks that the kiosk window really receives text input.
    """
    import ctypes
    x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
    x11.XStringToKeysym.restype = ctypes.c_ulong
    x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    names = {"-": ("minus", False), "_": ("minus", True), ".": ("period", False), "/": ("slash", False),
             ":": ("semicolon", True), "\n": ("Return", False)}

    def code(name):
        return x11.XKeysymToKeycode(display, x11.XStringToKeysym(name.encode()))
    shift = code("Shift_L")
    for ch in text + "\n":
        name, shifted = names.get(ch, (ch.lower(), ch.isupper()))
        if shifted:
            xtst.XTestFakeKeyEvent(display, shift, 1, 0)
        xtst.XTestFakeKeyEvent(display, code(name), 1, 0)
        xtst.XTestFakeKeyEvent(display, code(name), 0, 0)
        if shifted:
            xtst.XTestFakeKeyEvent(display, shift, 0, 0)
    x11.XFlush(display)
    x11.XCloseDisplay(display)


def pin(d: Driver, digits: str):
    """Long press the corner, type ``digits`` on the PIN pad, OK."""
    from kivy.core.window import Window
    touch = d.down(pos=(Window.width - 20, Window.height - 20))
    yield from d.wait_for(lambda: d.app._pin_pad is not None, 5, "PIN pad")
    d.up(touch)
    yield 0.2
    pad = d.app._pin_pad
    for digit in list(digits) + ["OK"]:
        yield from d.tap(d.find(lambda w: w.__class__.__name__ == "PinKey" and w.text == digit, root=pad))


def devices_of(app) -> dict:
    """The heartbeat's device states (printer, scanner); its "health" is staff_health's to check."""
    state = app.device_state()
    assert set(state["health"]) >= {"disk_free_mb", "clock_synced"}
    return {k: v for k, v in state.items() if k != "health"}


def save_jobs(d: Driver, prefix: str) -> int:
    jobs = DEVICES["fake"].printed.jobs()
    for i, image in enumerate(jobs):
        image.save(d.out / f"{prefix}_{i}.png")
    return len(jobs)


def staff_panel(d: Driver):
    """Officer PIN → panel; duty; a dossier typed; print; paper out; reprint; a scan fills the field."""
    app = d.app
    fake = DEVICES["fake"]
    yield from d.wait_screen("welcome")
    app.store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3)
    yield from pin(d, "9999")                          # nobody's PIN
    yield 0.2
    d.result["notes"]["wrong_pin_events"] = app.store.event_counts().get("staff_pin_wrong", 0)
    d.result["notes"]["screen_after_wrong"] = d.screen
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "BigButton" and w.text == "Huỷ",
                            root=app._pin_pad))
    yield from pin(d, "222222")                          # cb-002 of this desk
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    yield from d.wait_for(lambda: screen.pending != "–", 5, "status")
    d.result["notes"]["duty_before"] = {o["id"]: o["on_duty"] for o in app.staff.duty()}
    # cb-001 goes off duty
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "Chip" and w.code == "cb-001"))
    d.result["notes"]["duty_after"] = {o["id"]: o["on_duty"] for o in app.staff.duty()}
    # the dossier code typed on the pad
    for key in "000.21.H31-0042":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    d.result["notes"]["typed"] = screen.ids.pad.text
    # the procedure from the list
    yield from d.tap(screen.ids.procedure)
    yield 0.3
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "ProcedureOption"
                            and w.text == "Đăng ký khai sinh", root=app.root_window))
    d.result["notes"]["procedure"] = screen.procedure_code()
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "printing")
    d.result["notes"]["print_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    yield from d.wait_for(lambda: fake.printed.jobs(), 5, "the printed page")
    yield from d.shot("staff_panel")
    # paper runs out
    fake.paper = "out"
    screen.ids.pad.text = ""
    for key in "HS-2":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "printing")
    d.result["notes"]["paper_out_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    screen.refresh_status()
    yield from d.wait_for(lambda: screen.printer_state == "paper_out", 6, "paper-out status")
    yield from d.shot("staff_panel_paper_out")
    d.result["notes"]["device_state_fault"] = devices_of(app)
    # English, for the staff too
    yield from d.tap(app.root.ids.language_button)
    yield 0.3
    yield from d.shot("staff_panel_paper_out_en")
    yield from d.tap(app.root.ids.language_button)
    yield 0.2
    # paper back: reprint
    fake.paper = "ok"
    yield from d.tap(screen.ids.reprint_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "reprinting")
    d.result["notes"]["reprint_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 2, 5, "the reprinted page")
    d.result["notes"]["jobs"] = save_jobs(d, "staff_printed")
    # the printer's cable pulled: a clear message, nothing crashes
    real_port, app.printer.port = app.printer.port, str(d.out / "no-such-printer")
    yield from d.tap(screen.ids.reprint_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "reprint without a printer")
    d.result["notes"]["absent_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    screen.refresh_status()
    yield from d.wait_for(lambda: screen.printer_state == "absent", 6, "absent status")
    yield from d.shot("staff_panel_printer_absent")
    app.printer.port = real_port
    # a dossier's barcode scanned while the panel is open fills the field (not a receipt check)
    events_before = sum(app.store.event_counts().values())
    scan("000.00.21.H31-261128-0099")
    yield from d.wait_for(lambda: screen.ids.pad.text == "000.00.21.H31-261128-0099", 5, "scanned dossier")
    d.result["notes"]["events_added_by_dossier_scan"] = sum(app.store.event_counts().values()) - events_before
    d.result["notes"]["screen_after_dossier_scan"] = d.screen
    # close: back to welcome, signed out; duty drives the citizen's officer cards
    yield from d.tap(screen.ids.close_button)
    yield from d.wait_screen("welcome", timeout=3)
    d.result["notes"]["signed_in_after_close"] = app.staff.officer is not None
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    d.result["notes"]["cards"] = sorted(w.officer_id for w in d.walk() if w.__class__.__name__ == "OfficerCard")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "BigButton" and w.icon == "back"))
    yield from d.wait_screen("welcome", timeout=3)
    # the panel times out by itself
    yield from pin(d, "111111")
    yield from d.wait_screen("staff", timeout=5)
    t0 = time.monotonic()
    yield from d.wait_screen("welcome", timeout=15)
    d.result["notes"]["panel_idle_s"] = time.monotonic() - t0
    d.result["notes"]["signed_in_after_idle"] = app.staff.officer is not None


def letter_chooser_texts(d: Driver) -> list[str]:
    from kivy.uix.label import Label
    chooser = d.app.staff_screen.letter_chooser
    return [w.text for w in d.walk(chooser) if isinstance(w, Label) and w.text and d._opaque(w, chooser)]


def open_chooser(d: Driver):
    screen = d.app.staff_screen
    yield from d.tap(screen.ids.letter_button)
    yield from d.wait_for(lambda: screen.letter_chooser is not None, 3, "the letter chooser")
    yield 0.3


def chooser_tap(d: Driver, pred):
    yield from d.tap(d.find(pred, root=d.app.staff_screen.letter_chooser), hold=0.03)


def date_keys(d: Driver, digits: str):
    for digit in digits:
        yield from chooser_tap(d, lambda w, x=digit: w.__class__.__name__ == "DateKey" and w.text == x)


def staff_letters(d: Driver):
    """Panel: "In thư" needs a dossier; a congratulation for a birth; the apology's date; paper out; with_receipt."""
    from datetime import date, timedelta
    app = d.app
    fake = DEVICES["fake"]
    notes = d.result["notes"]
    yield from d.wait_screen("welcome")
    yield from pin(d, "222222")                          # cb-002
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    yield from d.tap(screen.ids.letter_button)          # no dossier yet
    yield 0.2
    notes["no_dossier"] = [screen.outcome_ok, screen.outcome_vi, screen.letter_chooser is None]
    for key in "KS-77":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    yield from d.tap(screen.ids.procedure)
    yield 0.3
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "ProcedureOption"
                            and w.text == "Đăng ký khai sinh", root=app.root_window))
    # the chooser: the birth registration's letter first
    yield from open_chooser(d)
    notes["suggested"] = [screen.letter_chooser.suggested, screen.letter_chooser.kind]
    yield from d.shot("staff_letter_chooser")
    d.result["texts"]["staff_letter_chooser"] = letter_chooser_texts(d)
    yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "In thư" and w.__class__.__name__ == "BigButton")
    yield from d.wait_for(lambda: screen.letter_chooser is None, 3, "the chooser closing")
    yield from d.wait_for(lambda: not screen.busy, 15, "printing the letter")
    notes["congratulation_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 1, 5, "the printed letter")
    # the apology: no date, an impossible date, a past date, then a good one
    yield from open_chooser(d)
    yield from chooser_tap(d, lambda w: getattr(w, "code", None) == "xin_loi")
    chooser = screen.letter_chooser
    yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "In thư" and w.__class__.__name__ == "BigButton")
    notes["apology_no_date"] = [chooser.message, screen.letter_chooser is chooser]
    yield from d.shot("staff_letter_apology_no_date")
    d.result["texts"]["staff_letter_apology_no_date"] = letter_chooser_texts(d)
    yield from date_keys(d, "31112030")
    yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "In thư" and w.__class__.__name__ == "BigButton")
    notes["apology_bad_date"] = [chooser.message, chooser.ids.date_text.text]
    for _ in range(8):
        yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "Xoá" and w.__class__.__name__ == "DateKey")
    yield from date_keys(d, "01012020")
    yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "In thư" and w.__class__.__name__ == "BigButton")
    notes["apology_past_date"] = chooser.message
    for _ in range(8):
        yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "Xoá" and w.__class__.__name__ == "DateKey")
    new_date = date.today() + timedelta(days=7)
    yield from date_keys(d, new_date.strftime("%d%m%Y"))
    notes["apology_date_shown"] = chooser.ids.date_text.text
    yield from d.shot("staff_letter_apology")
    yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "In thư" and w.__class__.__name__ == "BigButton")
    yield from d.wait_for(lambda: not screen.busy and screen.letter_chooser is None, 15, "printing the apology")
    notes["apology_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    notes["apology_new_date"] = new_date.isoformat()
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 2, 5, "the printed apology")
    # paper out: the message, then "In lại" prints the letter
    fake.paper = "out"
    yield from open_chooser(d)
    notes["suggested_again"] = screen.letter_chooser.kind
    yield from chooser_tap(d, lambda w: getattr(w, "code", None) == "chia_buon")
    yield from chooser_tap(d, lambda w: getattr(w, "text", None) == "In thư" and w.__class__.__name__ == "BigButton")
    yield from d.wait_for(lambda: not screen.busy and screen.letter_chooser is None, 15, "printing on no paper")
    notes["paper_out_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    fake.paper = "ok"
    yield from d.tap(screen.ids.reprint_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "reprinting")
    notes["reprint_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 3, 5, "the reprinted letter")
    # [letters] with_receipt: "In phiếu" prints the receipt, then the procedure's letter
    app.cfg.letters["with_receipt"] = True
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 15, "receipt and letter")
    notes["with_receipt_outcome"] = [screen.outcome_ok, screen.outcome_vi]
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 5, 5, "receipt and letter printed")
    yield from d.shot("staff_letters_done")
    # English
    yield from d.tap(app.root.ids.language_button)
    yield 0.2
    yield from open_chooser(d)
    yield from chooser_tap(d, lambda w: getattr(w, "code", None) == "xin_loi")
    yield from chooser_tap(d, lambda w: w.__class__.__name__ == "BigButton" and w.text == "Print letter")
    yield from d.shot("staff_letter_chooser_en")
    d.result["texts"]["staff_letter_chooser_en"] = letter_chooser_texts(d)
    yield from chooser_tap(d, lambda w: w.__class__.__name__ == "BigButton" and w.text == "Cancel")
    yield from d.wait_for(lambda: screen.letter_chooser is None, 3, "the chooser closing")
    notes["jobs"] = save_jobs(d, "staff_letter_printed")


def walk_up(d: Driver, officer_id: str, level: int):
    """A walk-up visit to the thanks screen (reasons skipped with "Tiếp tục")."""
    yield from d.wait_screen("welcome")
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == officer_id
                            and w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == level))
    yield from d.wait_for(lambda: d.screen in ("reasons", "thanks"), 5, "reasons or thanks")
    if d.screen == "reasons":
        yield from d.tap(d.by_id("next_button"))
    yield from d.wait_screen("thanks")


def letters_after_rating(d: Driver):
    """[letters] after_rating: off → nothing; on → one thank-you per rating, the same for every level."""
    from kiosk import receipts
    app = d.app
    fake = DEVICES["fake"]
    notes = d.result["notes"]
    yield from walk_up(d, "cb-002", 3)                  # the config leaves after_rating off
    notes["threads_when_off"] = len(app._letter_jobs)
    yield from d.wait_screen("welcome", timeout=10)
    notes["jobs_when_off"] = len(fake.printed.jobs())
    app.cfg.letters["after_rating"] = True
    for level in (3, 1):
        before = len(fake.printed.jobs())
        yield from walk_up(d, "cb-002", level)
        yield from d.wait_for(lambda: len(fake.printed.jobs()) > before, 10, f"the thank-you after level {level}")
        yield from d.wait_screen("welcome", timeout=10)
    # a scanned receipt: its dossier on the thank-you
    issued = receipts.issue(app.cfg, app.store, "cb-003", "HS-2026-0310", "1.000656")
    scan(issued.token)
    yield from d.wait_screen("rate", timeout=5)
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 2))
    yield from d.wait_for(lambda: d.screen in ("reasons", "thanks"), 5, "reasons or thanks")
    if d.screen == "reasons":
        yield from d.tap(d.by_id("next_button"))
    yield from d.wait_screen("thanks")
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 3, 10, "the thank-you for the receipt")
    yield from d.wait_screen("welcome", timeout=10)
    # paper out: the citizen is thanked as always, the fault only logged
    fake.paper = "out"
    yield from walk_up(d, "cb-001", 1)
    notes["thanks_texts_paper_out"] = d.visible_texts()
    t0 = time.monotonic()
    yield from d.wait_screen("welcome", timeout=10)
    notes["thanks_seconds_paper_out"] = time.monotonic() - t0
    for job in app._letter_jobs:
        job.join(10)
    notes["jobs_after_paper_out"] = len(fake.printed.jobs())
    notes["printer_state_paper_out"] = app.device_state()["printer"]
    fake.paper = "ok"                                   # the failed thank-you does not hold back the next
    yield from walk_up(d, "cb-001", 2)
    yield from d.wait_for(lambda: len(fake.printed.jobs()) >= 4, 10, "the thank-you after the fault")
    yield from d.wait_screen("welcome", timeout=10)
    notes["rows"] = app.store.count()
    notes["jobs"] = save_jobs(d, "after_rating_printed")


def bench_scan(d: Driver):
    """Benchmark: scan → rate screen drawn, against tap → rate screen drawn (KIOSK_BENCH_ROUNDS each).

    A moment is "drawn" at the first Window flip after the screen manager
    switched to "rate". Walk-up taps go straight to rating with one officer
    on duty (the same rate screen, the same officer's photo).
    """
    from kivy.core.window import Window

    from kiosk import receipts
    app = d.app
    rounds = int(os.environ.get("KIOSK_BENCH_ROUNDS", "20"))
    app.store.set_on_duty("quay-1", ["cb-001"])
    marks = {"switched": None, "drawn": None}

    def on_current(_sm, name):
        if name == "rate":
            marks["switched"] = time.perf_counter()

    def on_flip(*_):
        if marks["switched"] is not None and marks["drawn"] is None:
            marks["drawn"] = time.perf_counter()
    app.root.sm.bind(current=on_current)
    Window.bind(on_flip=on_flip)
    yield from d.wait_screen("welcome")
    yield 0.5
    scans, taps, verify = [], [], []
    for i in range(rounds):
        issued = receipts.issue(app.cfg, app.store, "cb-001", f"HS-BENCH-{i}", None)
        t0 = time.perf_counter()
        app.scanning.verifier.check(issued.token)          # the bare check (read-only when accepted)
        verify.append(time.perf_counter() - t0)
        for kind in ("scan", "tap"):
            yield 0.15
            marks.update(switched=None, drawn=None)
            if kind == "scan":
                t0 = time.perf_counter()
                scan(issued.token)
            else:
                touch = d.down(d.by_id("start_button"))
                yield 0.05
                t0 = time.perf_counter()
                d.up(touch)
            yield from d.wait_for(lambda: marks["drawn"] is not None, 5, f"rate screen after {kind}")
            (scans if kind == "scan" else taps).append(marks["drawn"] - t0)
            app.visit.reset()
            yield from d.wait_screen("welcome")
    d.result["notes"].update(scan_s=scans, tap_s=taps, verify_s=verify)


def _to_comment(d: Driver, level: int = 3):
    """Welcome → cb-001 → ``level`` → the reasons screen (passed with "Tiếp tục") → the comment."""
    yield from d.wait_screen("welcome")
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_screen("choose_officer")
    yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-001"
                            and w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == level))
    d.result["notes"]["rows_at_tap"] = d.app.store.count()
    d.result["notes"]["draft_at_tap"] = d.app.store.draft()
    yield from d.wait_screen("comment")


def _warning_button(d: Driver):
    pad = d.app._idle_warning
    return d.find(lambda w: w.__class__.__name__ == "BigButton" and getattr(w, "icon", "") == "check", root=pad)


def walk_away(d: Driver):
    """Rất hài lòng, a few words on the keyboard, then nothing: the warning, then welcome; one row."""
    yield from _to_comment(d, 3)
    yield from d.type_keys(keys_for("Toots"))           # Telex: "Tốt"
    d.result["notes"]["typed"] = d.by_id("keyboard").text
    t0 = time.monotonic()
    yield from d.wait_for(lambda: d.app._idle_warning is not None, 10, "the idle warning")
    d.result["notes"]["warning_after"] = time.monotonic() - t0
    yield 0.3
    yield from d.shot("idle_warning")
    d.result["texts"]["idle_warning"] = [w.text for w in d.walk(d.app._idle_warning)
                                         if w.__class__.__name__ == "Label" and w.text]
    button = _warning_button(d)
    from kivy.metrics import Metrics
    d.result["notes"]["go_on_size"] = [button.width, button.height]
    d.result["notes"]["dpi"] = Metrics.dpi
    d.result["notes"]["screen_under_warning"] = d.screen
    yield from d.wait_screen("welcome", timeout=10)
    d.result["notes"]["ended_after"] = time.monotonic() - t0
    d.result["notes"]["warning_gone"] = d.app._idle_warning is None
    yield 0.3
    yield from d.shot("after_walk_away")


def go_on(d: Driver):
    """The warning shows; "Tiếp tục" keeps the visit where it was; then the citizen sends."""
    yield from _to_comment(d, 2)
    yield from d.tap(language_button(d))                 # in English (a touch too)
    yield from d.wait_for(lambda: d.app._idle_warning is not None, 15, "the idle warning")
    yield 0.3
    d.result["texts"]["idle_warning_en"] = [w.text for w in d.walk(d.app._idle_warning)
                                            if w.__class__.__name__ == "Label" and w.text]
    yield from d.tap(_warning_button(d))
    yield 0.5
    d.result["notes"]["after_go_on"] = [d.screen, d.app.visit.state, d.app._idle_warning is None]
    d.result["notes"]["rows_after_go_on"] = d.app.store.count()
    yield from d.tap(d.by_id("send_button"))
    yield from d.wait_screen("thanks")
    d.result["notes"]["rows_at_thanks"] = d.app.store.count()


def tap_then_die(d: Driver):
    """The level is tapped, then the process is killed (SIGKILL) before anything else happens."""
    import signal
    yield from _to_comment(d, 3)
    os.kill(os.getpid(), signal.SIGKILL)
    yield


def restart(d: Driver):
    """Start again on the same kiosk.db: a draft left by the crash is a row now."""
    yield from d.wait_screen("welcome")
    d.result["notes"]["rows_at_start"] = d.app.store.count()
    d.result["notes"]["draft_at_start"] = d.app.store.draft()



# ------------------------------------------- the citizen's screens: touch targets, the same steps for every level

def touch_targets_on(d: Driver) -> list:
    """[name, visible width, visible height] of every widget a finger can use now.

    Touchable: buttons of any kind (ButtonBehavior: BigButton, LevelButton,
    OfficerCard, Chip, the keyboard's keys), text inputs, sliders, check boxes.
    What an open modal view (the idle warning) covers is not touchable; a
    widget hidden (opacity 0) or disabled is not either; the size is what is
    visible inside the window and any scroll view around it.
    """
    from kivy.core.window import Window
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.checkbox import CheckBox
    from kivy.uix.modalview import ModalView
    from kivy.uix.slider import Slider
    from kivy.uix.stencilview import StencilView
    from kivy.uix.textinput import TextInput
    modals = [w for w in Window.children if isinstance(w, ModalView)]
    roots = modals[:1] or [d.app.root.ids.header, d.app.root.sm.current_screen]
    names = {}
    for holder in [d.app.root, d.app.root.sm.current_screen, *modals]:
        for name, widget in holder.ids.items():
            names.setdefault(id(getattr(widget, "__self__", widget)), name)     # ids hold weak proxies

    def box(w):
        x0, y0 = w.to_window(w.x, w.y)
        x1, y1 = w.to_window(w.right, w.top)
        return [max(0, x0), max(0, y0), min(Window.width, x1), min(Window.height, y1)]

    def name_of(w):
        kind = w.__class__.__name__
        for attr in ("value", "code", "level", "officer_id"):
            if getattr(w, attr, None) not in (None, ""):
                return f"{names.get(id(w)) or kind}[{attr}={getattr(w, attr)!r}]"
        return names.get(id(w)) or f"{kind}({getattr(w, 'text', '')!r})"

    found = []
    for root in roots:
        for w in d.walk(root):
            if not isinstance(w, (ButtonBehavior, TextInput, Slider, CheckBox)):
                continue
            hidden, node, rect = False, w, box(w)
            while node is not None and node is not Window:
                if node.opacity == 0 or node.disabled:
                    hidden = True
                if isinstance(node, StencilView) and node is not w:
                    clip = box(node)
                    rect = [max(rect[0], clip[0]), max(rect[1], clip[1]), min(rect[2], clip[2]), min(rect[3], clip[3])]
                node = node.parent
            if hidden or rect[2] <= rect[0] or rect[3] <= rect[1]:
                continue
            found.append([name_of(w), round(rect[2] - rect[0], 1), round(rect[3] - rect[1], 1)])
    return found


def language_button(d: Driver):
    """The language button the citizen sees: the header's, or the comment screen's own."""
    screen = d.app.root.sm.current_screen
    return screen.ids.get("language_button") or d.app.root.ids.language_button


def touch_targets(d: Driver):
    """Every citizen screen in Vietnamese, then in English: each touchable widget's size, and a screenshot."""
    from kivy.core.window import Window

    from kiosk.visit import ALREADY_RATED
    notes = d.result["notes"]
    notes["window"] = [Window.width, Window.height]
    notes["targets"] = {}

    def record(name, lang):
        yield 0.2
        notes["targets"][f"{name}_{lang}"] = touch_targets_on(d)
        yield from d.shot(f"targets_{name}_{lang}")

    for lang in ("vi", "en"):
        yield from d.wait_screen("welcome")
        if lang == "en":
            yield from d.tap(language_button(d))
        yield from record("welcome", lang)
        yield from d.tap(d.by_id("start_button"))
        yield from d.wait_screen("choose_officer")
        yield from record("choose_officer", lang)
        yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-002"
                                and w.__class__.__name__ == "OfficerCard"))
        yield from d.wait_screen("rate")
        yield from record("rate", lang)
        yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 2))
        yield from d.wait_screen("reasons", through_reasons=False)
        yield from d.tap(d.find(lambda w: getattr(w, "code", None) == "huong_dan"))
        yield from record("reasons", lang)
        yield from d.tap(d.by_id("next_button"))
        yield from d.wait_screen("comment", through_reasons=False)
        yield from d.type_keys(keys_for("Cans booj hwowngs daaxn raats taanj tinhf, nhieejt tinhf. "))
        notes[f"comment_font_px_{lang}"] = d.by_id("comment_text").font_size
        notes[f"comment_shown_{lang}"] = d.by_id("comment_text").text
        yield from record("comment", lang)
        d.app.visit.warning = True                      # the idle warning, as the idle timer shows it
        d.app.visit._notify_warning()
        yield from d.wait_for(lambda: d.app._idle_warning is not None, 5, "the idle warning")
        yield 0.3
        yield from record("idle_warning", lang)
        yield from d.tap(_warning_button(d))
        yield 0.3
        yield from d.tap(d.by_id("send_button"))
        yield from d.wait_screen("thanks", through_reasons=False)
        yield from record("thanks", lang)
        yield from d.wait_screen("welcome", timeout=10)
        if lang == "en":
            d.app.visit.set_language("en")
        d.app.visit.show_message(ALREADY_RATED)
        yield from d.wait_screen("message")
        yield from record("message", lang)
        yield from d.tap(d.by_id("home_button"))
        yield from d.wait_screen("welcome", timeout=3)
    notes["rows"] = d.app.store.count()
    notes["comments"] = [r["comment"] for r in d.app.store.records()]


def same_steps(d: Driver):
    """Each level in turn, with the same real taps: the screens seen, their shots, the chips, the time each took."""
    from kivy.metrics import Metrics
    notes = d.result["notes"]
    notes["dpi"] = Metrics.dpi
    notes["walks"] = {}
    levels = [lv for lv, *_rest in d.app.visit.levels()]
    seen = []
    d.app.root.sm.bind(current=lambda _sm, name: seen.append(name))
    for level in levels:
        yield from d.wait_screen("welcome")
        yield from d.tap(d.by_id("start_button"))
        yield from d.wait_screen("choose_officer")
        yield from d.tap(d.find(lambda w: getattr(w, "officer_id", None) == "cb-001"
                                and w.__class__.__name__ == "OfficerCard"))
        yield from d.wait_screen("rate")
        t0 = time.monotonic()
        yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == level))
        yield from d.wait_screen("reasons", through_reasons=False)
        walk = {"tap_to_next_s": time.monotonic() - t0, "rows_at_tap": d.app.store.count(),
                "draft_level": (d.app.store.draft() or {}).get("level")}
        walk["chips"] = [[w.code, w.text, w.selected] for w in d.walk() if w.__class__.__name__ == "Chip"]
        yield from d.shot(f"same_steps_reasons_{level}")
        walk["texts_reasons"] = d.visible_texts()
        yield from d.tap(d.find(lambda w: getattr(w, "code", None) == "thai_do"))
        yield from d.shot(f"same_steps_reasons_chosen_{level}")
        yield from d.tap(d.by_id("next_button"))
        yield from d.wait_screen("comment", through_reasons=False)
        yield from d.shot(f"same_steps_comment_{level}")
        walk["texts_comment"] = d.visible_texts()
        yield from d.tap(d.by_id("send_button"))
        yield from d.wait_screen("thanks", through_reasons=False)
        yield from d.shot(f"same_steps_thanks_{level}")
        walk["texts_thanks"] = d.visible_texts()
        t1 = time.monotonic()
        yield from d.wait_screen("welcome", timeout=10)
        walk["thanks_s"] = time.monotonic() - t1
        walk["screens"] = list(seen)
        seen.clear()
        notes["walks"][str(level)] = walk
    notes["rows"] = [[r["level"], r["reasons"]] for r in d.app.store.records()]

# ------------------------------------------- the staff panel without a printer (issue 10)

def staff_rate_on_screen(d: Driver):
    """No printer: the panel says what to do; a bad dossier code is refused; a typed one opens the rating."""
    app = d.app
    notes = d.result["notes"]
    yield from d.wait_screen("welcome")
    yield from pin(d, "222222")                          # cb-002 of desk 1
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    yield from d.wait_for(lambda: screen.printer_state == "not_configured", 6, "the printer's state")
    yield 0.2
    notes["printer_line"] = screen.ids.printer_line.text
    notes["outcome_at_open"] = screen.ids.outcome.text
    yield from d.shot("staff_no_printer")
    yield from d.tap(screen.ids.print_button)            # no dossier yet
    yield from d.tap(screen.ids.rate_here_button)
    notes["no_dossier"] = [screen.outcome_ok, screen.outcome_vi, d.screen]
    # a code with a hidden direction mark, as a bad barcode would bring: refused, the panel stays
    app.scanning.handle("HS-\u202e0042")
    yield 0.2
    yield from d.tap(screen.ids.rate_here_button)
    notes["bad_code"] = [screen.outcome_ok, screen.outcome_vi, d.screen]
    yield from d.shot("staff_bad_dossier")
    # in English
    yield from d.tap(app.root.ids.language_button)
    yield 0.3
    notes["printer_line_en"] = screen.ids.printer_line.text
    notes["bad_code_en"] = screen.ids.outcome.text
    yield from d.shot("staff_no_printer_en")
    yield from d.tap(app.root.ids.language_button)
    yield 0.2
    # the print button without a printer: what to do, and the dossier is kept
    screen.clear_dossier()
    for key in "000.21.H31-0042":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy, 10, "the print attempt")
    notes["print_outcome"] = [screen.outcome_ok, screen.outcome_vi, screen.ids.pad.text]
    yield from d.shot("staff_print_no_printer")
    yield from d.tap(screen.ids.procedure)
    yield 0.3
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "ProcedureOption"
                            and w.text == "Đăng ký khai sinh", root=app.root_window))
    notes["rows_before"] = app.store.count()
    yield from d.tap(screen.ids.rate_here_button)
    yield from d.wait_screen("rate", timeout=5)
    notes["signed_in_at_rate"] = app.staff.officer is not None
    notes["rate_officer"] = d.by_id("officer_name").text
    yield from d.shot("staff_rate_on_screen")
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("thanks")
    notes["records"] = [{k: r[k] for k in ("officer_id", "dossier_code", "procedure_code", "receipt_id",
                                           "source", "level")} for r in app.store.records()]


def local_clock(d: Driver):
    """At 18:30 UTC on 08/12/2026 (the test sets the machine's TZ): the header clock, a receipt printed
    from the staff panel and the panel's last sync all read the kiosk's +07:00 time (issue 10)."""
    from datetime import datetime, timezone

    from kiosk import config as kiosk_config
    from kiosk.devices.printer import Printer
    app = d.app
    notes = d.result["notes"]
    instant = datetime(2026, 12, 8, 18, 30, tzinfo=timezone.utc).timestamp()
    kiosk_config.wall_clock = lambda: instant
    notes["machine_time"] = time.strftime("%H:%M %d/%m/%Y", time.localtime(instant))
    yield from d.wait_screen("welcome")
    yield 0.4                                            # the clock ticks every 0.25 s
    notes["header_texts"] = d.visible_texts()            # what the header's Labels show
    yield from d.shot("local_clock_welcome")
    notes["clock_text"] = app.clock_text
    app.printer = app.staff.printer = Printer("", save_dir=d.out / "local_clock_prints",
                                              utc_offset=app.cfg.kiosk["utc_offset"])
    app.store.set_meta("last_sync_at", "2026-12-08T18:25:00+00:00")
    app.cfg.receipt["key"] = app.cfg.receipt["key"] or "cd" * 32
    yield from pin(d, "111111")
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    for key in "HS-TZ-1":
        yield from d.tap(screen.ids.pad.key_for(key), hold=0.03)
    yield from d.tap(screen.ids.print_button)
    yield from d.wait_for(lambda: not screen.busy and app.printer.saved, 10, "the receipt")
    yield from d.wait_for(lambda: screen.last_sync, 6, "the status")
    notes["last_sync_line"] = screen.ids.sync_line.text
    yield from d.shot("local_clock_staff")
    from PIL import Image
    notes["receipt_text"] = Image.open(app.printer.saved[0]).text["text"]


# ------------------------------------------------------------ unattended (issue 14)

def moving_clock(local: str):
    """Stand the kiosk's wall clock at ``local`` (RFC 3339, +07:00) from now on, running at real speed.

    The app sees the jump (wall against monotonic) as a clock that was set, and replans its hours.
    """
    from datetime import datetime

    from kiosk import config as kiosk_config
    base, t0 = datetime.fromisoformat(local).timestamp(), time.monotonic()
    kiosk_config.wall_clock = lambda: base + (time.monotonic() - t0)


def overlay_texts(app) -> dict:
    """What the dimming cover shows, by widget id ({} when it is not on the window)."""
    overlay = app._overlay
    if overlay is None or overlay.parent is None:
        return {}
    return {name: w.text for name, w in overlay.ids.items() if w.text and w.opacity > 0}


def outside_hours(d: Driver):
    """[hours] Mon-Fri 07:30-11:30, 13:30-17:00: a visit begun at 11:29 finishes after closing; then the
    screen is dimmed, taps do nothing but count; the staff panel still opens; 13:30 lights it by itself."""
    from kiosk.hours import taps_outside
    app = d.app
    notes = d.result["notes"]
    yield from d.wait_screen("welcome")
    moving_clock("2026-12-07T11:29:00+07:00")                    # Monday, open
    yield from d.wait_for(lambda: app._clock_skew is not None and not app.closed and not app.dimmed, 5, "open")
    notes["open_at_1129"] = not app.closed
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_for(lambda: d.screen in ("choose_officer", "rate"), 5, "a visit")
    if d.screen == "choose_officer":
        yield from d.tap(d.find(lambda w: w.__class__.__name__ == "OfficerCard"))
    yield from d.wait_screen("rate")
    moving_clock("2026-12-07T11:31:00+07:00")                    # closing time passes during the visit
    yield from d.wait_for(lambda: app.closed, 5, "closed")
    notes["dimmed_during_visit"] = app.dimmed
    yield from d.tap(d.find(lambda w: w.__class__.__name__ == "LevelButton" and w.level == 3))
    yield from d.wait_screen("thanks")
    notes["rows_after_visit"] = app.store.count()
    yield from d.wait_screen("welcome", timeout=10)
    yield from d.wait_for(lambda: app.dimmed, 5, "dimmed on welcome")
    notes["overlay_texts"] = overlay_texts(app)
    taps0 = taps_outside(app.store)
    # the citizen taps: the start button, the middle of the screen, the language button
    start = d.by_id("start_button")
    yield from d.tap(start)
    from kivy.core.window import Window
    yield from d.tap(pos=(Window.width / 2, Window.height / 3))
    lang_before = app.lang
    yield from d.tap(app.root.ids.language_button)
    notes["taps_counted"] = taps_outside(app.store) - taps0
    notes["after_taps"] = {"screen": d.screen, "visit": app.visit.state, "rows": app.store.count(),
                           "lang_same": app.lang == lang_before, "dimmed": app.dimmed}
    yield from d.shot("closed_dimmed")
    notes["shot_texts"] = overlay_texts(app)
    # the staff panel opens outside the hours (officer PIN in the corner)
    yield from pin(d, "111111")
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    yield from d.wait_for(lambda: screen.health, 10, "the health summary")
    notes["panel_dimmed"] = app.dimmed
    notes["panel_health_line"] = screen.ids.health_line.text
    yield from d.tap(screen.ids.close_button)
    yield from d.wait_screen("welcome", timeout=5)
    yield from d.wait_for(lambda: app.dimmed, 5, "dimmed again after the panel")
    notes["dimmed_after_panel"] = app.dimmed
    # 13:29:57: the Clock event at 13:30 lights the screen by itself
    moving_clock("2026-12-07T13:29:57+07:00")
    yield from d.wait_for(lambda: not app._clock_was_set(), 5, "the hours replanned")
    notes["still_dimmed_at_132957"] = app.dimmed
    yield from d.wait_for(lambda: not app.dimmed, 12, "lit at 13:30")
    notes["lit_at"] = f"{app.cfg.now():%H:%M:%S}"
    notes["overlay_gone"] = app._overlay is None and all(
        w.__class__.__name__ != "ClosedOverlay" for w in Window.children)
    yield from d.tap(d.by_id("start_button"))
    yield from d.wait_for(lambda: d.screen in ("choose_officer", "rate"), 5, "a visit after opening")
    notes["screen_after_opening_tap"] = d.screen
    notes["taps_total"] = taps_outside(app.store)


def watchdog(d: Driver):
    """Under a NOTIFY_SOCKET: pings flow; the main loop then hangs 3 s (no ping can go); pings again."""
    app = d.app
    notes = d.result["notes"]
    yield from d.wait_screen("welcome")
    pings = lambda: sum(1 for m in app.notifier.sent if m == "WATCHDOG=1")   # noqa: E731
    yield from d.wait_for(lambda: pings() >= 3, 20, "three WATCHDOG=1")
    notes["interval"] = app.notifier.interval
    notes["hang_from"] = time.monotonic()
    time.sleep(3)                            # the hang itself: the Kivy main loop is blocked here
    notes["hang_to"] = time.monotonic()
    n = pings()
    yield from d.wait_for(lambda: pings() >= n + 2, 20, "pings after the hang")
    notes["sent"] = list(app.notifier.sent)


def staff_health(d: Driver):
    """The staff panel's health line and the NTP warning (the clock probe says not synchronised), vi and en."""
    app = d.app
    notes = d.result["notes"]
    yield from d.wait_screen("welcome")
    notes["device_state"] = app.device_state()
    yield from pin(d, "111111")
    yield from d.wait_screen("staff", timeout=5)
    screen = app.staff_screen
    yield from d.wait_for(lambda: screen.health and screen.pending != "–", 10, "the health summary")
    yield
    notes["health"] = dict(screen.health)
    notes["health_line"] = screen.ids.health_line.text
    notes["clock_line"] = screen.ids.clock_line.text
    notes["clock_line_shown"] = screen.ids.clock_line.opacity > 0 and screen.ids.clock_line.height > 0
    yield from d.shot("staff_health")
    notes["visible"] = d.visible_texts()
    yield from d.tap(app.root.ids.language_button)
    yield from d.wait_for(lambda: app.lang == "en", 3, "English")
    yield
    notes["health_line_en"] = screen.ids.health_line.text
    notes["clock_line_en"] = screen.ids.clock_line.text
    yield from d.shot("staff_health_en")


def prestart_staff_health(cfg, out: Path) -> None:
    """Before the app starts: a checked backup, a Pi's thermal file, a clock probe that says not synchronised
    (synchronised with HAILONG_TEST_CLOCK_SYNCED=1), a handler keeping the app's warnings."""
    import logging

    from kiosk import backup, health
    from kiosk.store import KioskStore
    store = KioskStore.from_config(cfg)
    store.init()
    store.close()
    backup.backup(cfg.db_path, cfg.kiosk_key)
    thermal = out / "thermal_zone0_temp"
    thermal.write_text("52312\n")
    health.THERMAL_PATH = thermal
    synced = os.environ.get("HAILONG_TEST_CLOCK_SYNCED") == "1"      # the test says which way the probe answers
    health.clock_synced = lambda: synced
    logged = PRESTART_NOTES.setdefault("warnings", [])

    class Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                logged.append(record.getMessage())
    logging.getLogger("kiosk.ui.app").addHandler(Keep())


PRESTART_NOTES: dict = {}
#: run before the app starts (probes, files), with (cfg, out)
PRESTART = {"staff_health": prestart_staff_health}


SCENARIOS = {f.__name__: f for f in (full_visit, language, idle, double_touch, rapid_repeat, staff_exit, pin_lock,
                                     scale5, no_roster, receipts_flow, wedge, staff_panel, bench_scan,
                                     staff_letters, letters_after_rating, config_from_agent,
                                     walk_away, go_on, tap_then_die, restart)}
SCENARIOS.update({f.__name__: f for f in (touch_targets, same_steps)})
SCENARIOS.update({f.__name__: f for f in (staff_rate_on_screen, local_clock, provisioned_offline)})
SCENARIOS.update({f.__name__: f for f in (outside_hours, watchdog, staff_health)})
#: scenarios that run with pty devices on [scanner] and [printer]
WITH_DEVICES = {"receipts_flow", "wedge", "staff_panel", "bench_scan", "staff_letters", "letters_after_rating",
                "config_from_agent", "provisioned_offline"}


def main(argv: list[str]) -> int:
    import faulthandler
    faulthandler.dump_traceback_later(float(os.environ.get("KIOSK_DRIVER_LIMIT", "90")), exit=True)
    config_path, scenario, out = argv[0], argv[1], Path(argv[2])
    demo = "--demo" in argv
    out.mkdir(parents=True, exist_ok=True)
    cfg = load(config_path)
    if scenario in WITH_DEVICES:
        setup_devices(cfg, out)
    if scenario in PRESTART:
        PRESTART[scenario](cfg, out)
    result_file = out / f"{scenario}.json"
    state = {"driver": None, "done": False}

    def scripted_citizen(app):
        from kivy.clock import Clock
        driver = Driver(app, out)
        state["driver"] = driver
        # what the app holds when it starts, before any event of its agent can be taken in
        driver.result["notes"]["at_start"] = {
            "receipt_key": bool(app.scanning.verifier.receipt_key),
            "officers": len(app.store.officers(app.cfg.kiosk["desk_id"]))}
        steps = SCENARIOS[scenario](driver)
        pending = {"until": 0.0}

        def step(_dt):
            if time.monotonic() < pending["until"]:
                return
            try:
                wait = next(steps)
            except StopIteration:
                driver.result["ok"] = True
                state["done"] = True
                app.stop()
                return False
            except Exception:
                driver.result["ok"] = False
                driver.result["error"] = traceback.format_exc()
                driver.result["screen"] = driver.screen
                state["done"] = True
                app.stop()
                return False
            pending["until"] = time.monotonic() + (wait or 0)

        Clock.schedule_interval(step, 0)
        return None

    from kiosk.commands import run_kiosk
    started = time.monotonic()
    try:
        run_kiosk(cfg, demo=demo, extra_services=[scripted_citizen])
    finally:
        driver = state["driver"]
        result = driver.result if driver else {"ok": False, "error": "the app did not start"}
        if not state["done"] and driver and scenario == "staff_exit":
            result["ok"] = bool(result["notes"].get("stopping"))
        result["seconds"] = time.monotonic() - started
        if PRESTART_NOTES:
            result.setdefault("notes", {})["prestart"] = PRESTART_NOTES
        teardown_devices()
        result_file.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
