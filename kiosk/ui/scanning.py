"""Scanned codes into the app: a serial scanner's reader thread and keyboard-wedge typing.

Every code ends up in ``ScanRouter.handle(text)`` on the UI thread:

* staff panel open → the code is a dossier's own barcode: it fills the
  panel's dossier field;
* otherwise → ``ReceiptVerifier.check``: an accepted receipt (re)starts the
  visit at the rate screen for its officer and dossier (with the dossier's
  appointment date, the receipt's ``a``: the rating is signed on_time or
  late); a refusal shows its
  message (in the current language) and times back to welcome. The verifier
  counts refusals as security events ("already rated" is not one).

The verifier holds the receipt key; when the sync agent stores a new one
the app calls :meth:`ScanRouter.reload_key` (KioskApp.config_applied), so a
receipt signed with it is accepted at once, without a restart.

Keyboard-wedge scanners type into the window: characters arrive as
``on_textinput``, the code's end as Enter (``on_key_down``). They are
collected only while no TextInput has the focus, so a person typing into a
field is never taken for a scanner.
"""
from __future__ import annotations

import logging
import time

from kivy.clock import Clock

from kiosk.devices.scanner import KeyboardWedgeBuffer, SerialScanner
from kiosk.receipts import ReceiptIssueError, ReceiptVerifier

log = logging.getLogger(__name__)
ENTER_KEYS = (13, 271)          # Return, keypad Enter


def text_field_focused() -> bool:
    """True while a TextInput (or any focusable text widget) holds the keyboard."""
    from kivy.uix.behaviors.focus import FocusBehavior
    return any(getattr(w, "focus", False) for w in FocusBehavior._keyboards.values() if w is not None)


class ScanRouter:
    """Owns the serial scanner and the wedge buffer for one app."""

    def __init__(self, app):
        self.app = app
        self.verifier = ReceiptVerifier.from_config(app.cfg, app.store)
        self.wedge = KeyboardWedgeBuffer()
        self.scanner: SerialScanner | None = None
        if app.cfg.scanner["port"]:
            self.scanner = SerialScanner.from_config(app.cfg, self._from_reader_thread)
        self.last_scan_at = 0.0          # monotonic, when the last code reached handle()
        self.handled = 0

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        from kivy.core.window import Window
        Window.bind(on_textinput=self._on_textinput, on_key_down=self._on_key_down)
        if self.scanner is not None:
            self.scanner.start()

    def stop(self) -> None:
        from kivy.core.window import Window
        Window.unbind(on_textinput=self._on_textinput, on_key_down=self._on_key_down)
        if self.scanner is not None:
            self.scanner.stop()

    def reload_key(self) -> None:
        """Take the receipt key the store holds now (the agent just stored a new config).

        A key that does not parse is logged and the verifier in use is kept.
        """
        try:
            self.verifier = ReceiptVerifier.from_config(self.app.cfg, self.app.store)
        except ReceiptIssueError as exc:
            log.error("new receipt key not taken: %s", exc)

    def state(self) -> str:
        """The serial scanner's state (ok, absent, error), or not_configured (wedge only)."""
        return self.scanner.state()["state"] if self.scanner is not None else "not_configured"

    # -- sources -----------------------------------------------------------------

    def _from_reader_thread(self, text: str) -> None:
        Clock.schedule_once(lambda _dt: self.handle(text), 0)

    def _on_textinput(self, _window, text: str) -> None:
        if text_field_focused():
            self.wedge.clear()
            return
        for code in self.wedge.push(text):
            self.handle(code)

    def _on_key_down(self, _window, key, *_args) -> bool:
        if key in ENTER_KEYS and not text_field_focused():
            code = self.wedge.enter()
            if code:
                self.handle(code)
        return False

    # -- what a code does ---------------------------------------------------------

    def handle(self, text: str) -> None:
        self.last_scan_at = time.monotonic()
        self.handled += 1
        app = self.app
        if app.staff_open:
            app.staff_screen.scanned_dossier(text)
            return
        if getattr(app, "dimmed", False):
            log.info("outside opening hours: scanned code ignored")
            return
        result = self.verifier.check(text)
        if result.ok:
            log.info("receipt %s accepted", result.receipt_id)
            app.close_pin_pad()
            app.visit.start_from_receipt(result.officer_id, result.dossier_code,
                                         result.procedure_code, result.receipt_id,
                                         appointment=result.appointment)
        else:
            log.info("receipt refused: %s", result.kind)
            app.close_pin_pad()
            app.show_text_message(result.message_vi, result.message_en)
