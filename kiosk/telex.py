"""Vietnamese typing for the kiosk's on-screen keyboard: Telex and tone keys.

Pure text functions, no Kivy, so they are tested on their own. The keyboard
keeps the comment as a string and calls :func:`type_key` for every key:

* Telex: ``aa``→â, ``aw``→ă, ``ee``→ê, ``oo``→ô, ``ow``→ơ, ``uw``→ư,
  ``uow``→ươ, ``dd``→đ; tone keys ``s`` sắc, ``f`` huyền, ``r`` hỏi, ``x`` ngã,
  ``j`` nặng, ``z`` removes the tone. Typing the same key again undoes it
  (``ass`` → "as"), as Unikey does.
* Tone buttons (:func:`apply_tone`) put a tone on the word being typed.

The tone sits where Vietnamese spelling puts it (old style: hóa, thủy), and
moves when the word grows (hóa + n → hoán). Output is always NFC.
"""
from __future__ import annotations

import unicodedata

# the one nfc; kiosk.ui.widgets still reaches it as telex.nfc
from sync.protocol import nfc

#: tone name -> combining mark
TONES = {
    "sac": "\u0301",    # á
    "huyen": "\u0300",  # à
    "hoi": "\u0309",    # ả
    "nga": "\u0303",    # ã
    "nang": "\u0323",   # ạ
}
TELEX_TONES = {"s": "sac", "f": "huyen", "r": "hoi", "x": "nga", "j": "nang"}
_MARKS = set(TONES.values())

#: letters that can carry a tone (after removing it), lower case
VOWELS = set("aăâeêioôơuưy")
#: vowels whose modifier (ˆ ˘ ˀ) makes them take the tone first
MODIFIED = set("ăâêôơư")

#: Telex doubling: base letter typed twice -> modified letter
_DOUBLE = {"a": "â", "e": "ê", "o": "ô", "d": "đ"}
#: Telex "w": plain vowel -> horned / breved vowel
_HORN = {"a": "ă", "o": "ơ", "u": "ư"}


def split_tone(ch: str) -> tuple[str, str | None]:
    """("ấ") -> ("â", "\\u0301"): the letter without its tone, and the tone mark."""
    decomposed = unicodedata.normalize("NFD", ch)
    tone = next((c for c in decomposed if c in _MARKS), None)
    base = nfc("".join(c for c in decomposed if c not in _MARKS))
    return base, tone


def _with_tone(base: str, tone: str | None) -> str:
    return nfc(base + tone) if tone else base


def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def split_word(text: str) -> tuple[str, str]:
    """(text before the word being typed, that word): the word is the trailing run of letters."""
    i = len(text)
    while i > 0 and _is_letter(text[i - 1]):
        i -= 1
    return text[:i], text[i:]


def word_tone(word: str) -> str | None:
    for ch in word:
        _, tone = split_tone(ch)
        if tone:
            return tone
    return None


def strip_tone(word: str) -> str:
    return "".join(split_tone(ch)[0] for ch in word)


def _vowel_span(bare: str) -> tuple[int, int] | None:
    """Start and end (exclusive) of the word's vowel nucleus, in the toneless word.

    "gi" and "qu" at the start are consonants when another vowel follows
    (giá, quý), so their i/u do not take the tone.
    """
    low = bare.lower()
    start = 0
    if low.startswith("qu") and len(low) > 2:
        start = 2
    elif low.startswith("gi") and len(low) > 2 and any(c in VOWELS for c in low[2:]):
        start = 2
    i = start
    while i < len(low) and low[i] not in VOWELS:
        i += 1
    if i == len(low):
        return None
    j = i
    while j < len(low) and low[j] in VOWELS:
        j += 1
    return i, j


def tone_position(bare: str) -> int | None:
    """Index in the toneless word of the letter that carries the tone, or None (no vowel)."""
    span = _vowel_span(bare)
    if span is None:
        return None
    i, j = span
    low = bare.lower()
    nucleus = low[i:j]
    if "ơ" in nucleus:                       # ươ: on ơ (người, được)
        return i + nucleus.index("ơ")
    modified = [k for k, c in enumerate(nucleus) if c in MODIFIED]
    if modified:
        return i + modified[-1]
    if len(nucleus) == 1:
        return i
    closed = j < len(low)                    # a final consonant follows (toán, hoàng)
    if closed:
        return j - 1
    if len(nucleus) >= 3:                    # ngoài, khuỷu
        return i + 1
    return i                                 # hóa, thủy, mía, múa


def place_tone(word: str, tone: str | None) -> str:
    """The word with every tone removed and ``tone`` put where it belongs."""
    bare = strip_tone(word)
    if not tone:
        return bare
    pos = tone_position(bare)
    if pos is None:
        return bare
    return nfc(bare[:pos] + _with_tone(bare[pos], tone) + bare[pos + 1:])


def _same_case(template: str, letter: str) -> str:
    return letter.upper() if template.isupper() else letter


def apply_tone(text: str, tone_name: str | None) -> str:
    """Put tone ``tone_name`` (a key of TONES, or None to remove) on the word being typed.

    Returns the text unchanged when there is no word with a vowel to carry it.
    """
    head, word = split_word(nfc(text))
    if not word or tone_position(strip_tone(word)) is None:
        return nfc(text)
    return head + place_tone(word, TONES[tone_name] if tone_name else None)


def _telex_tone(head: str, word: str, key: str) -> str | None:
    tone = TONES[TELEX_TONES[key.lower()]]
    if tone_position(strip_tone(word)) is None:
        return None
    if word_tone(word) == tone:              # same tone again: undo it, keep the letter
        return head + place_tone(word, None) + key
    return head + place_tone(word, tone)


def _telex_modify(head: str, word: str, key: str) -> str | None:
    """aa/ee/oo/dd/aw/ow/uw on the word being typed; None when the key is a plain letter."""
    k = key.lower()
    tone = word_tone(word)
    bare = strip_tone(word)
    low = bare.lower()
    if k == "d":
        if low[:1] == "d":                   # dd -> đ (only the word's first letter)
            return head + place_tone(_same_case(bare[0], "đ") + bare[1:], tone)
        if low[:1] == "đ":                   # đd -> dd: undo
            return head + place_tone(_same_case(bare[0], "d") + bare[1:], tone) + key
        return None
    if k in _DOUBLE:
        target = _DOUBLE[k]
        variants = {"a": "aă", "o": "oơ", "e": "e"}[k]
        span = _vowel_span(bare)
        if span is None:
            return None
        i, j = span
        for idx in range(j - 1, i - 1, -1):  # the last such vowel of the nucleus
            c = low[idx]
            if c in variants:
                new = bare[:idx] + _same_case(bare[idx], target) + bare[idx + 1:]
                return head + place_tone(new, tone)
            if c == target:                  # âa -> aa: undo, keep the letter
                new = bare[:idx] + _same_case(bare[idx], k) + bare[idx + 1:]
                return head + place_tone(new, tone) + key
        return None
    if k == "w":
        span = _vowel_span(bare)
        if span is None:                     # after consonants only: ư (như, thư), as in Unikey
            return head + bare + _same_case(key, "ư")
        i, j = span
        nucleus = low[i:j]
        if "ươ" in nucleus:                  # ươ + w: undo, keep the w
            n = i + nucleus.index("ươ")
            new = bare[:n] + _same_case(bare[n], "u") + _same_case(bare[n + 1], "o") + bare[n + 2:]
            return head + place_tone(new, tone) + key
        for pair in ("uo", "ưo", "uơ"):      # uo + w: both get their horn (ươ)
            if pair in nucleus:
                n = i + nucleus.index(pair)
                new = bare[:n] + _same_case(bare[n], "ư") + _same_case(bare[n + 1], "ơ") + bare[n + 2:]
                return head + place_tone(new, tone)
        for idx in range(j - 1, i - 1, -1):
            c = low[idx]
            if c in _HORN:
                new = bare[:idx] + _same_case(bare[idx], _HORN[c]) + bare[idx + 1:]
                return head + place_tone(new, tone)
            if c in ("ă", "ơ", "ư"):         # already horned: undo, keep the w
                plain = {"ă": "a", "ơ": "o", "ư": "u"}[c]
                new = bare[:idx] + _same_case(bare[idx], plain) + bare[idx + 1:]
                return head + place_tone(new, tone) + key
        return None
    return None


def type_key(text: str, key: str, telex: bool = True) -> str:
    """The text after typing ``key`` (one character, or a space/punctuation)."""
    text = nfc(text)
    key = nfc(key)
    if not telex or len(key) != 1 or not key.isascii() or not key.isalpha():
        return _after_letter(text, key)
    head, word = split_word(text)
    if word:
        k = key.lower()
        if k == "z":
            if word_tone(word):
                return head + place_tone(word, None)
        elif k in TELEX_TONES:
            done = _telex_tone(head, word, key)
            if done is not None:
                return done
        else:
            done = _telex_modify(head, word, key)
            if done is not None:
                return done
    elif key.lower() == "w":
        return text + _same_case(key, "ư")
    return _after_letter(text, key)


def _after_letter(text: str, key: str) -> str:
    """Append ``key``; a toned word that grows gets its tone moved (hóa + n → hoán)."""
    head, word = split_word(text + key)
    tone = word_tone(word) if word else None
    if tone:
        return head + place_tone(word, tone)
    return nfc(text + key)


def type_text(keys: str, text: str = "", telex: bool = True) -> str:
    """Type every character of ``keys`` in turn (tests, and pasting from a scanner)."""
    for key in keys:
        text = type_key(text, key, telex)
    return text


def backspace(text: str) -> str:
    """Remove the last character (a whole letter with its tone)."""
    text = nfc(text)
    return text[:-1]
