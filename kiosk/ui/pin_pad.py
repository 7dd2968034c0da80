"""Staff PIN pad: the only way out of kiosk mode (opened by a long press in the top-right corner)."""
from __future__ import annotations

from typing import Callable

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.modalview import ModalView


class PinPad(ModalView):
    """Digits, Xoá, Huỷ, OK. ``check(pin)`` returns True when the PIN was right."""

    pin = StringProperty("")
    wrong = BooleanProperty(False)
    check = ObjectProperty(None)

    def __init__(self, check: Callable[[str], bool], **kwargs):
        super().__init__(check=check, auto_dismiss=False, **kwargs)

    def press(self, digit: str) -> None:
        self.wrong = False
        if len(self.pin) < 8:
            self.pin += digit

    def erase(self) -> None:
        self.pin = self.pin[:-1]

    def submit(self) -> None:
        if self.check(self.pin):
            self.dismiss()
        else:
            self.wrong = True
            self.pin = ""
