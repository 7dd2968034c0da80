"""Choose the officer: one photo card per officer on duty at this desk."""
from kiosk.ui.screens import KioskScreen
from kiosk.ui.widgets import OfficerCard


def photo_path(officer: dict) -> str:
    from pathlib import Path
    photo = officer.get("photo") or ""
    return photo if photo and Path(photo).is_file() else ""


class ChooseOfficerScreen(KioskScreen):
    def refresh(self) -> None:
        grid = self.ids.cards
        grid.clear_widgets()
        officers = self.visit.officers()
        # at most two rows of cards (each still ≥ 20 mm tall): four a row, five from nine officers on
        grid.cols = max(1, min(len(officers), 4 if len(officers) <= 8 else 5))
        for officer in officers:
            card = OfficerCard(officer_id=officer["id"], name=officer["name"],
                               title=officer.get("title") or "", photo=photo_path(officer))
            card.bind(on_release=self._chosen)
            grid.add_widget(card)

    def _chosen(self, card: OfficerCard) -> None:
        if self.visit.state == "choose_officer":
            self.visit.choose_officer(card.officer_id)
