"""Staff PIN pad: the only way out of kiosk mode (opened by a long press in the top-right corner).

Wrong PINs lock the pad for a while (kiosk.staff.PinLock decides; the pad
only shows it): while ``locked_for()`` gives seconds, the digits do nothing
and the pad says kindly how long to wait, counting down.
"""
from __future__ import annotations

from typing import Callable

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.modalview import ModalView


class PinPad(ModalView):
    """Digits, Xoá, Huỷ, OK. ``check(pin)`` returns True when the PIN was right.

    ``locked_for()`` (optional) returns the seconds the pad still refuses (0: open).
    """

    pin = StringProperty("")
    wrong = BooleanProperty(False)
    check = ObjectProperty(None)
    locked_for = ObjectProperty(None, allownone=True)
    #: seconds left of the lock, as shown (0: not locked)
    locked_seconds = NumericProperty(0)

    def __init__(self, check: Callable[[str], bool], locked_for: Callable[[], float] | None = None,
                 **kwargs):
        super().__init__(check=check, locked_for=locked_for, auto_dismiss=False, **kwargs)
        self._countdown = None
        self.bind(on_dismiss=lambda *_: self._stop_countdown())
        self.refresh_lock()

    def refresh_lock(self, *_args) -> None:
        """Take the lock's seconds left; count down once a second while it holds."""
        left = int(self.locked_for() or 0) if self.locked_for is not None else 0
        self.locked_seconds = max(0, left)
        if self.locked_seconds and self._countdown is None:
            self._countdown = Clock.schedule_interval(self.refresh_lock, 1)
        elif not self.locked_seconds:
            self._stop_countdown()

    def _stop_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None

    def press(self, digit: str) -> None:
        if self.locked_seconds:
            return
        self.wrong = False
        if len(self.pin) < 8:
            self.pin += digit

    def erase(self) -> None:
        self.pin = self.pin[:-1]

    def submit(self) -> None:
        if self.locked_seconds:
            return
        if self.check(self.pin):
            self.dismiss()
        else:
            self.wrong = True
            self.pin = ""
            self.refresh_lock()
