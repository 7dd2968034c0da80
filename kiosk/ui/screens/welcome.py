"""Welcome: invites a tap; says so plainly when this desk has no roster yet."""
from kivy.properties import BooleanProperty

from kiosk.ui.screens import KioskScreen


class WelcomeScreen(KioskScreen):
    has_officers = BooleanProperty(True)

    def refresh(self) -> None:
        self.has_officers = bool(self.visit.officers())

    def start(self) -> None:
        if self.has_officers:
            self.visit.tap_start()
