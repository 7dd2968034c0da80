"""Thank-you: shown only after the rating was committed; returns to welcome by itself."""
from kiosk.ui.screens import KioskScreen


class ThanksScreen(KioskScreen):
    pass
