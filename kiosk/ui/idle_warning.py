"""The idle timeout's warning: "Ông/Bà còn tiếp tục không?" with one big button to go on.

Shown over the current screen while ``visit.warning`` is True (the last part
of ``[ui] idle_timeout``, kiosk.visit.Settings.warning_seconds); any touch,
the button's first, keeps the visit going. Not tapping ends the visit as the
idle timeout always did, and a level already tapped is kept (kiosk/visit.py).
"""
from __future__ import annotations

from kivy.lang import Builder
from kivy.properties import ObjectProperty
from kivy.uix.modalview import ModalView

Builder.load_string('''
#:import W kiosk.ui.widgets

<IdleWarning>:
    size_hint: None, None
    size: "760dp", "420dp"
    background_color: 0, 0, 0, 0.6
    BoxLayout:
        orientation: "vertical"
        padding: "30dp"
        spacing: "24dp"
        canvas.before:
            Color:
                rgba: W.WHITE
            RoundedRectangle:
                pos: self.pos
                size: self.size
                radius: [dp(16)]
        Label:
            id: question
            font_size: "44sp"
            bold: True
            color: W.NAVY
            halign: "center"
            valign: "middle"
            text_size: self.width, None
            text: app.t("Ông/Bà còn tiếp tục không?", app.lang)
        AnchorLayout:
            size_hint_y: None
            height: "170dp"
            BigButton:
                id: go_on_button
                size_hint: None, None
                size: "520dp", "160dp"
                primary: True
                icon: "check"
                font_size: "40sp"
                text: app.t("Tiếp tục", app.lang)
                on_release: root.go_on()
''')


class IdleWarning(ModalView):
    """``visit`` is the kiosk.visit.Visit whose idle warning this is."""

    visit = ObjectProperty(None)

    def __init__(self, visit, **kwargs):
        super().__init__(visit=visit, auto_dismiss=False, **kwargs)

    def go_on(self) -> None:
        self.visit.keep_going()
        self.dismiss()
