"""One citizen's visit at the kiosk, as a plain state machine (no Kivy).

The UI only forwards taps here and shows the screen named by ``visit.state``;
everything that decides what comes next, and when a rating is stored, lives
in this module so it is tested without a window.

States::

    welcome ─tap_start─▶ choose_officer ─choose_officer─▶ rate ─rate─▶ question… ─▶ reasons ─▶ comment ─▶ thanks
       ▲        (skipped with one officer on duty)   │    (each extra      (every level)  (if enabled) │
       │                                             │     question: answer or skip)                 │
       │                                       draft held from here on                               │
       └──────── idle warning, then timeout (draft sealed) ◀─────────────────────── thanks timeout ◀───┘

    start_from_receipt(...) ─▶ rate (officer and dossier fixed, source "receipt")
    show_message(text)      ─▶ message ─timeout─▶ welcome   (already rated, forged receipt…)

A tap is a rating: the moment a level is tapped, the rating is held durably
in kiosk.db as the visit's draft (``store.save_draft``, synchronous=FULL);
reasons and the comment update it. When the visit ends in any way (sent,
skipped, idle timeout, a scanned receipt, a message, the staff panel), the
draft is sealed into the one rating (``store.seal_draft``: append and removal
in one transaction); a draft left by a crash is sealed when the next Visit
starts. The thank-you screen shows only after the rating was sealed. A visit
left before any level was tapped stores nothing.

Which survey: the one the server chose for this desk today
(``store.survey_to_ask``: the campaign running at the desk, the latest
started winning, else the unit's default), else config.toml's scale; chosen
once, when the visit starts (tap_start, start_from_receipt), so a config
that arrives mid-visit changes the next visit, never this one.

Extra questions (issue 12): after the headline tap, each question of the
survey has its own screen (state ``question``, ``question_index``), answered
on its own scale or skipped (null); every answer updates the draft, whose
``answers`` hold every question code of the survey (null until answered), so
an idle timeout mid-way seals what was tapped. The same screens follow
whatever the answers.

A receipt rates once: the tap's draft is checked and written in one write
transaction (``store.save_draft(fields, new=True)``); a receipt another visit
or thread already holds is refused there (``ReceiptUsed``) and the visit
shows ALREADY_RATED, never a second rating.

Every level takes the same steps: whatever level is tapped, the same
reasons screen follows (the same chips, worded for praise and complaint
alike, optional), then the same comment screen, the same timings, so an
onlooker (the officer behind the desk) learns nothing from the screens. The
screens never depend on the level: only the survey's reasons and
``[survey] comment`` decide which of them show, for every level alike.

The idle timeout warns first: ``warning`` turns True ``Settings.warning_seconds``
before it, any touch (the warning's "go on" button) turns it off.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sync import protocol
from sync.protocol import COMMENT_MAX, DEFAULT_REASONS, SCALES, nfc

WELCOME = "welcome"
CHOOSE_OFFICER = "choose_officer"
RATE = "rate"
QUESTION = "question"
REASONS = "reasons"
COMMENT = "comment"
THANKS = "thanks"
MESSAGE = "message"
STATES = (WELCOME, CHOOSE_OFFICER, RATE, QUESTION, REASONS, COMMENT, THANKS, MESSAGE)

#: The chips' words on the kiosk for the built-in reasons, (Vietnamese msgid, English).
#: The codes are the protocol's (DEFAULT_REASONS, counted by the server) and never
#: change; only what the citizen reads does. Every level shows the same chips, so
#: each is worded for praise and complaint alike ("Thái độ phục vụ", not "Thái độ
#: chưa tốt"), except nhung_nhieu: the server raises a harassment alert for every
#: rating that names it, so its chip must still read as a report of harassment.
CHIP_LABELS: dict[str, tuple[str, str]] = {
    "thai_do": ("Thái độ phục vụ", "The officer's attitude"),
    "huong_dan": ("Hướng dẫn thủ tục", "Guidance on the procedure"),
    "dung_hen": ("Thời gian giải quyết", "Time taken"),
    "so_lan_di_lai": ("Số lần phải đi lại", "Number of trips needed"),
    "nhung_nhieu": ("Nhũng nhiễu, gây phiền hà", "Harassment, undue demands"),
}

#: messages (Vietnamese msgids, translated by the UI)
NOT_STORED = "Xin lỗi, máy chưa lưu được đánh giá. Xin Ông/Bà báo cán bộ quầy."
ALREADY_RATED = "Phiếu này đã được đánh giá. Cảm ơn Ông/Bà!"
RECEIPT_INVALID = "Phiếu không hợp lệ hoặc đã hết hạn. Xin Ông/Bà hỏi cán bộ quầy."

log = logging.getLogger(__name__)


def _receipt_used(exc: BaseException | None) -> bool:
    from kiosk.store import ReceiptUsed
    return isinstance(exc, ReceiptUsed)


def _usable(doc) -> bool:
    """A survey document the rate screen can show: a scale with a label for every level."""
    try:
        return (isinstance(doc, dict) and isinstance(doc.get("id"), str) and isinstance(doc.get("scale"), int) and 2 <= doc["scale"] <= protocol.LEVEL_MAX
                and all(isinstance(doc["labels"][str(lv)]["vi"], str) for lv in range(1, doc["scale"] + 1))
                and isinstance(doc.get("satisfied"), list))
    except (KeyError, TypeError):
        return False


def _usable_question(q) -> bool:
    """A question the question screen can show: a code, a scale, words for it and a label per level."""
    try:
        return (isinstance(q, dict) and isinstance(q.get("code"), str) and isinstance(q.get("scale"), int)
                and 2 <= q["scale"] <= protocol.LEVEL_MAX and isinstance(q["text"]["vi"], str)
                and all(isinstance(q["labels"][str(lv)]["vi"], str) for lv in range(1, q["scale"] + 1)))
    except (KeyError, TypeError):
        return False


def _question_list(doc: dict) -> list[dict]:
    """A survey's questions as a list of objects (whatever a hostile document holds)."""
    qs = doc.get("questions") if isinstance(doc, dict) else None
    return [q for q in qs if isinstance(q, dict)] if isinstance(qs, list) else []


def _words(value, fallback: str = "") -> tuple[str, str]:
    """(Vietnamese, English) of a survey's {"vi", "en"} text; English falls back to the Vietnamese."""
    if isinstance(value, str):
        return value, value
    if not isinstance(value, dict):
        return fallback, fallback
    vi = value.get("vi") if isinstance(value.get("vi"), str) else fallback
    en = value.get("en") if isinstance(value.get("en"), str) and value.get("en") else vi
    return nfc(vi), nfc(en)


class VisitError(ValueError):
    """An event that does not fit the current state (a UI bug, never the citizen's)."""


@dataclass
class Settings:
    """What the visit needs from config.toml."""

    unit_code: str
    desk_id: str
    scale: int = 3
    reasons: list[str] = field(default_factory=lambda: list(DEFAULT_REASONS))
    #: no longer used: reasons follow every level (kept so older config.toml files still load)
    reasons_below_level: int = 0
    comment: bool = True
    idle_timeout: float = 45
    thanks_timeout: float = 5
    message_timeout: float = 8
    #: seconds the "still there?" warning shows before the idle timeout ends the visit
    idle_warning: float | None = None
    rapid_repeat_seconds: float = 10
    language: str = "vi"

    @classmethod
    def from_config(cls, cfg) -> Settings:
        if cfg.survey.get("reasons_below_level"):
            log.warning("[survey] reasons_below_level is ignored: the reasons screen follows every level, "
                        "so that nobody watching learns the level from the screens")
        return cls(
            unit_code=cfg.kiosk["unit_code"], desk_id=cfg.kiosk["desk_id"],
            scale=cfg.survey["scale"], reasons=list(cfg.survey["reasons"]),
            reasons_below_level=cfg.survey["reasons_below_level"], comment=cfg.survey["comment"],
            idle_timeout=cfg.ui["idle_timeout"], thanks_timeout=cfg.ui["thanks_timeout"],
            message_timeout=max(cfg.ui["thanks_timeout"], 10),
            rapid_repeat_seconds=cfg.ui["rapid_repeat_seconds"], language=cfg.ui["language"])

    @property
    def warning_seconds(self) -> float:
        """The warning's share of the idle timeout: a third of it, at most 15 s (unless set)."""
        if self.idle_warning is not None:
            return max(0.0, min(self.idle_warning, self.idle_timeout))
        return min(15.0, self.idle_timeout / 3)


class Visit:
    """The citizen's path through the screens, and the one rating it stores.

    ``store`` needs ``officers(desk_id, on_duty_only=True)``, ``save_draft``,
    ``draft`` and ``seal_draft`` (kiosk.store.KioskStore). ``clock`` returns
    seconds (monotonic); tests pass their own. ``listeners``
    (``listener(visit, old_state)``) run after every state change;
    ``warning_listeners`` (``listener(visit)``) when the idle warning shows or
    hides; ``stored_listeners`` (``listener(record)``) after a rating was sealed.
    """

    def __init__(self, store, settings: Settings, clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], date] | None = None):
        if settings.scale not in SCALES:
            raise ValueError(f"scale: must be one of {sorted(SCALES)}")
        self.store = store
        self.settings = settings
        self.clock = clock
        #: the kiosk's local day (which campaign runs); tests pass their own
        self.today = today or (lambda: protocol.now_at_offset(getattr(store, "utc_offset", "+07:00")).date())
        self.listeners: list[Callable[[Visit, str], None]] = []
        self.warning_listeners: list[Callable[[Visit], None]] = []
        self.stored_listeners: list[Callable[[dict], None]] = []
        self.warning = False
        self.language = settings.language
        self.state = WELCOME
        self.last_record: dict | None = None
        self.last_error: Exception | None = None
        self.message: str | None = None
        self._clear()
        self._last_touch = self._entered = clock()
        self.recover()

    def recover(self) -> dict | None:
        """Seal a draft a crash left in the store (the app died after a tap); the record or None."""
        try:
            record = self.store.seal_draft()
        except Exception as exc:
            self.last_error = exc
            log.exception("the draft left by the last run could not be sealed")
            return None
        if record is not None:
            log.info("sealed the rating tapped before the last stop (seq %s)", record["seq"])
            self.last_record = record
        return record

    # -- what the screens show ----------------------------------------------

    def officers(self) -> list[dict]:
        """Officers on duty at this desk (photo cards)."""
        return self.store.officers(self.settings.desk_id, on_duty_only=True)

    def survey(self) -> dict:
        """The survey this visit asks, chosen once per visit (a new config never changes it midway).

        Chosen when the visit starts (:meth:`next_survey`); the rating is
        sealed on it, so it is counted on the scale the citizen was shown.
        """
        if self._survey is None:
            self._survey = self.next_survey()
        return self._survey

    def next_survey(self) -> dict:
        """The survey a visit starting now asks (not kept: the welcome screen's banner reads it).

        The server's choice for this desk today (``store.survey_to_ask``: the
        campaign running here, else the unit's default it sent), else the
        built-in survey of config.toml's scale (DESIGN.md: an offline-only
        kiosk asks the one config.toml names).
        """
        doc = None
        pick = getattr(self.store, "survey_to_ask", None)
        if pick is not None:
            try:
                doc = pick(self.settings.unit_code, self.settings.desk_id, self.today())
                if doc is not None:
                    protocol.check_survey(doc)   # only a survey a rating can be sealed on
            except Exception:
                log.exception("the server's survey cannot be asked; asking config.toml's scale")
                doc = None
        if not _usable(doc):
            doc = protocol.BUILTIN_SURVEYS[protocol.survey_for_scale(self.settings.scale)]
        return doc

    def questions(self) -> list[dict]:
        """The survey's extra questions that the kiosk can show, in order (each on its own screen)."""
        return [q for q in _question_list(self.survey()) if _usable_question(q)]

    def question(self) -> dict | None:
        """The question on screen now (state ``question``), else None."""
        qs = self.questions()
        return qs[self.question_index] if self.state == QUESTION and 0 <= self.question_index < len(qs) else None

    def question_text(self, q: dict | None = None) -> tuple[str, str]:
        """(Vietnamese, English) words of a question (the one on screen by default)."""
        q = q or self.question() or {}
        return _words(q.get("text"), q.get("code", ""))

    def question_levels(self, q: dict | None = None) -> list[tuple[int, str, str, bool]]:
        """(level, Vietnamese, English, satisfied?) of a question's scale, best first."""
        q = q or self.question()
        if q is None:
            return []
        satisfied = {lv for lv in q["satisfied"] if isinstance(lv, int)} if isinstance(q.get("satisfied"), list) else set()
        return [(lv, *_words(q["labels"][str(lv)]), lv in satisfied) for lv in range(q["scale"], 0, -1)]

    def progress(self) -> tuple[int, int] | None:
        """(n, total) — "Câu n/total": the headline is question 1; None when the survey asks nothing more."""
        qs = self.questions()
        if not qs:
            return None
        if self.state == RATE:
            return 1, len(qs) + 1
        if self.state == QUESTION:
            return self.question_index + 2, len(qs) + 1
        return None

    def banner(self, doc: dict | None = None) -> tuple[str, str, str] | None:
        """Who runs a survey the town wrote and its title: (by, title_vi, title_en); None for built-in ones.

        Shown to the citizen on the rate and question screens, e.g. "Khảo sát
        của Ủy ban MTTQ xã Đồng Tâm" (the screen words "Khảo sát của {by}"
        through gettext) over the title in the visit's language.
        """
        doc = doc or self.survey()
        if doc.get("id") in protocol.BUILTIN_SURVEYS:
            return None
        by = nfc(doc["by"].strip()) if isinstance(doc.get("by"), str) else ""
        title_vi, title_en = _words(doc.get("title"), "")
        if not by and not title_vi.strip():
            return None
        return by, title_vi.strip(), title_en.strip()

    def levels(self) -> list[tuple[int, str, str, bool]]:
        """(level, Vietnamese, English, satisfied?) of this visit's survey, best first."""
        doc = self.survey()
        satisfied = {lv for lv in doc["satisfied"] if isinstance(lv, int)}
        return [(lv, *_words(doc["labels"][str(lv)]), lv in satisfied) for lv in range(doc["scale"], 0, -1)]

    def reason_codes(self) -> list[str]:
        """The reason chips, the same for every level: the survey's reasons (for a built-in survey, those config.toml keeps)."""
        doc = self.survey()
        reasons = doc.get("reasons") if isinstance(doc.get("reasons"), list) else []
        codes = [r["code"] for r in reasons if isinstance(r, dict) and isinstance(r.get("code"), str)]
        if doc["id"] in protocol.BUILTIN_SURVEYS:
            return [c for c in self.settings.reasons if c in codes]
        return codes

    def reason_labels(self, code: str) -> tuple[str, str]:
        """(Vietnamese, English) words of a reason chip; unknown codes show as themselves.

        A built-in survey's chips read CHIP_LABELS (worded for every level);
        a survey the town wrote shows its own words.
        """
        if self.survey()["id"] in protocol.BUILTIN_SURVEYS and code in CHIP_LABELS:
            return CHIP_LABELS[code]
        reasons = self.survey().get("reasons")
        for reason in reasons if isinstance(reasons, list) else ():
            if isinstance(reason, dict) and reason.get("code") == code:
                return reason.get("vi", code), reason.get("en", code)
        return DEFAULT_REASONS.get(code, (code, code))

    def wants_reasons(self, level: int | None = None) -> bool:
        """Whether the reasons screen follows a tap: for every level alike, whenever the survey has reasons.

        ``level`` is not looked at, on purpose: a screen that showed for some
        levels only would tell whoever watches which level was tapped.
        """
        return bool(self.reason_codes())

    @property
    def officer(self) -> dict | None:
        if self.officer_id is None:
            return None
        return next((o for o in self.officers() if o["id"] == self.officer_id), None) \
            or self.store.officer(self.officer_id)

    # -- events ---------------------------------------------------------------

    def touch(self) -> None:
        """Any touch on the screen: the idle timer starts again (and the warning goes)."""
        self._last_touch = self.clock()
        if self.warning:
            self.warning = False
            self._notify_warning()

    def keep_going(self) -> str:
        """The warning's "go on" button: the visit goes on where it was."""
        self.touch()
        return self.state

    def tap_start(self) -> str:
        """Welcome → choose the officer (or straight to rating when one is on duty)."""
        self._expect(WELCOME)
        self.touch()
        officers = self.officers()
        if not officers:
            return self.state               # nobody to rate: welcome says so
        self._clear()
        self.survey()                       # chosen now, kept for the whole visit
        if len(officers) == 1:
            self.officer_id = officers[0]["id"]
            self.skipped_choice = True
            return self._go(RATE)
        return self._go(CHOOSE_OFFICER)

    def choose_officer(self, officer_id: str) -> str:
        self._expect(CHOOSE_OFFICER)
        self.touch()
        if officer_id not in {o["id"] for o in self.officers()}:
            raise VisitError(f"officer {officer_id!r} is not on duty at desk {self.settings.desk_id!r}")
        self.officer_id = officer_id
        return self._go(RATE)

    def start_from_receipt(self, officer_id: str, dossier_code: str | None,
                           procedure_code: str | None, receipt_id: str,
                           appointment: str | None = None) -> str:
        """A verified receipt was scanned: rate this officer for this dossier.

        A visit in progress ends first (a level already tapped is sealed);
        the officer choice is skipped. (kiosk/receipts.py verifies the token
        and checks it was not used.) ``appointment``: the receipt's ``a``, the
        dossier's appointment date ("YYYY-MM-DD") or None; the rating gets the
        signed flag ``on_time`` or ``late`` (protocol.timeliness_flag) from the
        local day of the tap.
        """
        self._end_visit()
        self._clear()
        self.touch()
        self.officer_id = officer_id
        self.source = "receipt"
        self.dossier_code = dossier_code
        self.procedure_code = procedure_code
        self.receipt_id = receipt_id
        self.appointment = appointment if isinstance(appointment, str) else None
        self.survey()                       # chosen now, kept for the whole visit
        return self._go(RATE)

    def show_message(self, text: str) -> str:
        """A kind message (already rated, receipt not valid…) that returns to welcome by itself.

        A visit in progress ends first (a level already tapped is sealed).
        """
        if not self._end_visit():
            text = NOT_STORED
        self._clear()
        self.touch()
        self.message = nfc(text)
        return self._go(MESSAGE)

    def rate(self, level: int) -> str:
        self._expect(RATE)
        self.touch()
        if level not in {lv for lv, *_ in self.levels()}:
            raise VisitError(f"level {level!r} is not on the {self.survey()['scale']}-level scale")
        if not self._drafted and self.store.draft() is not None:
            self.recover()                   # a draft left unsealed: seal it before holding this one
            if self.store.draft() is not None:
                return self._message(NOT_STORED)
        self.level = level
        self.reasons = []
        self.comment = ""
        self._tapped_at = self._now_iso()
        if not self._save_draft():           # the tap could not be held: say so, never go on
            self._clear()
            return self._message(self._failure())
        if self.questions():
            self.question_index = 0
            return self._go(QUESTION)
        return self._after_questions()

    def answer(self, level: int) -> str:
        """The question on screen answered with ``level`` (its own scale): held in the draft, next screen."""
        self._expect(QUESTION)
        self.touch()
        q = self.question()
        if q is None or level not in {lv for lv, *_ in self.question_levels(q)}:
            raise VisitError(f"level {level!r} is not on the scale of question {q and q['code']!r}")
        return self._answered(q, int(level))

    def skip_question(self) -> str:
        """"Bỏ qua": the question on screen is left unanswered (null), next screen."""
        self._expect(QUESTION)
        self.touch()
        q = self.question()
        if q is None:
            raise VisitError("no question on screen")
        return self._answered(q, None)

    def _answered(self, q: dict, value: int | None) -> str:
        self.answers[q["code"]] = value
        self._dirty = True
        self._save_draft()                   # durable at the tap; a failed write is retried by tick()
        if self.question_index + 1 < len(self.questions()):
            self.question_index += 1
            return self._go(QUESTION)
        return self._after_questions()

    def _after_questions(self) -> str:
        if self.wants_reasons():
            return self._go(REASONS)
        return self._after_reasons()

    def toggle_reason(self, code: str) -> bool:
        """Select or unselect a chip; returns whether it is now selected."""
        self._expect(REASONS)
        self.touch()
        if code not in self.reason_codes():
            raise VisitError(f"reason {code!r} is not a reason of survey {self.survey()['id']!r}")
        if code in self.reasons:
            self.reasons.remove(code)
        else:
            self.reasons.append(code)
        self._dirty = True
        self._save_draft()
        return code in self.reasons

    def submit_reasons(self) -> str:
        self._expect(REASONS)
        self.touch()
        self.reasons = self._ordered(self.reasons)      # the chips' order, not the taps'
        self._dirty = True
        return self._after_reasons()

    def skip_reasons(self) -> str:
        self._expect(REASONS)
        self.reasons = []
        return self.submit_reasons()

    def set_comment(self, text: str) -> bool:
        """Keep the comment typed so far (NFC); False when it was cut at COMMENT_MAX characters."""
        self._expect(COMMENT)
        self.touch()
        text = nfc(text or "")
        if text[:COMMENT_MAX] != self.comment:
            self.comment = text[:COMMENT_MAX]
            self._dirty = True               # written to the draft by tick(): not a disk write per key
        return len(text) <= COMMENT_MAX

    def submit_comment(self) -> str:
        self._expect(COMMENT)
        return self._finish()

    def skip_comment(self) -> str:
        self._expect(COMMENT)
        self.comment = ""
        return self._finish()

    def back(self) -> str:
        """One screen back; from the first question, back to welcome (nothing stored)."""
        self.touch()
        if self.state == COMMENT:
            if self.wants_reasons():
                return self._go(REASONS)
            return self._back_to_questions()
        if self.state == REASONS:
            return self._back_to_questions()
        if self.state == QUESTION:
            if self.question_index > 0:
                self.question_index -= 1
                return self._go(QUESTION)
            return self._go(RATE)
        if self.state == RATE and self.source == "walk_up" and not self.skipped_choice:
            return self._go(CHOOSE_OFFICER)
        if self.state in (RATE, CHOOSE_OFFICER):
            return self.reset()
        return self.state

    def _back_to_questions(self) -> str:
        """From after the questions: the last question, or the headline when there are none."""
        if self.questions():
            self.question_index = len(self.questions()) - 1
            return self._go(QUESTION)
        return self._go(RATE)

    def set_language(self, language: str) -> None:
        if language not in ("vi", "en"):
            raise VisitError(f"language {language!r}: must be vi or en")
        self.touch()
        self.language = language
        self._notify(self.state)

    def tick(self) -> str:
        """Called a few times a second: warn, then time the visit out; keep the draft's extras."""
        now = self.clock()
        if self._dirty and self._drafted:
            self._save_draft()
        if self.state == THANKS and now - self._entered >= self.settings.thanks_timeout:
            return self.reset()
        if self.state == MESSAGE and now - self._entered >= self.settings.message_timeout:
            return self.reset()
        if self.state == WELCOME:
            return self.state
        idle = now - self._last_touch
        if idle >= self.settings.idle_timeout:
            log.info("idle timeout at %s%s", self.state, ": the tapped level is kept" if self._drafted else "")
            return self.reset()
        if (not self.warning and self.state not in (THANKS, MESSAGE)
                and idle >= self.settings.idle_timeout - self.settings.warning_seconds):
            self.warning = True
            self._notify_warning()
        return self.state

    def reset(self) -> str:
        """Back to welcome in the configured language; a tapped level is sealed first."""
        if not self._end_visit():
            return self._message(self._failure())
        self._clear()
        self.message = None
        self.language = self.settings.language
        return self._go(WELCOME)

    # -- inside ---------------------------------------------------------------

    def _after_reasons(self) -> str:
        if self.settings.comment:
            return self._go(COMMENT)
        return self._finish()

    def _finish(self) -> str:
        """Seal the rating durably, then thank: never the other way round."""
        if not self._end_visit():           # disk full, broken db, receipt rated: say so, never thank
            return self._message(self._failure())
        self._clear()
        return self._go(THANKS)

    def _fields(self) -> dict:
        """The draft: store.append()'s keyword arguments, the tap's time as ISO text."""
        s = self.settings
        return {
            "unit_code": s.unit_code, "desk_id": s.desk_id, "officer_id": self.officer_id,
            "level": self.level, "reasons": self._ordered(self.reasons),
            "comment": (self.comment or "").strip() or None, "source": self.source,
            "dossier_code": self.dossier_code, "procedure_code": self.procedure_code,
            "receipt_id": self.receipt_id, "rapid_repeat_seconds": s.rapid_repeat_seconds,
            "now": self._tapped_at, "flags": self._flags(),
            # the survey the citizen was shown, so the record is sealed on the scale it was given on
            "survey": self.survey()["id"], "answers": self._answers()}

    def _answers(self) -> dict:
        """Every question code of the survey: the answer tapped, or None (skipped, or not reached)."""
        codes = [q["code"] for q in _question_list(self.survey()) if isinstance(q.get("code"), str)]
        return {code: self.answers.get(code) for code in codes}

    def _flags(self) -> list[str]:
        """The signed flags the visit itself knows: on_time / late from the receipt's appointment date."""
        if not self.appointment or not self._tapped_at:
            return []
        flag = protocol.timeliness_flag(self.appointment, datetime.fromisoformat(self._tapped_at).date())
        return [flag] if flag else []

    def _ordered(self, codes: list[str]) -> list[str]:
        """``codes`` in the order of the chips (the survey's), unknown ones left out."""
        return [c for c in self.reason_codes() if c in codes]

    def _now_iso(self) -> str:
        from sync.protocol import now_at_offset
        return now_at_offset(getattr(self.store, "utc_offset", "+07:00")).isoformat()

    def _failure(self) -> str:
        """What to tell the citizen when the rating could not be held or sealed."""
        return ALREADY_RATED if _receipt_used(self.last_error) else NOT_STORED

    def _save_draft(self) -> bool:
        try:
            self.store.save_draft(self._fields(), new=not self._drafted)
        except Exception as exc:
            self.last_error = exc
            if _receipt_used(exc):
                log.info("receipt %s rated already: refused at the tap", self.receipt_id)
            else:
                log.exception("the tapped level could not be held")
            return False
        self._drafted = True
        self._dirty = False
        return True

    def _end_visit(self) -> bool:
        """Seal this visit's draft (if a level was tapped) into its rating; False if it failed."""
        if not self._drafted:
            return True
        try:
            record = self.store.seal_draft(self._fields())
        except Exception as exc:
            self.last_error = exc
            log.exception("rating not stored")
            if self.store.draft() is None:  # refused for good (counted by the store): nothing to retry
                self._drafted = False
            return False
        self._drafted = False
        self._dirty = False
        if record is not None:
            self.last_record = record
            for listener in list(self.stored_listeners):
                try:
                    listener(record)
                except Exception:
                    log.exception("a stored listener failed")
        return True

    def _message(self, text: str) -> str:
        self._clear()
        self.message = nfc(text)
        return self._go(MESSAGE)

    def _clear(self) -> None:
        # an unsealed draft (a failed seal) stays in the store: the next tap or start seals it
        self._drafted = False
        self._dirty = False
        self._tapped_at: str | None = None
        self.officer_id: str | None = None
        self.level: int | None = None
        self.reasons: list[str] = []
        self.comment = ""
        self.source = "walk_up"
        self.dossier_code = self.procedure_code = self.receipt_id = None
        self.appointment: str | None = None
        self.answers: dict[str, int | None] = {}
        self.question_index = 0
        self.skipped_choice = False
        self._survey: dict | None = None

    def _expect(self, *states: str) -> None:
        if self.state not in states:
            raise VisitError(f"not now: the visit is at {self.state!r}, expected {' or '.join(states)}")

    def _go(self, state: str) -> str:
        old = self.state
        self.state = state
        self._entered = self.clock()
        if self.warning:
            self.warning = False
            self._notify_warning()
        self._notify(old)
        return state

    def _notify_warning(self) -> None:
        for listener in list(self.warning_listeners):
            listener(self)

    def _notify(self, old: str) -> None:
        for listener in list(self.listeners):
            listener(self, old)
