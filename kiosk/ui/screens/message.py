"""A kind message (already rated, receipt not valid, not stored) that times back to welcome."""
from kiosk.ui.screens import KioskScreen


class MessageScreen(KioskScreen):
    def refresh(self) -> None:
        self.ids.message_text.text = self.t(self.visit.message or "")
