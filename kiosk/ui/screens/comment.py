"""Comment: optional words typed on the on-screen Vietnamese keyboard (≤ 500 characters).

The screen takes the whole window (no header): five rows of keys, each at
least 20 mm on the 10.1" reference panel, and the words typed shown large
above them (the end of a long comment, with "…" before it).
"""
from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.screens import KioskScreen

CURSOR = "|"


def tail_that_fits(text: str, fits) -> str:
    """``text``, or "…" + its shortest ending cut that still ``fits`` (a predicate on the shown text)."""
    if fits(text):
        return text
    lo, hi = 1, len(text)              # the smallest cut whose "…" + rest fits
    while lo < hi:
        mid = (lo + hi) // 2
        if fits("…" + text[mid:]):
            hi = mid
        else:
            lo = mid + 1
    space = text.find(" ", lo)           # start at a word, when the rest still holds one
    if lo and text[lo - 1] != " " and 0 <= space < len(text) - 1:
        lo = space + 1
    return "…" + text[lo:]


class CommentScreen(KioskScreen):
    at_limit = BooleanProperty(False)
    #: what the text box shows: the typed words (their end) and the cursor, or nothing
    shown = StringProperty("")

    def on_kv_post(self, base_widget):
        keyboard = self.ids.keyboard
        keyboard.bind(text=self._typed)
        keyboard.on_text_limit = lambda: setattr(self, "at_limit", True)
        self._reshow = Clock.create_trigger(self._show)
        self.ids.comment_text.bind(size=self._reshow, font_size=self._reshow)

    def refresh(self) -> None:
        keyboard = self.ids.keyboard
        keyboard.tr = self.app.t
        keyboard.relabel()
        if keyboard.text != self.visit.comment:
            keyboard.text = self.visit.comment
        self.at_limit = False
        self._show()

    def _typed(self, keyboard, text: str) -> None:
        if self.visit.state == "comment":
            self.visit.set_comment(text)
            self.at_limit = False
        self._show()

    def _show(self, *_):
        text = self.ids.keyboard.text
        if not text:
            self.shown = ""
            return
        label = self.ids.comment_text
        width, height = max(10, label.width), max(10, label.height)

        def fits(candidate: str) -> bool:
            from kivy.core.text import Label as CoreLabel
            core = CoreLabel(text=candidate + CURSOR, font_size=label.font_size, text_size=(width, None))
            core.refresh()
            return core.texture is None or core.texture.height <= height
        self.shown = tail_that_fits(text, fits) + CURSOR

    def submit(self) -> None:
        if self.visit.state == "comment":
            self.visit.set_comment(self.ids.keyboard.text)
            self.visit.submit_comment()
            self.ids.keyboard.text = ""

    def skip(self) -> None:
        if self.visit.state == "comment":
            self.visit.skip_comment()
            self.ids.keyboard.text = ""
