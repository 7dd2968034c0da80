"""The server's side of the words spelled once in sync/protocol.py: letter kinds
in the Word letters, device-state words in its catalogue."""
import io

import docx
import pytest
from babel.messages.pofile import read_po
from helpers import ROOT

from sync import protocol
from sync.server.reports import letters_docx


def test_device_state_words_are_in_the_servers_catalogue():
    with open(ROOT / "assets/locale/en/LC_MESSAGES/hailong_server.po", "rb") as fh:
        english = {m.id: m.string for m in read_po(fh) if m.id}
    for vi, en in protocol.DEVICE_STATES.values():
        assert english.get(vi) == en, vi


def test_word_letters_are_keyed_by_the_protocols_kinds():
    assert set(letters_docx.LETTERS) <= set(protocol.LETTER_KINDS)


@pytest.mark.parametrize("kind", [protocol.LETTER_APOLOGY, "xin_loi_hen_lai"])
def test_the_apology_by_its_kind_or_the_pages_spelling(kind):
    d = docx.Document(io.BytesIO(letters_docx.letter(kind, {"new_date": "05/12/2026"})))
    assert any("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in p.text for p in d.paragraphs)   # TT 03/2025 form


def test_every_protocol_kind_has_a_word_letter():
    assert set(letters_docx.LETTERS) == set(protocol.LETTER_KINDS)


def test_unknown_kind_names_the_accepted_ones():
    with pytest.raises(ValueError, match="cam_on, xin_loi, chuc_mung, chia_buon"):
        letters_docx.letter("chia_buon_x", {})
