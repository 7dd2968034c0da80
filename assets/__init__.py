"""Where hailong's assets are: the one place that knows.

Fonts (Noto Sans: every Vietnamese letter), gettext catalogues, letter
templates and the demo roster live in this folder beside the code, for the
kiosk and the town server alike. ``ASSETS / "fonts"`` and so on.
"""
from pathlib import Path

ASSETS = Path(__file__).resolve().parent
FONTS = ASSETS / "fonts"
LOCALE = ASSETS / "locale"
LETTERS = ASSETS / "letters"
DEMO = ASSETS / "demo"
