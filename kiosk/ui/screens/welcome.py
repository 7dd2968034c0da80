"""Welcome: invites a tap anywhere; says so plainly when this desk has no roster yet."""
from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.screens import KioskScreen


class WelcomeScreen(KioskScreen):
    has_officers = BooleanProperty(True)
    #: the town's survey a visit starting now asks (a campaign): "Khảo sát của …" and its title
    survey_by = StringProperty("")
    survey_title = StringProperty("")

    def refresh(self) -> None:
        """On entering welcome, on a language change, and when a new config arrived (the app's trigger)."""
        self.has_officers = bool(self.visit.officers())
        banner = self.visit.banner(self.visit.next_survey())
        if banner:
            by, title_vi, title_en = banner
            self.survey_by = self.t("Khảo sát của {by}").format(by=by) if by else ""
            self.survey_title = title_en if self.app.lang == "en" else title_vi
        else:
            self.survey_by = self.survey_title = ""

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
