"""The staff panel: duty, receipts and letters for dossiers, and the kiosk's state in counts.

Opened by an officer's PIN (the corner long press). Logic is kiosk.staff's
StaffPanel; this screen draws it. Printing blocks on the serial port, so
"In phiếu" / "In thư" / "In lại" run in a worker thread and the outcome comes back
through the Clock. "Ngày hẹn" opens the appointment-date chooser (DueChooser): the
date goes on the next receipt printed, and is forgotten once it is printed.
"Đánh giá trên máy" needs no paper: it opens the citizen's
rating for the signed-in officer and the dossier in the field. The status box shows counts only: never what a citizen
rated, and nothing here changes a rating. Below the counts, the kiosk's health in words (kiosk.health.summary:
disk, kiosk.db, last backup, uptime, temperature, taps outside the hours), read when the panel opens, and a red
warning when the system clock is not NTP-synchronised (receipts and ratings carry its time).
"""
from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout

from kiosk.devices.printer import GLANCE as PRINTER_STATES
from kiosk.devices.printer import PRINTABLE
from kiosk.devices.scanner import GLANCE as SCANNER_STATES
from kiosk.receipts import DOSSIER_MAX
from kiosk.ui.screens import KioskScreen
from kiosk.ui.screens.due_chooser import DueChooser
from kiosk.ui.screens.letter_chooser import LetterChooser
from kiosk.ui.widgets import Chip, Key
from sync.protocol import nfc

#: keys of the dossier pad: dossier codes are digits, capitals, dots, dashes, slashes
PAD_ROWS = ["1234567890", "QWERTYUIOP", "ASDFGHJKL.", ["Z", "X", "C", "V", "B", "N", "M", "-", "/", "backspace"]]
STATUS_EVERY = 2.0


class DossierPad(BoxLayout):
    """Big keys for dossier codes (no Telex: codes are not words)."""

    text = StringProperty("")
    backspace_label = StringProperty("Xoá")

    def __init__(self, **kwargs):
        super().__init__(orientation="vertical", spacing="6dp", **kwargs)
        self.keys: list[Key] = []
        for row in PAD_ROWS:
            line = BoxLayout(spacing="6dp")
            for value in row:
                key = Key(value=value, text=value, wide=1.6 if value == "backspace" else 1.0)
                key.bind(on_release=self._pressed)
                self.keys.append(key)
                line.add_widget(key)
            self.add_widget(line)
        self.bind(backspace_label=self._relabel)
        self._relabel()

    def _relabel(self, *_):
        self.key_for("backspace").text = self.backspace_label

    def key_for(self, value: str) -> Key:
        return next(k for k in self.keys if k.value == value)

    def _pressed(self, key: Key) -> None:
        if key.value == "backspace":
            self.text = self.text[:-1]
        elif len(self.text) < DOSSIER_MAX:
            self.text += key.value


class StaffScreen(KioskScreen):
    officer_name = StringProperty("")
    busy = BooleanProperty(False)
    outcome_vi = StringProperty("")
    outcome_en = StringProperty("")
    outcome_ok = BooleanProperty(True)
    printer_vi = StringProperty("")
    printer_en = StringProperty("")
    printer_ok = BooleanProperty(True)
    printer_state = StringProperty("")
    scanner_state = StringProperty("not_configured")
    pending = StringProperty("–")
    quarantined = StringProperty("–")
    security_events = StringProperty("–")
    last_sync = StringProperty("")
    chain_vi = StringProperty("")      # kiosk.db lost or replaced: behind the server's chain
    chain_en = StringProperty("")
    procedure_names = ListProperty([])
    #: kiosk.health.summary(), read when the panel opens ({} until then)
    health = DictProperty({})
    #: the dossier's appointment date for the next receipt (None: no date on it)
    appointment = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._procedures: dict[str, str] = {}
        self._jobs: list[threading.Thread] = []
        self._status_ev = None
        self._status_running = False
        self.letter_chooser: LetterChooser | None = None
        self.due_chooser: DueChooser | None = None

    @property
    def staff(self):
        return self.app.staff

    # -- opening and closing ------------------------------------------------------

    def refresh(self) -> None:
        officer = self.staff.officer or {}
        self.officer_name = officer.get("name", "")
        self.ids.pad.backspace_label = self.t("Xoá")
        self._fill_duty()
        self._fill_procedures()
        if self._status_ev is None:
            self._status_ev = Clock.schedule_interval(lambda _dt: self.refresh_status(), STATUS_EVERY)
        self.refresh_status()
        self.refresh_health()

    def clear(self) -> None:
        """Signed out: forget the dossier and the last message, stop polling."""
        if self._status_ev is not None:
            self._status_ev.cancel()
            self._status_ev = None
        if self.letter_chooser is not None:
            self.letter_chooser.dismiss()
            self.letter_chooser = None
        if self.due_chooser is not None:
            self.due_chooser.dismiss()
            self.due_chooser = None
        self.appointment = None
        self.ids.pad.text = ""
        self.ids.procedure.text = self.t("Chọn thủ tục (không bắt buộc)")
        self.outcome_vi = self.outcome_en = ""

    def _fill_duty(self) -> None:
        box = self.ids.duty
        box.clear_widgets()
        for officer in self.staff.duty():
            chip = Chip(code=officer["id"], text=officer["name"], selected=bool(officer["on_duty"]),
                        size_hint_y=None, height=dp(64))
            chip.bind(on_release=self._toggle_duty)
            box.add_widget(chip)

    def _toggle_duty(self, chip: Chip) -> None:
        chip.selected = not chip.selected
        on_duty = [c.code for c in self.ids.duty.children if c.selected]
        self.staff.set_duty(on_duty)

    def _fill_procedures(self) -> None:
        self._procedures = {p["name"]: p["code"] for p in self.staff.procedures()}
        self.procedure_names = [self.t("Không chọn thủ tục")] + list(self._procedures)
        if self.ids.procedure.text not in self._procedures:
            self.ids.procedure.text = self.t("Chọn thủ tục (không bắt buộc)")

    def procedure_code(self) -> str | None:
        return self._procedures.get(self.ids.procedure.text)

    # -- the dossier ------------------------------------------------------------------

    @property
    def dossier(self) -> str:
        return nfc(self.ids.pad.text.strip())

    def scanned_dossier(self, text: str) -> None:
        """A code scanned while the panel is open: the dossier's own barcode."""
        code = nfc((text or "").strip())[:DOSSIER_MAX]
        self.ids.pad.text = code
        self._say(True, "Đã nhận mã hồ sơ từ máy quét.", "Dossier code read from the scanner.")

    def clear_dossier(self) -> None:
        self.ids.pad.text = ""

    # -- printing, in a worker thread ---------------------------------------------------

    def print_receipt(self) -> None:
        if self.busy:
            return
        dossier = self.dossier
        if not dossier:
            self._say(False, "Xin nhập hoặc quét mã hồ sơ trước khi in phiếu.",
                      "Type or scan the dossier code before printing.")
            return
        procedure = self.procedure_code()
        appointment = self.appointment
        self._run(lambda: self.staff.print_receipt(dossier, procedure, appointment),
                  after_ok=lambda: self._printed_with(appointment))

    def _printed_with(self, appointment) -> None:
        """The receipt is out: its date is not the next dossier's (unless the officer changed it meanwhile)."""
        if self.appointment == appointment:
            self.appointment = None

    # -- the appointment date ---------------------------------------------------------

    def open_due(self) -> None:
        """"Ngày hẹn": the chooser, from the date already chosen (none by default)."""
        if self.busy:
            return
        self.due_chooser = DueChooser(self.dossier, self.appointment, on_done=self._due_chosen,
                                      today=lambda: self.app.cfg.now().date())
        self.due_chooser.bind(on_dismiss=lambda *_: setattr(self, "due_chooser", None))
        self.due_chooser.open()

    def _due_chosen(self, day) -> None:
        self.appointment = day

    def due_text(self, day, _lang: str) -> str:
        """The panel's button: "Ngày hẹn: 05/12/2026", or that there is none."""
        if day is None:
            return self.t("Ngày hẹn: chưa có")
        return self.t("Ngày hẹn: {day}").format(day=f"{day:%d/%m/%Y}")

    def open_letters(self) -> None:
        """"In thư": the chooser for the dossier in the field, the procedure's letter first."""
        if self.busy:
            return
        dossier = self.dossier
        if not dossier:
            self._say(False, "Xin nhập hoặc quét mã hồ sơ trước khi in thư.",
                      "Type or scan the dossier code before printing a letter.")
            return
        procedure = self.procedure_code()
        self._say(True, "", "")
        self.letter_chooser = LetterChooser(
            dossier, self.staff.letter_default(procedure),
            on_print=lambda kind, new_date: self.print_letter(dossier, procedure, kind, new_date),
            today=lambda: self.app.cfg.now().date())
        self.letter_chooser.bind(on_dismiss=lambda *_: setattr(self, "letter_chooser", None))
        self.letter_chooser.open()

    def print_letter(self, dossier: str, procedure: str | None, kind: str, new_date) -> None:
        if not self.busy:
            self._run(lambda: self.staff.print_letter(kind, dossier, procedure, new_date))

    def rate_here(self) -> None:
        """"Đánh giá trên máy": the citizen's rating screen for this officer and dossier, no paper.

        The code is checked (StaffPanel.rate_on_screen); a bad one is said
        here and the panel stays open with what was typed.
        """
        if self.busy:
            return
        out = self.staff.rate_on_screen(self.dossier, self.procedure_code(), self.appointment)
        if not out.ok:
            self._say(False, out.message_vi, out.message_en)
            return
        self.app.start_dossier_rating(**out.extra)

    def reprint(self) -> None:
        if not self.busy:
            self._run(self.staff.reprint_last)

    def _run(self, action, after_ok=None) -> None:
        """``action`` in a worker thread; its outcome said on the UI thread, then ``after_ok`` if it went well."""
        self.busy = True
        self._say(True, "Đang in…", "Printing…")

        def work():
            try:
                outcome = action()
                result = (outcome.ok, outcome.message_vi, outcome.message_en)
            except Exception as exc:           # never let a print take the app down
                result = (False, f"Lỗi khi in: {exc}", f"Printing failed: {exc}")

            def back(_dt):
                self._done(*result)
                if result[0] and after_ok is not None:
                    after_ok()
            Clock.schedule_once(back, 0)

        job = threading.Thread(target=work, name="staff-print", daemon=True)
        self._jobs = [j for j in self._jobs if j.is_alive()] + [job]
        job.start()

    def _done(self, ok: bool, vi: str, en: str) -> None:
        self.busy = False
        self.app._staff_touch = max(self.app._staff_touch, self._now())
        self._say(ok, vi, en)
        self.refresh_status()

    def wait_for_jobs(self, timeout: float) -> None:
        for job in list(self._jobs):
            job.join(timeout)

    def _say(self, ok: bool, vi: str, en: str) -> None:
        """vi/en: already-bilingual texts (from StaffPanel) or msgids of this screen."""
        self.outcome_ok = ok
        self.outcome_vi, self.outcome_en = vi, en

    @staticmethod
    def _now() -> float:
        import time
        return time.monotonic()

    # -- status, counts only ---------------------------------------------------------------

    def refresh_status(self) -> None:
        """staff.status() opens the printer's port: asked in a thread, shown on the UI thread."""
        if self._status_running or not self.app.staff_open:
            return
        self._status_running = True

        def work():
            try:
                status = self.staff.status()
            except Exception as exc:
                status = {"error": str(exc)}
            Clock.schedule_once(lambda _dt: self._show_status(status), 0)

        threading.Thread(target=work, name="staff-status", daemon=True).start()

    def _show_status(self, status: dict) -> None:
        self._status_running = False
        if "error" in status:
            self.printer_vi = self.printer_en = status["error"]
            self.printer_ok = False
            self.printer_state = "error"
            return
        printer = status["printer"]
        self.printer_vi, self.printer_en = printer["message_vi"], printer["message_en"]
        self.printer_ok = printer["state"] in (*PRINTABLE, "printing")
        if not self.printer_ok and printer["state"] != self.printer_state and not self.outcome_vi:
            # a printer fault found by the status (not by a print): its whole message, with what to do
            self._say(False, self.printer_vi, self.printer_en)
        self.printer_state = printer["state"]
        self.scanner_state = status["scanner"]["state"]
        self.pending = str(status["pending"])
        self.quarantined = str(status["quarantined"])
        self.security_events = str(status["security_events"])
        self.last_sync = status["last_sync"] or ""
        chain = status.get("chain") or {}
        self.chain_vi, self.chain_en = chain.get("message_vi", ""), chain.get("message_en", "")

    def printer_text(self, state: str, _lang: str) -> str:
        if not state:
            return "…"
        return self.t(PRINTER_STATES[state]) if state in PRINTER_STATES else state

    def scanner_text(self, state: str, _lang: str) -> str:
        return self.t(SCANNER_STATES.get(state, state)) if state in SCANNER_STATES else state

    # -- health, in words -----------------------------------------------------------------

    def refresh_health(self) -> None:
        """The health summary, read in a thread (timedatectl), shown on the UI thread."""
        app = self.app

        def work():
            summary = app.health()
            Clock.schedule_once(lambda _dt: setattr(self, "health", summary), 0)

        threading.Thread(target=work, name="staff-health", daemon=True).start()

    def _number(self, value: float, digits: int = 1) -> str:
        text = f"{value:.{digits}f}"
        return text if self.app.lang == "en" else text.replace(".", ",")

    def _size(self, mb: float) -> str:
        if mb >= 1024:
            return f"{self._number(mb / 1024)} GB"
        if mb >= 1:
            return f"{self._number(mb)} MB"
        return f"{self._number(mb * 1024, 0)} KB"

    def _duration(self, seconds: int) -> str:
        days, rest = divmod(int(seconds), 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        if days:
            return self.t("{d} ngày {h} giờ").format(d=days, h=hours)
        if hours:
            return self.t("{h} giờ {m} phút").format(h=hours, m=minutes)
        return self.t("{m} phút").format(m=minutes)

    def health_text(self, h: dict, _lang: str) -> str:
        """"Ổ đĩa còn trống 12,3 GB · kiosk.db 4,1 MB · Sao lưu gần nhất 03/12/2026 02:00 · …" (what is known)."""
        if not h:
            return ""
        parts = []
        if h.get("disk_free_mb") is not None:
            parts.append(self.t("Ổ đĩa còn trống {size}").format(size=self._size(h["disk_free_mb"])))
        if h.get("db_bytes") is not None:
            parts.append(f"kiosk.db {self._size(h['db_bytes'] / (1024 * 1024))}")
        if h.get("last_backup"):
            when = self.app.cfg.local(h["last_backup"])
            parts.append(self.t("Sao lưu gần nhất {when}").format(when=f"{when:%d/%m/%Y %H:%M}"))
        else:
            parts.append(self.t("Chưa có bản sao lưu"))
        if h.get("uptime_s") is not None:
            parts.append(self.t("Chạy liên tục {time}").format(time=self._duration(h["uptime_s"])))
        if h.get("temperature_c") is not None:
            parts.append(f"{self._number(h['temperature_c'], 0)} °C")
        if self.app.hours is not None or h.get("taps_outside_hours"):
            parts.append(self.t("Chạm ngoài giờ làm việc: {n}").format(n=h.get("taps_outside_hours") or 0))
        return " · ".join(parts)

    def clock_warning(self, h: dict, _lang: str) -> str:
        """The red line when the clock is known not to be synchronised (receipts and ratings carry its time)."""
        if h.get("clock_synced") is False:
            return self.t("Đồng hồ của ki-ốt chưa được đồng bộ (không có NTP): giờ trên phiếu và đánh giá có thể sai.")
        return ""
