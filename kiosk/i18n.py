"""gettext for the kiosk: Vietnamese source strings, English catalogue.

Strings are written in Vietnamese in the code (the first language); the
English catalogue lives in assets/locale/en/LC_MESSAGES/<domain>.po and is
compiled to .mo by ``python -m kiosk.i18n compile`` (make does it), or on
first use when the .mo is missing or older than its .po.
"""
from __future__ import annotations

import gettext
import sys
from pathlib import Path

from assets import LOCALE as LOCALE_DIR
from sync.protocol import nfc

LANGUAGES = ("vi", "en")


def compile_catalogues(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every .po under locale_dir whose .mo is missing or stale."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    done = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        with mo.open("wb") as fh:
            write_mo(fh, catalog)
        done.append(mo)
    return done


class Translator:
    """``tr("Xin chào")`` in the current language; switch with ``set_language``."""

    def __init__(self, domain: str = "hailong", language: str = "vi", locale_dir: Path = LOCALE_DIR):
        self.domain = domain
        self.locale_dir = locale_dir
        self._catalogues: dict[str, gettext.NullTranslations] = {}
        self.language = language
        self.set_language(language)

    def _catalogue(self, language: str) -> gettext.NullTranslations:
        if language not in self._catalogues:
            if language == "vi":
                self._catalogues[language] = gettext.NullTranslations()
            else:
                po = self.locale_dir / language / "LC_MESSAGES" / f"{self.domain}.po"
                if po.exists():
                    try:
                        compile_catalogues(self.locale_dir)
                    except (ImportError, OSError):
                        pass
                self._catalogues[language] = gettext.translation(
                    self.domain, str(self.locale_dir), [language], fallback=True)
        return self._catalogues[language]

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language: must be one of {', '.join(LANGUAGES)}")
        self.language = language
        self._current = self._catalogue(language)

    def __call__(self, message: str) -> str:
        return nfc(self._current.gettext(message))


if __name__ == "__main__":
    if sys.argv[1:] == ["compile"]:
        for path in compile_catalogues():
            print(f"compiled {path.relative_to(LOCALE_DIR.parent.parent)}")
    else:
        sys.exit("usage: python -m kiosk.i18n compile")
