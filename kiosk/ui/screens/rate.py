"""Rate: one big button per level of the configured scale, face and words, all alike."""
from kiosk.ui.screens import KioskScreen
from kiosk.ui.screens.choose_officer import photo_path
from kiosk.ui.screens.survey_banner import SurveyBanner  # noqa: F401  (registers the kv class)
from kiosk.ui.widgets import LevelButton


def face_moods(levels) -> dict[int, float]:
    """Smiles for the satisfied levels (1.0 … 0.7), frowns for the others (… 0.0)."""
    sat = [lv for lv, *_rest, ok in levels if ok]
    unsat = sorted(lv for lv, *_rest, ok in levels if not ok)
    moods = {lv: 1.0 - 0.3 * i / max(1, len(sat) - 1) for i, lv in enumerate(sat)}
    moods.update({lv: 0.45 * j / max(1, len(unsat) - 1) for j, lv in enumerate(unsat)})
    return moods


class RateScreen(KioskScreen):
    def refresh(self) -> None:
        self.ids.banner.show(self.app, self.visit)
        officer = self.visit.officer or {}
        self.ids.officer_name.text = officer.get("name", "")
        self.ids.officer_title.text = officer.get("title") or ""
        self.ids.officer_photo.photo = photo_path(officer)
        row = self.ids.levels
        row.clear_widgets()
        levels = self.visit.levels()
        moods = face_moods(levels)
        for level, vi, en, _sat in levels:
            shown = self.t(vi)        # a town's own labels are not in the catalogue: the survey's English
            text = shown if (self.app.lang == "vi" or shown != vi) else en
            button = LevelButton(level=level, mood=moods[level], text=text,
                                 font_size="34sp" if len(levels) <= 3 else "28sp")
            button.bind(on_release=self._rated)
            row.add_widget(button)

    def _rated(self, button: LevelButton) -> None:
        if self.visit.state == "rate":
            self.visit.rate(int(button.level))
