"""The staff panel's logic, with no Kivy: sign in by PIN, who is on duty,
print and reprint receipts and letters, and the kiosk's state in counts.

The panel never shows what a citizen rated and never changes a rating: the
only figures it gives are counts from ``store.sync_counts()`` and the
security events. Without paper (no printer, or none wanted) the officer
opens the citizen's rating for a dossier on the kiosk itself
(:meth:`StaffPanel.rate_on_screen`). Printing blocks on the serial port, so the UI calls
``print_receipt`` / ``reprint_last`` from a worker thread.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from kiosk import letters, receipts
from kiosk.devices.printer import Printer, PrinterError, unconfigured_state
from sync import protocol


@dataclass
class Outcome:
    """What the panel shows after an action: ok or not, and a message in both languages."""

    ok: bool
    message_vi: str
    message_en: str
    issued: receipts.Issued | None = None
    extra: dict = field(default_factory=dict)

    def message(self, language: str = "vi") -> str:
        return self.message_vi if language == "vi" else self.message_en


#: no receipt key yet (Vietnamese, English): what to do
NO_RECEIPT_KEY = (
    "Ki-ốt chưa có khoá ký phiếu nên chưa in được phiếu. Nhờ cán bộ CNTT đồng bộ ki-ốt với máy chủ của xã "
    "(hoặc ghi [receipt] key trong config.toml). Trong lúc chờ, bấm «Đánh giá trên máy».",
    "This kiosk has no receipt key yet, so it cannot print receipts. Ask the IT person to sync the kiosk "
    "with the town server (or set [receipt] key in config.toml). Meanwhile, press “Rate on screen”.")

#: the pad's words while it is locked (Vietnamese msgid, English through gettext)
PIN_LOCKED = "Nhập sai nhiều lần. Vui lòng thử lại sau {seconds} giây."

#: the appointment chooser's quick buttons: days after the kiosk's today (0: today)
APPOINTMENT_QUICK_DAYS = (0, 1, 3, 5, 7, 10, 15)
#: held at a limit (msgids: the chooser says them in the panel's language)
APPOINTMENT_TOO_EARLY = "Ngày hẹn trả kết quả không thể quá {days} ngày trước hôm nay."
APPOINTMENT_TOO_FAR = "Ngày hẹn trả kết quả không thể quá {days} ngày sau hôm nay."
#: a past date chosen: what it is good for (msgid)
APPOINTMENT_PAST = ("Ngày hẹn đã qua: kết quả trả trễ hẹn. Phiếu in không nhận ngày này; "
                    "«Đánh giá trên máy» ghi đánh giá là trễ hẹn.")


def step_appointment(day: date | None, delta: int, today: date) -> tuple[date, str]:
    """``day`` (today when None) moved by ``delta`` days, held within APPOINTMENT_MAX_DAYS either side of today.

    Returns the day and "" or, when it was held at a limit, the msgid saying
    why. A past date is allowed here for "Đánh giá trên máy" (the result
    returned late); a printed receipt refuses it (receipts.check_appointment).
    """
    moved = (day or today) + timedelta(days=delta)
    first = today - timedelta(days=receipts.APPOINTMENT_MAX_DAYS)
    if moved < first:
        return first, APPOINTMENT_TOO_EARLY
    last = today + timedelta(days=receipts.APPOINTMENT_MAX_DAYS)
    if moved > last:
        return last, APPOINTMENT_TOO_FAR
    return moved, ""


def appointment_for_rating(day: date | None, today: date) -> str | None:
    """The appointment date a rating on the kiosk screen carries ("YYYY-MM-DD"), within the chooser's limits."""
    if day is None:
        return None
    if abs((day - today).days) > receipts.APPOINTMENT_MAX_DAYS:
        raise receipts.AppointmentError("far", f"{day:%d/%m/%Y}", day, today)
    return day.isoformat()


def appointment_refused(exc: receipts.AppointmentError) -> tuple[str, str]:
    """Why the panel cannot put this appointment date on a receipt (Vietnamese, English)."""
    if exc.kind == "past":
        return ((f"Ngày hẹn trả kết quả {exc.text} đã qua (hôm nay {exc.today:%d/%m/%Y}): phiếu in cần ngày từ "
                 "hôm nay trở đi. Kết quả trả trễ hẹn: bấm «Đánh giá trên máy»."),
                (f"The appointment date {exc.text} has passed (today is {exc.today:%d/%m/%Y}): a printed receipt "
                 "needs today or later. For a result returned late, press “Rate on screen”."))
    if exc.kind == "far":
        days = receipts.APPOINTMENT_MAX_DAYS
        return (f"Ngày hẹn trả kết quả {exc.text} quá xa (hơn {days} ngày): xin chọn lại.",
                f"The appointment date {exc.text} is too far ahead (more than {days} days): please choose again.")
    return (f"Ngày hẹn trả kết quả «{exc.text}» không phải một ngày: xin chọn lại.",
            f"The appointment date “{exc.text}” is not a date: please choose again.")


class PinLock:
    """Wrong PINs lock the pad for a while; the lock survives a restart (kiosk.db meta).

    After ``tries`` wrong PINs in a row the pad refuses for ``first`` seconds;
    each further run of ``tries`` wrong PINs doubles it, up to ``longest``.
    A right PIN ends it all. While locked no PIN is checked at all.

    ``clock`` returns Unix seconds (wall time, so the lock holds across a
    restart); tests pass their own. A clock set back never makes the wait
    longer than the lock it was given.
    """

    META_KEY = "pin_lock"

    def __init__(self, store, clock: Callable[[], float] = time.time, tries: int = 5,
                 first: float = 60, longest: float = 15 * 60):
        self.store = store
        self.clock = clock
        self.tries = tries
        self.first = first
        self.longest = longest

    def _state(self) -> dict:
        try:
            state = json.loads(self.store.get_meta(self.META_KEY) or "{}")
        except ValueError:
            state = {}
        if not isinstance(state, dict):
            state = {}
        out = {}
        for key in ("wrong", "runs", "until", "length"):
            value = state.get(key, 0)
            out[key] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
        return out

    def remaining(self) -> int:
        """Whole seconds the pad still refuses (0: not locked)."""
        state = self._state()
        left = state["until"] - self.clock()
        if left <= 0:
            return 0
        return int(min(left, state["length"] or self.longest, self.longest) + 0.999)

    def locked(self) -> bool:
        return self.remaining() > 0

    def wrong(self) -> int:
        """Count a wrong PIN; the seconds of the lock it started (0 when none)."""
        state = self._state()
        state["wrong"] += 1
        seconds = 0
        if state["wrong"] >= self.tries:
            seconds = min(self.first * 2 ** state["runs"], self.longest)
            state.update(wrong=0, runs=state["runs"] + 1, until=self.clock() + seconds, length=seconds)
        self.store.set_meta(self.META_KEY, json.dumps(state))
        return int(seconds)

    def right(self) -> None:
        """A right PIN: the count and the lock start again from nothing."""
        if self.store.get_meta(self.META_KEY) is not None:
            self.store.set_meta(self.META_KEY, None)


class StaffPanel:
    """One desk's staff actions. ``printer`` may be None (no printer configured)."""

    def __init__(self, cfg, store, printer: Printer | None = None, scanner=None,
                 clock: Callable[[], float] = time.time):
        self.cfg = cfg
        self.store = store
        self.printer = printer
        self.scanner = scanner
        self.officer: dict | None = None
        #: wrong PINs lock the pad for a while (the exit PIN and the officers' alike)
        self.pin_lock = PinLock(store, clock)

    # -- who is at the desk --------------------------------------------------

    def sign_in(self, pin: str) -> dict | None:
        """The officer of this desk whose PIN this is, now signed in; None if no one's.

        While the pad is locked (:class:`PinLock`) no PIN is checked: None.
        A wrong PIN is counted, both as the event staff_pin_wrong and towards the lock.
        """
        pin = (pin or "").strip()
        if not pin or self.pin_lock.locked():
            return None
        for officer in self.store.officers(self.cfg.kiosk["desk_id"]):
            if protocol.check_pin(pin, officer.get("pin_hash")):
                self.pin_lock.right()
                self.officer = officer
                return officer
        self.store.record_event("staff_pin_wrong", self.cfg.kiosk["desk_id"])
        self.pin_lock.wrong()
        return None

    def sign_out(self) -> None:
        self.officer = None

    def duty(self) -> list[dict]:
        """This desk's officers with their on_duty flag."""
        return self.store.officers(self.cfg.kiosk["desk_id"])

    def set_duty(self, officer_ids) -> None:
        self._need_officer()
        self.store.set_on_duty(self.cfg.kiosk["desk_id"], officer_ids)

    def procedures(self) -> list[dict]:
        return self.store.procedures()

    def _need_officer(self) -> dict:
        if self.officer is None:
            raise PermissionError("sign in first")
        return self.officer

    # -- a dossier rated on the kiosk, without paper ------------------------------

    def rate_on_screen(self, dossier_code: str, procedure_code: str | None = None,
                       appointment: date | None = None) -> Outcome:
        """Check a typed (or scanned) dossier code for a rating on the kiosk screen itself.

        ``appointment``: the dossier's appointment date when the officer chose
        one (past dates too: the result is returned now, maybe late); the
        rating is then signed on_time or late, as a receipt's would be.

        ``ok``: ``extra`` holds officer_id, dossier_code, procedure_code (and appointment), and the
        app opens the citizen's rating screen for the signed-in officer and
        this dossier, as a scanned receipt would (KioskApp.start_dossier_rating).

        The record it brings has source ``walk_up`` with ``dossier_code`` (and
        ``procedure_code``) and ``receipt_id`` null: DESIGN.md's record allows a
        dossier on any source, and a receipt_id names a real signed paper, which
        never existed here (a receipt issued and consumed in the same step would
        put "Biên nhận (QR)" on the server's reports for a rating no QR code
        brought, and would need the receipt key). The cost: "rates once" is a
        receipt's rule, so the same dossier may be opened again by the officer.

        The code follows the protocol's rule for codes (sync.protocol.check_code:
        NFC, no control or format character), at most DOSSIER_MAX characters.
        """
        officer = self._need_officer()
        text = protocol.nfc((dossier_code or "").strip())
        if not text:
            return Outcome(False, "Xin nhập hoặc quét mã hồ sơ trước khi mở đánh giá.",
                           "Type or scan the dossier code before opening the rating.")
        try:
            code = receipts.clean_dossier(text)
            protocol.check_code(code, "dossier_code", max_len=receipts.DOSSIER_MAX)
        except (receipts.ReceiptIssueError, protocol.RecordError):
            shown = protocol.nfc("".join(ch if ch.isprintable() else "?" for ch in text))[:40]
            return Outcome(False,
                           f"Mã hồ sơ «{shown}» không hợp lệ: mã chỉ gồm chữ, số và các dấu . - /, "
                           f"tối đa {receipts.DOSSIER_MAX} ký tự. Xin gõ lại.",
                           f"The dossier code “{shown}” is not valid: letters, digits and . - / only, "
                           f"at most {receipts.DOSSIER_MAX} characters. Please type it again.")
        if procedure_code and not any(p["code"] == procedure_code for p in self.procedures()):
            return Outcome(False, f"Thủ tục {procedure_code} không có trong danh sách của ki-ốt.",
                           f"The procedure {procedure_code} is not on this kiosk's list.")
        try:
            due = appointment_for_rating(appointment, self.cfg.now().date())
        except receipts.AppointmentError as exc:
            return Outcome(False, *appointment_refused(exc))
        extra = {"officer_id": officer["id"], "dossier_code": code, "procedure_code": procedure_code or None}
        if due:
            extra["appointment"] = due
        return Outcome(True, f"Mời người dân đánh giá hồ sơ {code} trên máy.",
                       f"The citizen can now rate dossier {code} on the kiosk.", extra=extra)

    # -- printing --------------------------------------------------------------

    def print_receipt(self, dossier_code: str, procedure_code: str | None = None,
                      appointment: date | None = None) -> Outcome:
        """Issue a receipt for the signed-in officer and print it; a fault keeps it for reprint.

        ``appointment``: the dossier's appointment date (ngày hẹn trả kết quả),
        printed on the receipt and carried in its QR code as ``a``; from the
        kiosk's today to receipts.APPOINTMENT_MAX_DAYS after it.
        """
        officer = self._need_officer()
        if self.printer is None:          # nothing to print on: say what to do, issue nothing
            return self._no_printer()
        try:
            if not receipts.receipt_key(self.cfg, self.store):
                return Outcome(False, NO_RECEIPT_KEY[0], NO_RECEIPT_KEY[1])
            issued = receipts.issue(self.cfg, self.store, officer["id"], dossier_code, procedure_code,
                                    appointment=appointment)
        except receipts.AppointmentError as exc:
            return Outcome(False, *appointment_refused(exc))
        except receipts.ReceiptIssueError as exc:
            return Outcome(False, f"Không tạo được phiếu: {exc}", f"Cannot make the receipt: {exc}")
        image = receipts.receipt_image(self.cfg, self.store, issued)
        out = self._print(image, "receipt", issued.fields["h"], issued.token, issued=issued)
        if out.ok and issued.appointment is not None:
            out.message_vi += f" Ngày hẹn trả kết quả: {issued.appointment:%d/%m/%Y}."
            out.message_en += f" Appointment date: {issued.appointment:%d/%m/%Y}."
        if out.ok and self.cfg.letters.get("with_receipt"):
            out = self._letter_after(out, procedure_code)
        return out

    def _letter_after(self, receipt: Outcome, procedure_code: str | None) -> Outcome:
        """[letters] with_receipt: the procedure's letter follows its receipt (as the CLI does).

        Never the apology: it needs a new date the officer chooses.
        """
        kind = letters.letter_for(self.cfg, self.store, procedure_code)
        if not kind or kind == letters.APOLOGY:
            return receipt
        letter = self.print_letter(kind, receipt.issued.fields["h"], procedure_code)
        return Outcome(letter.ok, f"{receipt.message_vi} {letter.message_vi}",
                       f"{receipt.message_en} {letter.message_en}", issued=receipt.issued,
                       extra={**letter.extra, "letter": kind})

    def letter_default(self, procedure_code: str | None) -> str | None:
        """The letter kind the panel offers first for this procedure."""
        return letters.letter_for(self.cfg, self.store, procedure_code)

    def print_letter(self, kind: str, dossier_code: str, procedure_code: str | None = None,
                     new_date: date | None = None) -> Outcome:
        officer = self._need_officer()
        try:
            image = letters.letter_image(self.cfg, self.store, kind, officer["id"], dossier_code,
                                         procedure_code, new_date)
        except (letters.LetterError, receipts.ReceiptIssueError) as exc:
            return Outcome(False, f"Không tạo được thư: {exc}", f"Cannot make the letter: {exc}")
        vi_name, en_name = letters.KINDS[kind]
        return self._print(image, f"letter:{kind}", dossier_code, None,
                           done=(f"Đã in {vi_name.lower()} cho hồ sơ {dossier_code}.",
                                 f"Printed the {en_name.lower()} for dossier {dossier_code}."))

    def reprint_last(self) -> Outcome:
        self._need_officer()
        if self.printer is None:
            return self._no_printer()
        try:
            job = self.printer.reprint_last()
        except PrinterError as exc:
            return Outcome(False, exc.message_vi, exc.message_en, extra={"state": exc.state})
        return Outcome(True, f"Đã in lại ({job.ref or job.kind}).", f"Printed again ({job.ref or job.kind}).")

    def _print(self, image, kind: str, ref: str, token: str | None, issued=None,
               done: tuple[str, str] | None = None) -> Outcome:
        if self.printer is None:
            out = self._no_printer()
            out.issued = issued
            return out
        try:
            self.printer.print_image(image, kind=kind, ref=ref, token=token)
        except PrinterError as exc:
            return Outcome(False, exc.message_vi + " Bấm «In lại» khi máy in sẵn sàng.",
                           exc.message_en + " Press “Reprint” when the printer is ready.",
                           issued=issued, extra={"state": exc.state})
        vi, en = done or (f"Đã in phiếu cho hồ sơ {ref}.", f"Printed the receipt for dossier {ref}.")
        return Outcome(True, vi, en, issued=issued)

    @staticmethod
    def _no_printer() -> Outcome:
        state = unconfigured_state()
        return Outcome(False, state["message_vi"], state["message_en"], extra={"state": state["state"]})

    # -- the kiosk's state, in counts only ---------------------------------------

    def status(self) -> dict:
        counts = self.store.sync_counts()
        printer = self.printer.state() if self.printer else unconfigured_state()
        scanner = self.scanner.state() if self.scanner else {"state": "not_configured"}
        return {
            "pending": counts["pending"], "quarantined": counts["quarantined"],
            "security_events": sum(self.store.event_counts().values()),
            "printer": printer, "scanner": scanner,
            "last_sync": self.last_sync_shown(),
            "chain": self.chain_state(),
        }

    def last_sync_shown(self) -> str:
        """The last sync as the panel shows it, "HH:MM dd/mm/yyyy" at the kiosk's offset; "" if never."""
        at = self.store.get_meta("last_sync_at")
        if not at:
            return ""
        try:
            return f"{self.cfg.local(at):%H:%M %d/%m/%Y}"
        except (TypeError, ValueError):
            return ""

    def chain_state(self) -> dict | None:
        """None, or the kiosk's chain behind the server's (kiosk.db lost or replaced), in both languages."""
        behind = self.store.chain_behind()
        if behind is None:
            return None
        own, held = behind["own_seq"], behind["server_seq"]
        if own < held:
            vi = (f"Ki-ốt đã mất dữ liệu: máy chủ giữ đến số {held}, ki-ốt chỉ còn đến số {own}. "
                  "Gọi kỹ thuật chạy «hailong kiosk init --recover».")
            en = (f"This kiosk lost its data: the server holds up to seq {held}, the kiosk only up to {own}. "
                  "Call technical staff to run “hailong kiosk init --recover”.")
        else:
            vi = (f"Dữ liệu ki-ốt khác máy chủ ở số {held}. "
                  "Gọi kỹ thuật chạy «hailong kiosk init --recover».")
            en = (f"This kiosk's data differs from the server's at seq {held}. "
                  "Call technical staff to run “hailong kiosk init --recover”.")
        return {**behind, "message_vi": vi, "message_en": en}
