"""The dimmed screen outside the opening hours: "Ngoài giờ làm việc", the hours, when it opens again.

The cover is dark and opaque (the welcome's words showing through made both
unreadable); the header's clock stays in its corner.

Drawn over the whole window (added to the Window, under the PIN pad); the
app's touch guard swallows every tap while it shows (and counts it), so it
only draws. The words come from ``KioskApp.closed_texts`` (kiosk/hours.py
describes the hours): the kiosk's language first, the other one below.
"""
from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.floatlayout import FloatLayout


class ClosedOverlay(FloatLayout):
    title = StringProperty("")
    hours = StringProperty("")
    opens = StringProperty("")
    title_other = StringProperty("")
    hours_other = StringProperty("")
    opens_other = StringProperty("")

    def show(self, app) -> None:
        texts = app.closed_texts()
        main, other = texts["main"], texts["other"]
        self.title, self.hours, self.opens = main["title"], main["hours"], main["opens"]
        self.title_other, self.hours_other, self.opens_other = other["title"], other["hours"], other["opens"]

    def on_touch_down(self, touch):
        return True          # nothing beneath gets a tap (the app's guard has counted it)

    def on_touch_move(self, touch):
        return True

    def on_touch_up(self, touch):
        return True
