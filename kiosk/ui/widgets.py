"""Shared widgets: big buttons, face icons, officer cards, reason chips, keyboard.

Looks live in widgets.kv; this module holds behaviour and the canvas drawing
of icons (faces, person, hand), so no image files are needed and every icon
scales sharply.

A rule of the kiosk: the officer behind the desk must not learn which level
was pressed. Level buttons are therefore all the same colour and have no
pressed look at all (no colour change, no sound, no animation).
"""
from __future__ import annotations

import math

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk import telex
from sync import protocol

# High contrast palette (WCAG AAA for text on these backgrounds).
INK = (0.06, 0.07, 0.10, 1)
NAVY = (0.03, 0.20, 0.45, 1)
NAVY_DOWN = (0.02, 0.13, 0.30, 1)
PANEL = (0.91, 0.94, 0.98, 1)
BORDER = (0.16, 0.22, 0.34, 1)
WHITE = (1, 1, 1, 1)


class BigButton(ButtonBehavior, BoxLayout):
    """A large button with an optional icon beside (or above) its words.

    ``feedback`` False removes the pressed look (used for rating levels);
    ``vertical`` puts the icon above the words (a narrow button).
    """

    text = StringProperty("")
    font_size = NumericProperty("32sp")
    bold = BooleanProperty(True)
    primary = BooleanProperty(False)
    feedback = BooleanProperty(True)
    vertical = BooleanProperty(False)
    icon = StringProperty("")            # "", "back", "check", "skip", "send", "hand", "globe"


class FaceIcon(Widget):
    """A line-drawn face; ``mood`` from 0 (unhappy) to 1 (very happy). One colour for all.

    Icons redraw through a Clock trigger: once per frame, after the layout has
    settled (drawing on every pos/size event left stale geometry behind).
    """

    mood = NumericProperty(1.0)
    color = ListProperty(list(INK))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self._draw)
        self.bind(pos=self._redraw, size=self._redraw, mood=self._redraw, color=self._redraw)

    def _draw(self, *_):
        self.canvas.clear()
        r = min(self.width, self.height) / 2 * 0.92
        if r <= 2:
            return
        cx, cy = self.center
        w = max(2.0, r * 0.07)
        with self.canvas:
            Color(*self.color)
            Line(circle=(cx, cy, r), width=w)
            eye = r * 0.12
            for dx in (-0.36, 0.36):
                Ellipse(pos=(cx + dx * r - eye, cy + 0.25 * r - eye), size=(2 * eye, 2 * eye))
            # mouth: a parabola whose bend follows the mood (smile up, frown down)
            bend = (self.mood - 0.5) * 2 * r * 0.28
            half = r * 0.45
            base_y = cy - 0.35 * r + (0 if bend >= 0 else r * 0.1)
            pts = []
            for i in range(21):
                t = -1 + i / 10
                pts += [cx + t * half, base_y - bend * (1 - t * t)]
            Line(points=pts, width=w, cap="round", joint="round")


class PersonIcon(Widget):
    """A plain person silhouette: the officer card's stand-in for a missing photo."""

    color = ListProperty([0.45, 0.52, 0.62, 1])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self._draw)
        self.bind(pos=self._redraw, size=self._redraw)

    def _draw(self, *_):
        self.canvas.clear()
        s = min(self.width, self.height)
        cx, y0 = self.center_x, self.center_y - s / 2
        with self.canvas:
            Color(*self.color)
            Ellipse(pos=(cx - s * 0.2, y0 + s * 0.52), size=(s * 0.4, s * 0.4))
            Ellipse(pos=(cx - s * 0.38, y0 - s * 0.1), size=(s * 0.76, s * 0.6),
                    angle_start=-90, angle_end=90)


class LineIcon(Widget):
    """Small line icons beside button words: back arrow, check, skip, send, hand, globe."""

    kind = StringProperty("")
    color = ListProperty(list(INK))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._redraw = Clock.create_trigger(self._draw)
        self.bind(pos=self._redraw, size=self._redraw, kind=self._redraw, color=self._redraw)

    def _draw(self, *_):
        self.canvas.clear()
        s = min(self.width, self.height)
        if s <= 2 or not self.kind:
            return
        # a touch below the centre: Noto's line box keeps room for stacked tone marks
        # above, so the words beside the icon read a little low
        cx, cy = self.center_x, self.center_y - s * 0.06
        h = s / 2 * 0.8
        w = max(2.0, s * 0.07)
        with self.canvas:
            Color(*self.color)
            if self.kind == "back":
                Line(points=[cx + h, cy, cx - h, cy], width=w, cap="round")
                Line(points=[cx - h * 0.2, cy + h * 0.7, cx - h, cy, cx - h * 0.2, cy - h * 0.7],
                     width=w, cap="round", joint="round")
            elif self.kind == "check":
                Line(points=[cx - h, cy, cx - h * 0.3, cy - h * 0.7, cx + h, cy + h * 0.7],
                     width=w, cap="round", joint="round")
            elif self.kind == "skip":
                for dx in (-0.6, 0.2):
                    Line(points=[cx + dx * h, cy + h * 0.7, cx + (dx + 0.7) * h, cy,
                                 cx + dx * h, cy - h * 0.7], width=w, cap="round", joint="round")
            elif self.kind == "send":
                Line(points=[cx - h, cy - h * 0.2, cx + h, cy + h * 0.8, cx + h * 0.2, cy - h,
                             cx - h * 0.05, cy - h * 0.05, cx - h, cy - h * 0.2],
                     width=w, joint="round")
            elif self.kind == "hand":       # "tap here": a dot with two ripples
                Ellipse(pos=(cx - h * 0.28, cy - h * 0.28), size=(h * 0.56, h * 0.56))
                Line(circle=(cx, cy, h * 0.62), width=w * 0.8)
                Line(circle=(cx, cy, h * 0.98), width=w * 0.6)
            elif self.kind == "globe":
                Line(circle=(cx, cy, h), width=w)
                Line(ellipse=(cx - h * 0.45, cy - h, h * 0.9, 2 * h), width=w * 0.8)
                Line(points=[cx - h, cy, cx + h, cy], width=w * 0.8)
            elif self.kind == "heart":
                pts = []
                for i in range(61):
                    t = 2 * math.pi * i / 60
                    x = 16 * math.sin(t) ** 3
                    y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
                    pts += [cx + x * h / 17, cy + y * h / 17]
                Line(points=pts, width=w, close=True, joint="round")


class LevelButton(ButtonBehavior, BoxLayout):
    """One level of the scale: face and words. Same look for every level, no pressed look."""

    level = NumericProperty(0)
    mood = NumericProperty(1.0)
    text = StringProperty("")
    font_size = NumericProperty("34sp")


class Photo(AnchorLayout):
    """An officer's photo, or a person silhouette when there is none."""

    photo = StringProperty("")


class OfficerCard(ButtonBehavior, BoxLayout):
    """Photo, name and title of an officer on duty."""

    officer_id = StringProperty("")
    name = StringProperty("")
    title = StringProperty("")
    photo = StringProperty("")


class Chip(ButtonBehavior, BoxLayout):
    """A reason chip: tap to select (a check mark appears), tap again to unselect."""

    code = StringProperty("")
    text = StringProperty("")
    selected = BooleanProperty(False)


class Key(ButtonBehavior, BoxLayout):
    """One key of the on-screen keyboard."""

    value = StringProperty("")           # what it types, or an action: "⌫", "shift", "space", tones
    text = StringProperty("")
    hint = StringProperty("")            # small words under the key (tone names)
    active = BooleanProperty(False)
    wide = NumericProperty(1.0)


# The layout: letters (qwerty, as on phones), the Vietnamese letters, tone keys.
# Ten key widths a row at most: on the 1280 px reference panel each key is then
# ≥ 120 px wide (20 mm, DESIGN.md), and five rows of them fill the comment screen.
ROWS = [
    list("qwertyuiop"),
    list("asdfghjkl") + ["backspace"],
    ["shift"] + list("zxcvbnm") + [",", "."],
    list("ăâđêôơư") + ["?", "telex"],
    ["tone:sac", "tone:huyen", "tone:hoi", "tone:nga", "tone:nang", "space"],
]
#: tone key -> (letter shown, tone name msgid)
TONE_KEYS = {
    "tone:sac": ("á", "sắc"), "tone:huyen": ("à", "huyền"), "tone:hoi": ("ả", "hỏi"),
    "tone:nga": ("ã", "ngã"), "tone:nang": ("ạ", "nặng"),
}
#: key widths in letter keys (every row adds up to 10)
WIDTHS = {"telex": 2.0, "space": 3.5}


def _same(msgid: str) -> str:
    return msgid


class VietKeyboard(BoxLayout):
    """Big-key Vietnamese keyboard typing into ``text`` (NFC, at most ``max_length``).

    Letter keys go through Telex (aa→â, s→sắc…) while ``telex`` is on; the
    ă â đ ê ô ơ ư keys and the five tone keys work either way. Action keys
    carry words, not symbols (the font has no ⌫/⇧, and words read better).
    """

    text = StringProperty("")
    max_length = NumericProperty(500)
    telex = BooleanProperty(True)
    shift = BooleanProperty(False)
    tr = ObjectProperty(_same)
    on_text_limit = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(orientation="vertical", spacing="4dp", **kwargs)
        self.keys: list[Key] = []
        self.bind(shift=self.relabel, telex=self.relabel, tr=self.relabel)
        for row in ROWS:
            line = BoxLayout(spacing="6dp")
            for value in row:
                key = Key(value=value, wide=WIDTHS.get(value, 1.3 if value in TONE_KEYS else 1.0))
                key.bind(on_release=self._pressed)
                self.keys.append(key)
                line.add_widget(key)
            self.add_widget(line)
        self.relabel()

    def key_for(self, value: str) -> Key:
        return next(k for k in self.keys if k.value == value)

    def relabel(self, *_):
        tr = self.tr
        for key in self.keys:
            v = key.value
            if v in TONE_KEYS:
                key.text, key.hint = TONE_KEYS[v][0], tr(TONE_KEYS[v][1])
            elif v == "backspace":
                key.text = tr("Xoá")
            elif v == "space":
                key.text = tr("Dấu cách")
            elif v == "shift":
                key.text, key.active = tr("Chữ hoa"), self.shift
            elif v == "telex":
                key.text = tr("Telex: bật") if self.telex else tr("Telex: tắt")
                key.active = self.telex
            elif v.isalpha():
                key.text = v.upper() if self.shift else v
            else:
                key.text = v

    def _pressed(self, key: Key) -> None:
        v = key.value
        text = self.text
        if v == "backspace":
            text = telex.backspace(text)
        elif v == "shift":
            self.shift = not self.shift
            return
        elif v == "telex":
            self.telex = not self.telex
            return
        elif v in TONE_KEYS:
            text = telex.apply_tone(text, v.split(":", 1)[1])
        else:
            ch = " " if v == "space" else v
            if self.shift and ch.isalpha():
                ch = ch.upper()
                self.shift = False
            text = telex.type_key(text, ch, telex=self.telex)
        text = protocol.nfc(text)
        if len(text) > self.max_length:
            if self.on_text_limit:
                self.on_text_limit()
            return
        self.text = text
