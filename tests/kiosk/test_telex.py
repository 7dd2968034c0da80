"""Vietnamese Telex typing and tone placement (kiosk/telex.py, no Kivy)."""
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import telex
from kiosk.telex import apply_tone, backspace, place_tone, type_key, type_text


@pytest.mark.parametrize("keys, text", [
    ("aa", "â"), ("aw", "ă"), ("ee", "ê"), ("oo", "ô"), ("ow", "ơ"), ("uw", "ư"), ("dd", "đ"),
    ("DD", "Đ"), ("Dd", "Đ"), ("AA", "Â"),
    ("tieengs", "tiếng"), ("Vieetj Nam", "Việt Nam"), ("nguwowif", "người"), ("dduwowcj", "được"),
    ("tuowng", "tương"), ("muoons", "muốn"), ("xin chaof", "xin chào"), ("ddi", "đi"),
    ("Cans booj huwowngs daanx chuwa kyx.", "Cán bộ hướng dẫn chưa kỹ."),
    ("Chuwa ddungs henj, phair ddi laij.", "Chưa đúng hẹn, phải đi lại."),
    ("hoaf", "hòa"), ("khoer", "khỏe"), ("thuys", "thúy"), ("quys", "quý"), ("gif", "gì"),
    ("gias", "giá"), ("ngoaif", "ngoài"), ("khuyur", "khuỷu"), ("cuar", "của"), ("nhw", "như"),
])
def test_telex_words(keys, text):
    assert type_text(keys) == text


@pytest.mark.parametrize("keys, text", [
    ("ass", "as"),        # the same tone key twice: undo, keep the letter
    ("aaa", "aa"), ("ddd", "dd"), ("aww", "aw"),
    ("asz", "a"),         # z removes the tone
    ("z", "z"), ("s", "s"), ("bcd", "bcd"),   # no vowel: plain letters
])
def test_telex_undo_and_plain_letters(keys, text):
    assert type_text(keys) == text


def test_tone_moves_when_the_word_grows():
    assert type_text("hoas") == "hóa"
    assert type_text("hoasn") == "hoán"      # hóa + n → hoán
    assert type_text("toans") == "toán"
    assert type_text("tieesng") == "tiếng"    # tone typed before the final consonants


def test_tone_keys_and_letter_keys():
    text = ""
    for key in ["đ", "e", "p"]:
        text = type_key(text, key)
    assert apply_tone(text, "nang") == "đẹp"
    assert apply_tone("Việt", None) == "Viêt"     # the tone goes, the ê stays
    assert apply_tone("Việt", "sac") == "Viết"
    assert apply_tone("xin ", "sac") == "xin "     # no word being typed: nothing to tone
    assert apply_tone("bcd", "huyen") == "bcd"


def test_telex_off_types_letters_as_they_are():
    assert type_text("Hello dd ww", telex=False) == "Hello dd ww"


def test_place_tone_rules():
    assert place_tone("nguoi", None) == "nguoi"
    assert place_tone("người", "\u0301") == "người".replace("ờ", "ớ")
    assert place_tone("mua", telex.TONES["sac"]) == "múa"
    assert place_tone("quy", telex.TONES["nga"]) == "quỹ"


def test_backspace_removes_a_whole_letter():
    assert backspace("Việt") == "Việ"
    assert backspace(unicodedata.normalize("NFD", "ệ")) == ""
    assert backspace("") == ""


@given(st.text(alphabet="abcdeghiklmnopqrstuvwxyzADEOW ,.", max_size=40))
def test_output_is_always_nfc_and_never_loses_a_word(keys):
    text = type_text(keys)
    assert unicodedata.is_normalized("NFC", text)
    # Telex only changes letters: spaces and punctuation come through as typed
    assert [c for c in text if c in " ,."] == [c for c in keys if c in " ,."]
