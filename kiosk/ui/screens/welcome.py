"""Welcome: invites a tap anywhere; says so plainly when this desk has no roster yet."""
from kivy.properties import BooleanProperty

from kiosk.ui.screens import KioskScreen


class WelcomeScreen(KioskScreen):
    has_officers = BooleanProperty(True)

    def refresh(self) -> None:
        self.has_officers = bool(self.visit.officers())

    def start(self) -> None:
        if self.has_officers and self.visit.state == "welcome":
            self.visit.tap_start()

    # a tap anywhere on the screen starts, not only on the button
    def on_touch_down(self, touch):
        if super().on_touch_down(touch):
            return True
        if self.collide_point(*touch.pos) and self.has_officers:
            touch.ud["welcome_tap"] = True
            return True
        return False

    def on_touch_up(self, touch):
        if super().on_touch_up(touch):
            return True
        if touch.ud.get("welcome_tap") and self.collide_point(*touch.pos):
            self.start()
            return True
        return False
