"""The ``hailong`` command line's language: Vietnamese source strings, English from a catalogue.

Every help text and message of the commands is written in Vietnamese in the
code, ``_("Không có cơ sở dữ liệu {path}.", path=db)``; the English is in the
gettext domain ``hailong_cli`` (assets/locale/en/LC_MESSAGES/hailong_cli.po).
The language is read once, at import (click evaluates help texts when the
commands are defined), from the environment the usual gettext way: the first
of LANGUAGE (a colon list), LC_ALL, LC_MESSAGES, LANG that names Vietnamese
or English. Unset, ``C`` or ``POSIX`` (a server's default) means Vietnamese:
the users are Vietnamese; ``LANG=en_US.UTF-8`` gives English.

Standard library only (besides where the catalogue is): sync/pull.py and
sync/server/commands.py import it, and so do the kiosk's commands. A
compiled .mo that is current is used; otherwise the .po is read directly,
so a checkout where ``python -m kiosk.i18n compile`` was not run still
speaks English.
"""
from __future__ import annotations

import ast
import gettext
import os
import unicodedata
from pathlib import Path

from assets import LOCALE

DOMAIN = "hailong_cli"
LANGUAGES = ("vi", "en")
DEFAULT = "vi"
ENV_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def language(environ=None) -> str:
    """"vi" or "en", from LANGUAGE / LC_ALL / LC_MESSAGES / LANG (gettext's order); "vi" by default."""
    environ = os.environ if environ is None else environ
    for var in ENV_VARS:
        for item in (environ.get(var) or "").split(":"):
            code = item.split(".")[0].split("@")[0].split("_")[0].strip().lower()
            if code in LANGUAGES:
                return code
            if code in ("c", "posix"):
                return DEFAULT
    return DEFAULT


def read_po(path: Path) -> dict[str, str]:
    """msgid → msgstr of a .po file (no plural forms, fuzzy entries left out), NFC."""
    entries, current, field, fuzzy = {}, {}, None, False

    def flush():
        if current.get("msgid") and current.get("msgstr") and not fuzzy:
            entries[_nfc(current["msgid"])] = _nfc(current["msgstr"])

    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                flush()
                current, field, fuzzy = {}, None, True
            continue
        if line.startswith("msgid "):
            if field == "msgstr":
                flush()
                current, fuzzy = {}, False
            field, value = "msgid", line[6:]
        elif line.startswith("msgstr "):
            field, value = "msgstr", line[7:]
        elif line.startswith('"') and field:
            value = line
            current[field] = current.get(field, "") + ast.literal_eval(value)
            continue
        else:
            continue
        current[field] = ast.literal_eval(value)
    if field == "msgstr":
        flush()
    return entries


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def catalogue(lang: str, locale_dir: Path = LOCALE, domain: str = DOMAIN) -> dict[str, str]:
    """The translations of ``lang`` (empty for Vietnamese, the source language)."""
    if lang == DEFAULT:
        return {}
    folder = locale_dir / lang / "LC_MESSAGES"
    po, mo = folder / f"{domain}.po", folder / f"{domain}.mo"
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with mo.open("rb") as fh:
                return {_nfc(k): _nfc(v) for k, v in gettext.GNUTranslations(fh)._catalog.items()
                        if isinstance(k, str) and k}
        if po.exists():
            return read_po(po)
    except (OSError, ValueError, SyntaxError):
        pass
    return {}


class Translator:
    """``_(text, **kw)``: the text in the chosen language, then ``str.format(**kw)`` when given."""

    def __init__(self, lang: str | None = None, locale_dir: Path = LOCALE, domain: str = DOMAIN):
        self.language = lang or language()
        self._cat = catalogue(self.language, locale_dir, domain)

    def __call__(self, text: str, **kw) -> str:
        out = self._cat.get(_nfc(text), text)
        return out.format(**kw) if kw else out


#: The command line's translator, in the environment's language (read at import).
_ = Translator()
