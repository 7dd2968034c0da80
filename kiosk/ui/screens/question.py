"""Question: one extra question of the visit's survey, on its own scale, with "Bỏ qua" and "Quay lại".

The same big level buttons as the rate screen (faces and words, all alike,
no pressed look); the survey's own words in the visit's language. What comes
next never depends on the answer (kiosk/visit.py).
"""
from kiosk.ui.screens import KioskScreen
from kiosk.ui.screens.rate import face_moods
from kiosk.ui.screens.survey_banner import SurveyBanner  # noqa: F401  (registers the kv class)
from kiosk.ui.widgets import LevelButton


def question_font(text: str) -> str:
    """The question's letter size: 38 sp up to two lines' worth, then smaller (still ≥ 26 sp)."""
    n = len(text)
    return "38sp" if n <= 110 else "32sp" if n <= 180 else "26sp"


class QuestionScreen(KioskScreen):
    def refresh(self) -> None:
        visit = self.visit
        self.ids.banner.show(self.app, visit)
        q = visit.question()
        row = self.ids.levels
        row.clear_widgets()
        if q is None:
            self.ids.question_text.text = ""
            return
        vi, en = visit.question_text(q)
        text = en if self.app.lang == "en" else vi
        self.ids.question_text.text = text
        # a long question (up to 300 characters) in smaller letters, so the buttons keep their 20 mm
        self.ids.question_text.font_size = question_font(text)
        levels = visit.question_levels(q)
        moods = face_moods(levels)
        for level, lvi, len_, _sat in levels:
            button = LevelButton(level=level, mood=moods[level], text=len_ if self.app.lang == "en" else lvi,
                                 font_size="34sp" if len(levels) <= 3 else "28sp")
            button.bind(on_release=self._answered)
            row.add_widget(button)

    def _answered(self, button: LevelButton) -> None:
        if self.visit.state == "question":
            self.visit.answer(int(button.level))

    def skip(self) -> None:
        if self.visit.state == "question":
            self.visit.skip_question()

    def back(self) -> None:
        if self.visit.state == "question":
            self.visit.back()
