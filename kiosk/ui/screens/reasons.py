"""Reasons: optional chips for a low rating; skippable."""
from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import Chip


class ReasonsScreen(KioskScreen):
    def refresh(self) -> None:
        grid = self.ids.chips
        grid.clear_widgets()
        for code in self.visit.reason_codes():
            vi, _en = self.visit.reason_labels(code)
            chip = Chip(code=code, text=self.t(vi), selected=code in self.visit.reasons)
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
