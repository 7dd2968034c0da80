"""Comment: optional words typed on the on-screen Vietnamese keyboard (≤ 500 characters)."""
from kivy.properties import BooleanProperty

from kiosk.ui.screens import KioskScreen


class CommentScreen(KioskScreen):
    at_limit = BooleanProperty(False)

    def on_kv_post(self, base_widget):
        keyboard = self.ids.keyboard
        keyboard.bind(text=self._typed)
        keyboard.on_text_limit = lambda: setattr(self, "at_limit", True)

    def refresh(self) -> None:
        keyboard = self.ids.keyboard
        keyboard.tr = self.app.t
        keyboard.relabel()
        if keyboard.text != self.visit.comment:
            keyboard.text = self.visit.comment
        self.at_limit = False

    def _typed(self, keyboard, text: str) -> None:
        if self.visit.state == "comment":
            self.visit.set_comment(text)
            self.at_limit = False

    def submit(self) -> None:
        if self.visit.state == "comment":
            self.visit.set_comment(self.ids.keyboard.text)
            self.visit.submit_comment()
            self.ids.keyboard.text = ""

    def skip(self) -> None:
        if self.visit.state == "comment":
            self.visit.skip_comment()
            self.ids.keyboard.text = ""
