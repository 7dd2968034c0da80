"""Every word of the letters' pages (the case's letter form, its fragment on the case page, the
letters page and its list of letters issued) and of their messages is in the English catalogue."""
from __future__ import annotations

import re

from babel.messages.pofile import read_po
from helpers import ROOT

from sync.server.web import case_letters, office

WEB = ROOT / "sync" / "server" / "web"
SOURCES = [WEB / "templates" / n for n in ("case_letter.html", "_case_letters.html", "_letters_issued.html",
                                           "letters.html")] + [WEB / "case_letters.py", WEB / "office.py"]


def test_every_word_is_in_the_english_catalogue():
    with open(ROOT / "assets/locale/en/LC_MESSAGES/hailong_server.po", "rb") as fh:
        english = {m.id for m in read_po(fh) if m.id and m.string}
    said = [(p.name, m[1]) for p in SOURCES for m in re.findall(r"""_\(\s*(["'])(.*?)\1""", p.read_text("utf-8"))]
    said += [("case_letters.FORM_FIELDS", label) for _f, label, _n in case_letters.FORM_FIELDS]
    said += [("office.LETTER_FIELDS", label) for _f, label in office.LETTER_FIELDS]
    said += [("case_letters.kind_name", case_letters.kind_name(k)) for k in ("xin_loi", "cam_on", "chuc_mung",
                                                                              "chia_buon")]
    missing = [f"{where}: {text}" for where, text in said if text not in english]
    assert len(said) > 40 and not missing, missing
