"""One module + one .kv per screen; the screen's name is the visit state it shows."""
from __future__ import annotations

import importlib

from kivy.app import App
from kivy.uix.screenmanager import Screen


class KioskScreen(Screen):
    """A screen that redraws its dynamic parts (cards, buttons, chips) on ``refresh``."""

    @property
    def app(self):
        return App.get_running_app()

    @property
    def visit(self):
        return self.app.visit

    def t(self, msgid: str) -> str:
        return self.app.t(msgid)

    def refresh(self) -> None:
        """Called each time the visit enters this screen's state, or the language changes."""


CLASSES = {
    "welcome": "WelcomeScreen", "choose_officer": "ChooseOfficerScreen", "rate": "RateScreen",
    "question": "QuestionScreen", "reasons": "ReasonsScreen", "comment": "CommentScreen", "thanks": "ThanksScreen",
    "message": "MessageScreen",
}


def make(name: str) -> KioskScreen:
    module = importlib.import_module(f"kiosk.ui.screens.{name}")
    return getattr(module, CLASSES[name])(name=name)
