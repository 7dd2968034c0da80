"""The kiosk's touchscreen app: shows the screen named by the visit's state.

All decisions live in kiosk.visit.Visit; this module draws, forwards taps,
and keeps kiosk mode: fullscreen, no cursor, Escape ignored, one input
provider, a double-touch guard, and a PIN-guarded exit (long press in the
top-right corner). The same PIN pad takes an officer's PIN to open the staff
panel (kiosk/ui/screens/staff.py). Scanned receipts come in through
kiosk/ui/scanning.py; the printer and the scanner belong to the app.

The app talks with the sync agent through two events and holds no reference
to it (kiosk/commands.py wires them where both are built):

* ``on_rating_stored`` (a Kivy event, ``app.bind(on_rating_stored=…)``):
  dispatched on the UI thread once a rating is in kiosk.db;
* :meth:`KioskApp.config_applied`: called from any thread (the agent's)
  after a new config (roster, surveys, receipt key) is in the store; it only
  fires a ``Clock.create_trigger``, so however many arrive in a frame the app
  refreshes once, on its own thread. Nothing polls the store for a roster.

Unattended for months (issue 14): ``device_state()`` carries the health
summary (kiosk/health.py) to the heartbeat; outside the opening hours of
``[hours]`` (kiosk/hours.py) the citizen's screens are dimmed and their taps
ignored and counted, and a Clock event at the next boundary lights them
again; under systemd the app says READY=1 after its first frame and
WATCHDOG=1 from the main loop (kiosk/watchdog.py).

``run(cfg)`` is what ``hailong kiosk`` calls (through kiosk.commands.run_kiosk).
"""
from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONFIG", "1")     # never write kiosk settings to ~/.kivy

from kivy.app import App  # noqa: E402  (the Window is not created by these imports)
from kivy.clock import Clock  # noqa: E402
from kivy.core.text import LabelBase  # noqa: E402
from kivy.lang import Builder  # noqa: E402
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.screenmanager import NoTransition  # noqa: E402

from kiosk import config as kiosk_config  # noqa: E402
from kiosk import health  # noqa: E402
from kiosk import hours as opening_hours  # noqa: E402
from kiosk.i18n import Translator  # noqa: E402
from kiosk.roster import ASSETS, load_roster_file  # noqa: E402
from kiosk.store import KioskStore  # noqa: E402
from kiosk.ui.kivy_setup import configure  # noqa: E402
from kiosk.visit import Settings, Visit  # noqa: E402
from kiosk.watchdog import Notifier  # noqa: E402

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent
FONTS = ASSETS / "fonts"
SCREENS = ("welcome", "choose_officer", "rate", "question", "reasons", "comment", "thanks", "message")

#: a wall clock that moves more than this against the monotonic one was set (NTP after boot): hours replanned
CLOCK_STEP_SECONDS = 30

#: a service started with the app: called with the app, may return a stop function
Service = Callable[["KioskApp"], Callable[[], None] | None]


def register_fonts() -> None:
    """Noto Sans everywhere: registered under Kivy's default name so every Label uses it."""
    regular, bold = str(FONTS / "NotoSans-Regular.ttf"), str(FONTS / "NotoSans-Bold.ttf")
    for name in ("Roboto", "NotoSans"):
        LabelBase.register(name=name, fn_regular=regular, fn_bold=bold)


class KioskRoot(BoxLayout):
    """Header (unit, desk, language, clock) above the screen manager.

    Screens in ``headless`` take the whole window (the comment screen: a
    keyboard whose keys are all 20 mm needs every row of pixels); they carry
    their own language button.
    """

    sm = ObjectProperty(None)
    header_hidden = BooleanProperty(False)
    headless = ("comment",)


class KioskApp(App):
    """``lang`` drives every visible text: kv rules read ``app.t(msgid, app.lang)``."""

    lang = StringProperty("vi")
    unit_name = StringProperty("")
    desk_name = StringProperty("")
    clock_text = StringProperty("")
    staff_open = BooleanProperty(False)
    #: outside the opening hours ([hours]); ``dimmed``: the citizen's screens are covered and ignore taps
    closed = BooleanProperty(False)
    dimmed = BooleanProperty(False)
    title = "hailong"
    __events__ = ("on_rating_stored",)

    def __init__(self, cfg, store=None, demo: bool = False,
                 extra_services: Iterable[Service] = (), **kwargs):
        super().__init__(**kwargs)
        self.started_at = time.monotonic()      # the health summary's uptime counts from here
        self.cfg = cfg
        self.demo = demo
        self.extra_services = list(extra_services or ())
        self._service_stops: list[Callable[[], None]] = []
        if store is None:
            store = KioskStore.from_config(cfg)
        self.store = store
        self.store.init()
        if demo and not self.store.officers():
            self.store.apply_roster(load_roster_file())
        self.tr = Translator(language=cfg.ui["language"])
        self.lang = cfg.ui["language"]
        self.visit = Visit(self.store, Settings.from_config(cfg))
        self.visit.listeners.append(self._on_visit_change)
        self.visit.warning_listeners.append(self._on_idle_warning)
        self.visit.stored_listeners.append(self._rating_stored)
        self._idle_warning = None
        self._last_down = -1e9
        self.debounced_touches = 0
        self.config_refreshes = 0     # how many times a new config was taken in (tests read it)
        self._config_trigger = Clock.create_trigger(self._take_new_config, 0)
        self._swallowed: set = set()
        self._long_press = None
        self._pin_pad = None
        self._runtime_texts: dict[str, str] = {}   # Vietnamese → English of messages made at run time
        self._staff_touch = 0.0
        self.staff_screen = None
        self.scanning = None
        self._letter_jobs: list[threading.Thread] = []
        from kiosk.devices.printer import Printer
        from kiosk.staff import StaffPanel
        self.printer = Printer.from_config(cfg, self.store) if cfg.has_printer else None   # a port or a PNG folder
        self.staff = StaffPanel(cfg, self.store, self.printer)
        self.hours = cfg.opening_hours          # None: always open
        self._hours_ev = None
        self._clock_skew = None                 # wall clock − monotonic clock, to see the wall clock set
        self._overlay = None
        self.notifier = Notifier()              # systemd: READY=1, WATCHDOG=1 (nothing outside systemd)
        self._watchdog_ev = None

    # -- texts ---------------------------------------------------------------

    def t(self, msgid: str, *_depends) -> str:
        """Translate; kv passes app.lang as a second argument so texts follow the toggle."""
        if self.tr.language == "en" and msgid in self._runtime_texts:
            return self._runtime_texts[msgid]
        return self.tr(msgid)

    def t_in(self, language: str, msgid: str) -> str:
        """``msgid`` in ``language`` whatever the current one (the closed screen says both)."""
        if not hasattr(self, "_translators"):
            self._translators = {}
        if language not in self._translators:
            self._translators[language] = Translator(language=language)
        return self._translators[language](msgid)

    def show_text_message(self, message_vi: str, message_en: str) -> None:
        """A message that comes in both languages (a receipt refusal) on the message screen."""
        from sync.protocol import nfc
        vi = nfc(message_vi)
        self._runtime_texts[vi] = message_en
        self.visit.show_message(vi)

    def toggle_language(self) -> None:
        self.visit.set_language("en" if self.visit.language == "vi" else "vi")

    # -- build ----------------------------------------------------------------

    def build(self):
        register_fonts()
        Builder.load_file(str(UI_DIR / "widgets.kv"))
        from kiosk.ui import pin_pad, screens  # noqa: F401  (registers classes)
        Builder.load_file(str(UI_DIR / "pin_pad.kv"))
        Builder.load_file(str(UI_DIR / "closed_overlay.kv"))
        for name in SCREENS:
            Builder.load_file(str(UI_DIR / "screens" / f"{name}.kv"))
        Builder.load_file(str(UI_DIR / "app.kv"))
        root = KioskRoot()
        sm = root.sm
        sm.transition = NoTransition()
        for name in SCREENS:
            sm.add_widget(screens.make(name))
        from kiosk.ui.screens.staff import StaffScreen
        Builder.load_file(str(UI_DIR / "screens" / "staff.kv"))
        self.staff_screen = StaffScreen(name="staff")
        sm.add_widget(self.staff_screen)
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
        self._plan_hours()
        self._tick(0)
        Window.bind(on_flip=self._first_frame)
        threading.Thread(target=self._check_clock, name="clock-check", daemon=True).start()
        from kiosk.ui.scanning import ScanRouter
        self.scanning = ScanRouter(self)
        self.scanning.start()
        self.staff.scanner = self.scanning.scanner
        for service in self.extra_services:
            stop = service(self)
            if stop:
                self._service_stops.append(stop)

    def on_stop(self):
        self.notifier.stopping()
        for stop in reversed(self._service_stops):
            try:
                stop()
            except Exception:
                log.exception("stopping a service failed")
        if self.scanning is not None:
            self.scanning.stop()
        if self.staff_screen is not None:
            self.staff_screen.wait_for_jobs(5)
        for job in self._letter_jobs:
            job.join(5)

    # -- devices, for the heartbeat ----------------------------------------------

    def device_state(self) -> dict:
        """{"printer", "scanner", "health"}: what the sync agent's heartbeat reports (from its thread)."""
        printer = self.printer.state()["state"] if self.printer is not None else "not_configured"
        scanner = self.scanning.state() if self.scanning is not None else "not_configured"
        return {"printer": printer, "scanner": scanner, "health": self.health()}

    def health(self) -> dict:
        """kiosk.health.summary of this kiosk (any thread; never raises)."""
        return health.summary(self.cfg, self.store, started_at=self.started_at)

    # -- unattended: systemd, the clock --------------------------------------------------

    def _first_frame(self, window, *_args) -> None:
        """The first screen is on the glass: READY=1, then WATCHDOG=1 from the main loop at half the interval."""
        window.unbind(on_flip=self._first_frame)
        if not self.notifier.enabled:
            return
        self.notifier.ready(status=f"kiosk {self.cfg.kiosk['id']} ready")
        if self.notifier.interval:
            log.info("systemd watchdog: WATCHDOG=1 every %.1f s", self.notifier.interval)
            self._watchdog_ev = Clock.schedule_interval(lambda _dt: self.notifier.ping(), self.notifier.interval)

    def _check_clock(self) -> None:
        """At start, in a thread (timedatectl may take a moment): a clock that is not synchronised is logged."""
        if health.clock_synced() is False:
            log.warning("the system clock is not NTP-synchronised: the times on receipts and ratings may be "
                        "wrong (timedatectl; systemd-timesyncd)")

    # -- opening hours -------------------------------------------------------------------

    def _plan_hours(self, _dt=None) -> None:
        """Open or closed now, and one Clock event at the next opening or closing (no polling)."""
        if self._hours_ev is not None:
            self._hours_ev.cancel()
            self._hours_ev = None
        self._clock_skew = kiosk_config.wall_clock() - time.monotonic()
        if self.hours is None:
            self.closed = False
        else:
            now = self.cfg.now()
            self.closed = not self.hours.is_open(now)
            change = self.hours.next_change(now)
            if change is not None:
                delay = max(0.2, (change - now).total_seconds() + 0.2)
                self._hours_ev = Clock.schedule_once(self._plan_hours, delay)
        self._update_dim()

    def _clock_was_set(self) -> bool:
        """The wall clock jumped against the monotonic one (NTP after boot, an engineer): True once per jump."""
        skew = kiosk_config.wall_clock() - time.monotonic()
        return self._clock_skew is not None and abs(skew - self._clock_skew) > CLOCK_STEP_SECONDS

    def _update_dim(self, *_args) -> None:
        """Dim the citizen's screens while closed, once no visit is under way and the panel is shut.

        A citizen who started rating before closing time finishes (or the
        visit times out) first; the staff panel opens at any hour.
        """
        dim = bool(self.closed and not self.staff_open and self.visit.state == "welcome" and self.root)
        if dim == self.dimmed:
            return
        self.dimmed = dim
        from kivy.core.window import Window
        if dim:
            from kiosk.ui.closed_overlay import ClosedOverlay
            if self._idle_warning is not None:
                self._idle_warning.dismiss()
                self._idle_warning = None
            self._overlay = ClosedOverlay()
            self._overlay.show(self)
            Window.add_widget(self._overlay)
            if self._pin_pad is not None:      # the pad stays above the dimming
                Window.remove_widget(self._pin_pad)
                Window.add_widget(self._pin_pad)
            log.info("outside opening hours: the screen is dimmed")
        else:
            if self._overlay is not None:
                Window.remove_widget(self._overlay)
                self._overlay = None
            log.info("opening hours: the screen is lit")

    def closed_texts(self) -> dict:
        """What the dimmed screen says, in the kiosk's language and the other one."""
        def said(language: str) -> dict:
            t = lambda msgid: self.t_in(language, msgid)   # noqa: E731
            hours = self.hours.describe(t, sep="\n") if self.hours is not None else ""
            now = self.cfg.now()
            change = self.hours.next_change(now) if self.hours is not None else None
            opens = ""
            if change is not None:
                day = t(opening_hours.DAY_NAMES[change.weekday()])
                opens = t("Mở lại lúc {time}, {day} {date}").format(
                    time=f"{change:%H:%M}", day=day, date=f"{change:%d/%m/%Y}")
            return {"title": t("Ngoài giờ làm việc"),
                    "hours": t("Giờ làm việc: {hours}").format(hours=hours) if hours else "",
                    "opens": opens}
        first = self.cfg.ui["language"]
        return {"main": said(first), "other": said("en" if first == "vi" else "vi")}

    def _closed_tap(self) -> None:
        try:
            n = opening_hours.count_tap(self.store)
        except Exception:
            log.exception("the tap outside opening hours was not counted")
            return
        log.info("tap outside opening hours ignored (%d so far)", n)

    # -- visit → screens --------------------------------------------------------

    def _on_visit_change(self, visit: Visit, old: str) -> None:
        if self.tr.language != visit.language:
            self.tr.set_language(visit.language)
            self.lang = visit.language
        if visit.state == "welcome":
            self._load_names()
        self._update_dim()
        if visit.state == "thanks" and old != "thanks":
            self._letter_after_rating(visit.last_record)
        sm = self.root.sm if self.root else None
        if sm is None:
            return
        if self.staff_open:               # the panel stays in front (language toggle, …)
            self.staff_screen.refresh()
            return
        if sm.current != visit.state:
            sm.current = visit.state
        sm.current_screen.refresh()

    def _on_idle_warning(self, visit: Visit) -> None:
        """Show "Ông/Bà còn tiếp tục không?" over the screen while the visit's warning is on."""
        if visit.warning and self._idle_warning is None and not self.staff_open and self.root:
            from kiosk.ui.idle_warning import IdleWarning
            self._idle_warning = IdleWarning(visit)
            self._idle_warning.bind(on_dismiss=lambda *_: setattr(self, "_idle_warning", None))
            self._idle_warning.open()
        elif not visit.warning and self._idle_warning is not None:
            self._idle_warning.dismiss()
            self._idle_warning = None

    def _rating_stored(self, record: dict | None) -> None:
        """A rating was sealed (sent, skipped or timed out): tell the listeners (the sync agent's nudge).

        One failing never stops the visit.
        """
        try:
            self.dispatch("on_rating_stored", record)
        except Exception:
            log.exception("an on_rating_stored listener failed")

    def on_rating_stored(self, record: dict | None) -> None:
        """Kivy event: a rating was just stored in kiosk.db (``record`` is it). Default: nothing."""

    # -- a new config from the town server ---------------------------------------

    def config_applied(self, _config: dict | None = None) -> None:
        """A new config is in the store: refresh once, on the UI thread. Safe from any thread.

        The sync agent calls this from its own thread (its on_config_applied
        listener); Kivy's Clock is thread-safe and a trigger already pending
        is not scheduled twice, so a burst of configs costs one refresh.
        """
        self._config_trigger()

    def _take_new_config(self, _dt=None) -> None:
        """Read what the new config changed from the store: receipt key, names, the welcome screen.

        The receipt key matters most: a kiosk that started before its agent
        stored the key would refuse every valid receipt until a restart. A
        visit in progress is left alone: its screens read the roster again
        when the visit ends on welcome.
        """
        self.config_refreshes += 1
        if self.scanning is not None:
            self.scanning.reload_key()
        self._load_names()
        if self.root is None or self.staff_open:
            return
        if self.visit.state == "welcome" and self.root.sm.current == "welcome":
            self.root.sm.get_screen("welcome").refresh()

    def _letter_after_rating(self, record: dict | None) -> None:
        """[letters] after_rating: the thank-you, printed in a worker thread; faults are only logged."""
        from kiosk import letters
        if letters.after_rating_letter(self.cfg, record, self.printer is not None) is None:
            return
        job = threading.Thread(target=letters.print_after_rating, name="letter-after-rating",
                               args=(self.cfg, self.store, self.printer, record), daemon=True)
        self._letter_jobs = [j for j in self._letter_jobs if j.is_alive()] + [job]
        job.start()

    def _tick(self, _dt) -> None:
        local = self.cfg.now()
        self.clock_text = local.strftime("%H:%M")     # [kiosk] utc_offset, not the machine's TZ
        if local.date() != getattr(self, "_day", None):
            # a new local day: a campaign may start or end today; welcome shows what the next visit asks
            first = getattr(self, "_day", None) is None
            self._day = local.date()
            if not first and self.root is not None and not self.staff_open and self.visit.state == "welcome":
                self.root.sm.get_screen("welcome").refresh()
        if self._clock_was_set():
            log.warning("the wall clock was set (%s now): opening hours replanned", f"{local:%H:%M:%S %d/%m/%Y}")
            self._plan_hours()
        now = time.monotonic()
        if self.staff_open:
            busy = self.staff_screen is not None and self.staff_screen.busy
            if not busy and now - self._staff_touch >= self.cfg.ui["staff_idle_timeout"]:
                log.info("staff panel idle: signed out")
                self.close_staff_panel()
            return
        self.visit.tick()

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
        self._staff_touch = now
        corner = min(window.width, window.height) * 0.15
        in_corner = touch.x >= window.width - corner and touch.y >= window.height - corner
        if in_corner and self._pin_pad is None and self._pin_pad_allowed():
            self._cancel_long_press()
            self._long_press = (touch.uid, Clock.schedule_once(
                lambda dt: self.open_pin_pad(), self.cfg.ui["long_press_seconds"]))
        if self.dimmed and self._pin_pad is None:
            # outside the hours: nothing under the dimming gets the tap; the staff corner still opens the pad
            if not in_corner:
                self._closed_tap()
            self._swallowed.add(touch.uid)
            return True
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

    def _pin_pad_allowed(self) -> bool:
        """The corner opens the PIN pad when there is a way in: the exit PIN or an officer's."""
        return bool(self.cfg.ui["staff_pin"]) or any(
            o.get("pin_hash") for o in self.store.officers(self.cfg.kiosk["desk_id"]))

    def open_pin_pad(self) -> None:
        from kiosk.ui.pin_pad import PinPad
        self._long_press = None
        self._pin_pad = PinPad(check=self.check_staff_pin, locked_for=self.staff.pin_lock.remaining)
        self._pin_pad.bind(on_dismiss=lambda *_: setattr(self, "_pin_pad", None))
        self._pin_pad.open()

    def close_pin_pad(self) -> None:
        if self._pin_pad is not None:
            self._pin_pad.dismiss()
            self._pin_pad = None

    def check_staff_pin(self, pin: str) -> bool:
        """[ui] staff_pin leaves kiosk mode; an officer's PIN of this desk opens the staff panel.

        A PIN that is neither is counted as the security event staff_pin_wrong
        (StaffPanel.sign_in records it) and towards the pad's lock
        (kiosk.staff.PinLock): while it holds, no PIN is checked.
        """
        if self.staff.pin_lock.locked():
            return False
        expected = self.cfg.ui["staff_pin"]
        if expected and hmac.compare_digest(pin.encode(), expected.encode()):
            self.staff.pin_lock.right()
            log.info("staff left kiosk mode")
            self.stop()
            return True
        officer = self.staff.sign_in(pin)
        if officer is None:
            return False
        Clock.schedule_once(lambda _dt: self.open_staff_panel(), 0)
        return True

    # -- the staff panel -------------------------------------------------------------

    def open_staff_panel(self) -> None:
        """Drop any unfinished visit and show the panel for the signed-in officer."""
        if self.staff.officer is None:
            return
        log.info("staff panel opened by %s", self.staff.officer["id"])
        self.visit.reset()
        self._staff_touch = time.monotonic()
        self.staff_open = True
        self._update_dim()
        self.staff_screen.refresh()
        self.root.sm.current = "staff"

    def start_dossier_rating(self, officer_id: str, dossier_code: str,
                             procedure_code: str | None = None, appointment: str | None = None) -> None:
        """The staff panel's "Đánh giá trên máy": sign out, the citizen rates this officer for this dossier.

        The same rate screen as a scanned receipt opens (officer fixed, no
        choice; "Quay lại" ends the visit), but the record is a ``walk_up``
        with the dossier and no receipt_id: no receipt exists
        (kiosk.staff.StaffPanel.rate_on_screen says why). ``appointment``:
        the dossier's appointment date ("YYYY-MM-DD") when the panel has it,
        so the rating is signed on_time or late as a receipt's would be.
        """
        log.info("rating on screen for dossier %s, officer %s", dossier_code, officer_id)
        self.close_staff_panel()
        self.visit.start_from_receipt(officer_id, dossier_code, procedure_code, None, appointment=appointment)
        self.visit.source = "walk_up"       # no paper was scanned: not a receipt rating
        self.visit.skipped_choice = True    # the officer is the panel's: back ends the visit

    def close_staff_panel(self) -> None:
        """"Đóng" or idle: sign out, back to welcome."""
        self.staff.sign_out()
        self.staff_open = False
        if self.staff_screen is not None:
            self.staff_screen.clear()
        self.visit.reset()
        self._update_dim()


def run(cfg, demo: bool = False, extra_services: Iterable[Service] = ()) -> None:
    """Run the kiosk until staff leave it with the PIN.

    ``extra_services``: callables started with the app (``service(app)``),
    e.g. the sync agent (kiosk.commands.sync_service); each may return a
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
