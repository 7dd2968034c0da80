"""The banner of a survey the town wrote: who runs it, its title, and "Câu 2/4".

Shown at the top of the rate and question screens (kiosk/visit.py
``Visit.banner`` and ``Visit.progress``); it takes no room for a built-in
survey that asks nothing more. Navy on white: high contrast, no colour that
means anything about a level.
"""
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

Builder.load_string('''
#:import W kiosk.ui.widgets

<SurveyBanner>:
    size_hint_y: None
    height: (dp(62) if (root.by_text or root.title_text) else (dp(40) if root.progress_text else 0))
    opacity: 1 if (root.by_text or root.title_text or root.progress_text) else 0
    spacing: "16dp"
    BoxLayout:
        orientation: "vertical"
        Label:
            id: banner_by
            text: root.by_text
            font_size: "24sp"
            bold: True
            color: W.NAVY
            halign: "left"
            valign: "middle"
            text_size: self.size
            shorten: True
            shorten_from: "right"
        Label:
            id: banner_title
            text: root.title_text
            font_size: "22sp"
            color: W.INK
            halign: "left"
            valign: "middle"
            text_size: self.size
            shorten: True
            shorten_from: "right"
    Label:
        id: progress
        text: root.progress_text
        size_hint_x: None
        width: dp(320) if root.progress_text else 0
        font_size: "30sp"
        bold: True
        color: W.NAVY
        halign: "right"
        valign: "middle"
        text_size: self.size
''')


class SurveyBanner(BoxLayout):
    """``by_text`` ("Khảo sát của …"), ``title_text`` and ``progress_text`` ("Câu 2/4"), already translated."""

    by_text = StringProperty("")
    title_text = StringProperty("")
    progress_text = StringProperty("")

    def show(self, app, visit) -> None:
        """Fill from the visit's survey in the app's language."""
        banner = visit.banner()
        en = app.lang == "en"
        if banner:
            by, title_vi, title_en = banner
            self.by_text = app.t("Khảo sát của {by}").format(by=by) if by else ""
            self.title_text = title_en if en else title_vi
        else:
            self.by_text = self.title_text = ""
        progress = visit.progress()
        self.progress_text = app.t("Câu {n}/{total}").format(n=progress[0], total=progress[1]) if progress else ""
