"""The kiosk's touchscreen app: shows the screen named by the visit's state.

All decisions live in kiosk.visit.Visit; this module draws, forwards taps,
and keeps kiosk mode: fullscreen, no cursor, Escape ignored, one input
provider, a double-touch guard, and a PIN-guarded exit (long press in the
top-right corner).

``run(cfg)`` is what ``hailong kiosk`` calls.
"""
from __future__ import annotations

import hmac
import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONFIG", "1")     # never write kiosk settings to ~/.kivy

from kivy.app import App  # noqa: E402  (the Window is not created by these imports)
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import LabelBase  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.properties import ObjectProperty, StringProperty  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.screenmanager import NoTransition  # noqa: E402

from kiosk.i18n import Translator  # noqa: E402
from kiosk.roster import ASSETS, load_roster_file  # noqa: E402
from kiosk.ui.kivy_setup import configure  # noqa: E402
from kiosk.visit import Settings, Visit  # noqa: E402

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent
FONTS = ASSETS / "fonts"
SCREENS = ("welcome", "choose_officer", "rate", "reasons", "comment", "thanks", "message")

#: a service started with the app: called with the app, may return a stop function
Service = Callable[["KioskApp"], Callable[[], None] | None]


def register_fonts() -> None:
    """Noto Sans everywhere: registered under Kivy's default name so every Label uses it."""
    regular, bold = str(FONTS / "NotoSans-Regular.ttf"), str(FONTS / "NotoSans-Bold.ttf")
    for name in ("Roboto", "NotoSans"):
        LabelBase.register(name=name, fn_regular=regular, fn_bold=bold)


class KioskRoot(BoxLayout):
    """Header (unit, desk, language, clock) above the screen manager."""

    sm = ObjectProperty(None)


class KioskApp(App):
    """``lang`` drives every visible text: kv rules read ``app.t(msgid, app.lang)``."""

    lang = StringProperty("vi")
    unit_name = StringProperty("")
    desk_name = StringProperty("")
    clock_text = StringProperty("")
    title = "hailong"

    def __init__(self, cfg, store=None, demo: bool = False,
                 extra_services: Iterable[Service] = (), **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg
        self.demo = demo
        self.extra_services = list(extra_services or ())
        self._service_stops: list[Callable[[], None]] = []
        if store is None:
            from kiosk.commands import open_store
            store = open_store(cfg)
        self.store = store
        self.store.init()
        if demo and not self.store.officers():
            self.store.apply_roster(load_roster_file())
        self.tr = Translator(language=cfg.ui["language"])
        self.lang = cfg.ui["language"]
        self.visit = Visit(self.store, Settings.from_config(cfg))
        self.visit.listeners.append(self._on_visit_change)
        self._last_down = -1e9
        self.debounced_touches = 0
        self._roster_seen = 0.0
        self._swallowed: set = set()
        self._long_press = None
        self._pin_pad = None

    # -- texts ---------------------------------------------------------------

    def t(self, msgid: str, *_depends) -> str:
        """Translate; kv passes app.lang as a second argument so texts follow the toggle."""
        return self.tr(msgid)

    def toggle_language(self) -> None:
        self.visit.set_language("en" if self.visit.language == "vi" else "vi")

    # -- build ----------------------------------------------------------------

    def build(self):
        register_fonts()
        Builder.load_file(str(UI_DIR / "widgets.kv"))
        from kiosk.ui import pin_pad, screens  # noqa: F401  (registers classes)
        Builder.load_file(str(UI_DIR / "pin_pad.kv"))
        for name in SCREENS:
            Builder.load_file(str(UI_DIR / "screens" / f"{name}.kv"))
        Builder.load_file(str(UI_DIR / "app.kv"))
        root = KioskRoot()
        sm = root.sm
        sm.transition = NoTransition()
        for name in SCREENS:
            sm.add_widget(screens.make(name))
        self._load_names()
        sm.current = "welcome"
        sm.current_screen.refresh()
        return root

    def _load_names(self) -> None:
        k = self.cfg.kiosk
        unit, desk = self.store.unit(k["unit_code"]), self.store.desk(k["desk_id"])
        self.unit_name = unit["name"] if unit else k["unit_code"]
        self.desk_name = desk["name"] if desk else k["desk_id"]

    def on_start(self):
        from kivy.core.window import Window
        Window.bind(on_touch_down=self._guard_down, on_touch_move=self._guard_move,
                    on_touch_up=self._guard_up, on_keyboard=self._on_keyboard,
                    on_request_close=lambda *a, **k: True)
        Window.clearcolor = (1, 1, 1, 1)
        self._tick_ev = Clock.schedule_interval(self._tick, 0.25)
        self._tick(0)
        for service in self.extra_services:
            stop = service(self)
            if stop:
                self._service_stops.append(stop)

    def on_stop(self):
        for stop in reversed(self._service_stops):
            try:
                stop()
            except Exception:
                log.exception("stopping a service failed")

    # -- visit → screens --------------------------------------------------------

    def _on_visit_change(self, visit: Visit, old: str) -> None:
        if self.tr.language != visit.language:
            self.tr.set_language(visit.language)
            self.lang = visit.language
        if visit.state == "welcome":
            self._load_names()
        sm = self.root.sm if self.root else None
        if sm is None:
            return
        if sm.current != visit.state:
            sm.current = visit.state
        sm.current_screen.refresh()

    def _tick(self, _dt) -> None:
        self.clock_text = time.strftime("%H:%M")
        self.visit.tick()
        now = time.monotonic()
        if self.visit.state == "welcome" and self.root and now - self._roster_seen >= 5:
            # the sync agent may have brought (or changed) the roster meanwhile
            self._roster_seen = now
            self._load_names()
            self.root.sm.get_screen("welcome").refresh()

    # -- kiosk mode: touch guard, long press, Escape ----------------------------------

    def _guard_down(self, window, touch):
        """Drop a second touch_down within touch_debounce_ms: a tap never counts twice."""
        now = time.monotonic()
        if (now - self._last_down) * 1000 < self.cfg.ui["touch_debounce_ms"]:
            self._swallowed.add(touch.uid)
            self.debounced_touches += 1
            return True
        self._last_down = now
        self.visit.touch()
        corner = min(window.width, window.height) * 0.15
        if (self.cfg.ui["staff_pin"] and touch.x >= window.width - corner
                and touch.y >= window.height - corner and self._pin_pad is None):
            self._cancel_long_press()
            self._long_press = (touch.uid, Clock.schedule_once(
                lambda dt: self.open_pin_pad(), self.cfg.ui["long_press_seconds"]))
        return False

    def _guard_move(self, window, touch):
        if touch.uid in self._swallowed:
            return True
        if self._long_press and self._long_press[0] == touch.uid and touch.y < window.height * 0.7:
            self._cancel_long_press()
        return False

    def _guard_up(self, window, touch):
        if self._long_press and self._long_press[0] == touch.uid:
            self._cancel_long_press()
        if touch.uid in self._swallowed:
            self._swallowed.discard(touch.uid)
            return True
        return False

    def _cancel_long_press(self) -> None:
        if self._long_press:
            self._long_press[1].cancel()
            self._long_press = None

    def _on_keyboard(self, window, key, *args):
        return key == 27        # Escape (and Android back) never quits the kiosk

    def open_pin_pad(self) -> None:
        from kiosk.ui.pin_pad import PinPad
        self._long_press = None
        self._pin_pad = PinPad(check=self.check_staff_pin)
        self._pin_pad.bind(on_dismiss=lambda *_: setattr(self, "_pin_pad", None))
        self._pin_pad.open()

    def check_staff_pin(self, pin: str) -> bool:
        expected = self.cfg.ui["staff_pin"]
        if expected and hmac.compare_digest(pin.encode(), expected.encode()):
            log.info("staff left kiosk mode")
            self.stop()
            return True
        self.store.record_event("staff_pin_wrong")
        return False


def run(cfg, demo: bool = False, extra_services: Iterable[Service] = ()) -> None:
    """Run the kiosk until staff leave it with the PIN.

    ``extra_services``: callables started with the app (``service(app)``),
    e.g. the sync agent thread or the scanner reader; each may return a
    function called when the app stops.
    """
    configure(cfg.ui)
    app = KioskApp(cfg, demo=demo, extra_services=extra_services)
    stop_on_signals(app)
    app.run()


def stop_on_signals(app: App) -> None:
    """SIGTERM (systemd stop) and SIGINT end the app cleanly.

    SDL would turn them into a window-close request, which kiosk mode ignores,
    so the kiosk could not be stopped as a service; SDL's own handlers are off
    (SDL_NO_SIGNAL_HANDLERS, set by configure) and ours ask the app to stop.
    """
    import signal

    def handler(signum, _frame):
        log.info("signal %s: stopping", signum)
        Clock.schedule_once(lambda dt: app.stop(), 0)

    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handler)
    except ValueError:          # not the main thread (tests, embedding): leave signals alone
        pass
