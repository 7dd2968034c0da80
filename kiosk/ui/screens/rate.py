"""Rate: one big button per level of the configured scale, face and words, all alike."""
from kiosk.ui.screens import KioskScreen
from kiosk.ui.screens.choose_officer import photo_path
from kiosk.ui.widgets import LevelButton


class RateScreen(KioskScreen):
    def refresh(self) -> None:
        officer = self.visit.officer or {}
        self.ids.officer_name.text = officer.get("name", "")
        self.ids.officer_title.text = officer.get("title") or ""
        self.ids.officer_photo.photo = photo_path(officer)
        row = self.ids.levels
        row.clear_widgets()
        levels = self.visit.levels()
        best, worst = levels[0][0], levels[-1][0]
        for level, vi, _en, _sat in levels:
            mood = (level - worst) / (best - worst) if best != worst else 1.0
            button = LevelButton(level=level, mood=mood, text=self.t(vi),
                                 font_size="34sp" if len(levels) <= 3 else "28sp")
            button.bind(on_release=self._rated)
            row.add_widget(button)

    def _rated(self, button: LevelButton) -> None:
        if self.visit.state == "rate":
            self.visit.rate(int(button.level))
