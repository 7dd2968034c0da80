"""Reasons: the same optional chips after every level, worded for praise and complaint alike."""
from kivy.properties import NumericProperty

from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import Chip

#: chips per row: wide enough for two lines of words, tall enough for a finger (≥ 20 mm)
COLUMNS = 3


class ReasonsScreen(KioskScreen):
    rows = NumericProperty(1)

    def refresh(self) -> None:
        grid = self.ids.chips
        grid.clear_widgets()
        codes = self.visit.reason_codes()
        grid.cols = COLUMNS if len(codes) > 4 else 2
        self.rows = max(1, -(-len(codes) // grid.cols))
        for code in codes:
            vi, en = self.visit.reason_labels(code)
            # a town's own reasons are not in the catalogue: their English is the survey's
            shown = self.t(vi)
            text = shown if (self.app.lang == "vi" or shown != vi) else en
            chip = Chip(code=code, text=text, selected=code in self.visit.reasons)
            chip.bind(on_release=self._toggled)
            grid.add_widget(chip)

    def _toggled(self, chip: Chip) -> None:
        if self.visit.state == "reasons":
            chip.selected = self.visit.toggle_reason(chip.code)

    def submit(self) -> None:
        if self.visit.state == "reasons":
            self.visit.submit_reasons()

    def skip(self) -> None:
        if self.visit.state == "reasons":
            self.visit.skip_reasons()
