"""The staff panel's letter chooser: which letter, and the apology's new date.

Opened by "In thư" on the panel for the dossier in its field. The kind the
procedure brings (kiosk.letters.letter_for) is chosen first; the officer may
pick another of the four. The apology needs a new date, typed as digits on
the chooser's own keys (dd/mm/yyyy, the slashes come by themselves). The
printing itself is the panel's: it runs in the panel's worker thread.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.modalview import ModalView

from kiosk import letters
from kiosk.config import local_now

#: the kinds, in the order of the buttons, with their short labels (msgids)
KIND_LABELS = {kind: letters.label(kind) for kind in letters.KINDS}
DATE_DIGITS = 8
NEED_KIND = "Xin chọn loại thư."
NEED_DATE = "Thư xin lỗi cần ngày hẹn trả kết quả mới: xin gõ ngày/tháng/năm."
BAD_DATE = "Ngày hẹn không có thật: xin kiểm tra lại ngày/tháng/năm."
PAST_DATE = "Ngày hẹn mới đã qua: xin chọn từ hôm nay trở đi."


def date_shown(digits: str) -> str:
    """"0512" → "05/12/____": what has been typed, in place."""
    slots = (digits + "_" * DATE_DIGITS)[:DATE_DIGITS]
    return f"{slots[:2]}/{slots[2:4]}/{slots[4:]}"


def new_date_from(digits: str, today: date | None = None) -> tuple[date | None, str]:
    """(the date, "") or (None, the msgid saying what is wrong)."""
    if len(digits) < DATE_DIGITS:
        return None, NEED_DATE
    try:
        day = letters.parse_new_date(date_shown(digits))
    except letters.LetterError:
        return None, BAD_DATE
    if day < (today or local_now().date()):
        return None, PAST_DATE
    return day, ""


class LetterChooser(ModalView):
    """``on_print(kind, new_date)`` is called when the officer confirms a valid choice."""

    dossier = StringProperty("")
    kind = StringProperty("")
    suggested = StringProperty("")
    digits = StringProperty("")
    message = StringProperty("")
    on_print = ObjectProperty(None)

    def __init__(self, dossier: str, suggested: str | None, on_print: Callable,
                 today: Callable[[], date] | None = None, **kwargs):
        super().__init__(auto_dismiss=False, **kwargs)
        #: the kiosk's date ([kiosk] utc_offset): a new date before it is refused
        self.today = today or (lambda: local_now().date())
        self.dossier = dossier
        self.suggested = suggested or ""
        self.kind = self.suggested
        self.on_print = on_print

    date_shown = staticmethod(date_shown)

    @staticmethod
    def label(kind: str) -> str:
        return KIND_LABELS.get(kind, kind)

    def choose(self, kind: str) -> None:
        self.kind = kind
        self.message = ""

    def press(self, digit: str) -> None:
        self.message = ""
        if len(self.digits) < DATE_DIGITS:
            self.digits += digit

    def erase(self) -> None:
        self.digits = self.digits[:-1]

    def submit(self) -> None:
        if self.kind not in letters.KINDS:
            self.message = NEED_KIND
            return
        new_date = None
        if self.kind == letters.APOLOGY:
            new_date, self.message = new_date_from(self.digits, self.today())
            if new_date is None:
                return
        self.dismiss()
        self.on_print(self.kind, new_date)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
