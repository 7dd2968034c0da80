"""The staff panel's appointment-date chooser (ngày hẹn trả kết quả) for the receipt it prints.

Opened by the panel's "Ngày hẹn" button. Big buttons only (every one at
least 20 mm on the 10.1" panel): one day back or on, and quick choices
counted from the kiosk's today (+1, +3 … days). The date goes on the
receipt and into its QR code (``a``), so a rating from it says whether the
result came on time. No date is the default: "Không có ngày hẹn" clears it.
The limits are kiosk.staff.step_appointment's (a year either side of
today); a past date is for "Đánh giá trên máy" only (the result returned
late), which the chooser says: a printed receipt refuses it.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.modalview import ModalView

from kiosk.config import local_now
from kiosk.receipts import APPOINTMENT_MAX_DAYS
from kiosk.staff import APPOINTMENT_PAST, APPOINTMENT_QUICK_DAYS, step_appointment

#: Monday first, as date.weekday() counts (msgids, English through hailong.po)
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


def weekday(day: date) -> str:
    return WEEKDAYS[day.weekday()]


class DueChooser(ModalView):
    """``on_done(day)`` gets the chosen date, or None for no appointment date; "Huỷ" changes nothing."""

    dossier = StringProperty("")
    day = ObjectProperty(None, allownone=True)
    message = StringProperty("")
    on_done = ObjectProperty(None)

    quick_days = APPOINTMENT_QUICK_DAYS
    max_days = APPOINTMENT_MAX_DAYS
    past_note = APPOINTMENT_PAST
    weekday = staticmethod(weekday)

    def __init__(self, dossier: str, day: date | None, on_done: Callable[[date | None], None],
                 today: Callable[[], date] | None = None, **kwargs):
        super().__init__(auto_dismiss=False, **kwargs)
        #: the kiosk's date ([kiosk] utc_offset): the chooser counts from it
        self.today = today or (lambda: local_now().date())
        self.dossier = dossier
        self.day = day
        self.on_done = on_done

    def step(self, delta: int) -> None:
        """One day back (-1) or on (+1) from the date shown (from today when there is none)."""
        self.day, self.message = step_appointment(self.day, delta, self.today())

    def quick(self, days: int) -> None:
        """Today + ``days``."""
        self.day, self.message = step_appointment(None, days, self.today())

    def relative(self, day: date | None, _lang: str = "") -> str:
        """Under the date: how far it is from today; with no date, how to choose one."""
        app = App.get_running_app()
        if day is None:
            return app.t("chạm «Hôm nay», «+1 ngày»… để chọn")
        days = (day - self.today()).days
        if days == 0:
            return app.t("hôm nay")
        if days < 0:
            return app.t("hôm qua") if days == -1 else app.t("{n} ngày trước hôm nay").format(n=-days)
        return app.t("ngày mai") if days == 1 else app.t("{n} ngày sau hôm nay").format(n=days)

    def is_past(self, day: date | None) -> bool:
        return day is not None and day < self.today()

    def done(self) -> None:
        self.dismiss()
        self.on_done(self.day)

    def no_date(self) -> None:
        self.day = None
        self.done()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
