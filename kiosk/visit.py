"""One citizen's visit at the kiosk, as a plain state machine (no Kivy).

The UI only forwards taps here and shows the screen named by ``visit.state``;
everything that decides what comes next, and when a rating is stored, lives
in this module so it is tested without a window.

States::

    welcome ─tap_start─▶ choose_officer ─choose_officer─▶ rate ─rate─▶ reasons ─▶ comment ─▶ thanks
       ▲        (skipped with one officer on duty)            (only low levels)  (if enabled)   │
       └──────────────── idle timeout (nothing stored) ◀──────────────────── thanks timeout ◀───┘

    start_from_receipt(...) ─▶ rate (officer and dossier fixed, source "receipt")
    show_message(text)      ─▶ message ─timeout─▶ welcome   (already rated, forged receipt…)

The rating is appended to the store (committed durably) *before* the state
becomes "thanks": the thank-you screen never shows for a rating that was not
kept. An unfinished visit is discarded whole on idle timeout.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from sync.protocol import COMMENT_MAX, DEFAULT_REASONS, SCALES, nfc

WELCOME = "welcome"
CHOOSE_OFFICER = "choose_officer"
RATE = "rate"
REASONS = "reasons"
COMMENT = "comment"
THANKS = "thanks"
MESSAGE = "message"
STATES = (WELCOME, CHOOSE_OFFICER, RATE, REASONS, COMMENT, THANKS, MESSAGE)

#: messages (Vietnamese msgids, translated by the UI)
NOT_STORED = "Xin lỗi, máy chưa lưu được đánh giá. Xin Ông/Bà báo cán bộ quầy."
ALREADY_RATED = "Phiếu này đã được đánh giá. Cảm ơn Ông/Bà!"
RECEIPT_INVALID = "Phiếu không hợp lệ hoặc đã hết hạn. Xin Ông/Bà hỏi cán bộ quầy."

log = logging.getLogger(__name__)


class VisitError(ValueError):
    """An event that does not fit the current state (a UI bug, never the citizen's)."""


@dataclass
class Settings:
    """What the visit needs from config.toml."""

    unit_code: str
    desk_id: str
    scale: int = 3
    reasons: list[str] = field(default_factory=lambda: list(DEFAULT_REASONS))
    reasons_below_level: int = 0
    comment: bool = True
    idle_timeout: float = 45
    thanks_timeout: float = 5
    message_timeout: float = 8
    rapid_repeat_seconds: float = 10
    language: str = "vi"

    @classmethod
    def from_config(cls, cfg) -> "Settings":
        return cls(
            unit_code=cfg.kiosk["unit_code"], desk_id=cfg.kiosk["desk_id"],
            scale=cfg.survey["scale"], reasons=list(cfg.survey["reasons"]),
            reasons_below_level=cfg.survey["reasons_below_level"], comment=cfg.survey["comment"],
            idle_timeout=cfg.ui["idle_timeout"], thanks_timeout=cfg.ui["thanks_timeout"],
            message_timeout=max(cfg.ui["thanks_timeout"], 10),
            rapid_repeat_seconds=cfg.ui["rapid_repeat_seconds"], language=cfg.ui["language"])


class Visit:
    """The citizen's path through the screens, and the one rating it stores.

    ``store`` needs ``officers(desk_id, on_duty_only=True)`` and ``append(**fields)``
    (kiosk.store.KioskStore). ``clock`` returns seconds (monotonic); tests pass
    their own. ``on_change(visit, old_state)`` listeners run after every state change.
    """

    def __init__(self, store, settings: Settings, clock: Callable[[], float] = time.monotonic):
        if settings.scale not in SCALES:
            raise ValueError(f"scale: must be one of {sorted(SCALES)}")
        self.store = store
        self.settings = settings
        self.clock = clock
        self.listeners: list[Callable[["Visit", str], None]] = []
        self.language = settings.language
        self.state = WELCOME
        self.last_record: dict | None = None
        self.last_error: Exception | None = None
        self.message: str | None = None
        self._clear()
        self._last_touch = self._entered = clock()

    # -- what the screens show ----------------------------------------------

    def officers(self) -> list[dict]:
        """Officers on duty at this desk (photo cards)."""
        return self.store.officers(self.settings.desk_id, on_duty_only=True)

    def levels(self) -> list[tuple[int, str, str, bool]]:
        """(level, Vietnamese, English, satisfied?) of the configured scale, best first."""
        return SCALES[self.settings.scale]

    def reason_codes(self) -> list[str]:
        return list(self.settings.reasons)

    @staticmethod
    def reason_labels(code: str) -> tuple[str, str]:
        """(Vietnamese, English) label of a reason code; unknown codes show as themselves."""
        return DEFAULT_REASONS.get(code, (code, code))

    def wants_reasons(self, level: int) -> bool:
        """Reason chips follow the low levels: below reasons_below_level, else every 'not satisfied' one."""
        if not self.settings.reasons:
            return False
        if self.settings.reasons_below_level > 0:
            return level < self.settings.reasons_below_level
        return not any(lv == level and sat for lv, _vi, _en, sat in self.levels())

    @property
    def officer(self) -> dict | None:
        if self.officer_id is None:
            return None
        return next((o for o in self.officers() if o["id"] == self.officer_id), None) \
            or self.store.officer(self.officer_id)

    # -- events ---------------------------------------------------------------

    def touch(self) -> None:
        """Any touch on the screen: the idle timer starts again."""
        self._last_touch = self.clock()

    def tap_start(self) -> str:
        """Welcome → choose the officer (or straight to rating when one is on duty)."""
        self._expect(WELCOME)
        self.touch()
        officers = self.officers()
        if not officers:
            return self.state               # nobody to rate: welcome says so
        self._clear()
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
                           procedure_code: str | None, receipt_id: str) -> str:
        """A verified receipt was scanned: rate this officer for this dossier.

        Any unfinished walk-up visit is dropped; the officer choice is skipped.
        (kiosk/receipts.py verifies the token and checks it was not used.)
        """
        self._clear()
        self.touch()
        self.officer_id = officer_id
        self.source = "receipt"
        self.dossier_code = dossier_code
        self.procedure_code = procedure_code
        self.receipt_id = receipt_id
        return self._go(RATE)

    def show_message(self, text: str) -> str:
        """A kind message (already rated, receipt not valid…) that returns to welcome by itself."""
        self._clear()
        self.touch()
        self.message = nfc(text)
        return self._go(MESSAGE)

    def rate(self, level: int) -> str:
        self._expect(RATE)
        self.touch()
        if level not in {lv for lv, *_ in self.levels()}:
            raise VisitError(f"level {level!r} is not on the {self.settings.scale}-level scale")
        self.level = level
        self.reasons = []
        if self.wants_reasons(level):
            return self._go(REASONS)
        return self._after_reasons()

    def toggle_reason(self, code: str) -> bool:
        """Select or unselect a chip; returns whether it is now selected."""
        self._expect(REASONS)
        self.touch()
        if code not in self.settings.reasons:
            raise VisitError(f"reason {code!r} is not configured")
        if code in self.reasons:
            self.reasons.remove(code)
            return False
        self.reasons.append(code)
        return True

    def submit_reasons(self) -> str:
        self._expect(REASONS)
        self.touch()
        self.reasons = [c for c in self.settings.reasons if c in self.reasons]  # config order
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
        self.comment = text[:COMMENT_MAX]
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
            return self._go(REASONS if self.level is not None and self.wants_reasons(self.level) else RATE)
        if self.state == REASONS:
            return self._go(RATE)
        if self.state == RATE and self.source == "walk_up" and not self.skipped_choice:
            return self._go(CHOOSE_OFFICER)
        if self.state in (RATE, CHOOSE_OFFICER):
            return self.reset()
        return self.state

    def set_language(self, language: str) -> None:
        if language not in ("vi", "en"):
            raise VisitError(f"language {language!r}: must be vi or en")
        self.touch()
        self.language = language
        self._notify(self.state)

    def tick(self) -> str:
        """Called a few times a second: time the visit out."""
        now = self.clock()
        if self.state == THANKS and now - self._entered >= self.settings.thanks_timeout:
            return self.reset()
        if self.state == MESSAGE and now - self._entered >= self.settings.message_timeout:
            return self.reset()
        if self.state != WELCOME and now - self._last_touch >= self.settings.idle_timeout:
            return self.reset()
        return self.state

    def reset(self) -> str:
        """Back to welcome in the configured language; an unfinished rating is dropped."""
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
        """Store the rating durably, then thank: never the other way round."""
        s = self.settings
        try:
            record = self.store.append(
                unit_code=s.unit_code, desk_id=s.desk_id, officer_id=self.officer_id,
                level=self.level, reasons=list(self.reasons), comment=(self.comment or "").strip() or None,
                source=self.source, dossier_code=self.dossier_code, procedure_code=self.procedure_code,
                receipt_id=self.receipt_id, rapid_repeat_seconds=s.rapid_repeat_seconds)
        except Exception as exc:            # disk full, broken db: say so, never thank
            self.last_error = exc
            log.exception("rating not stored")
            return self.show_message(NOT_STORED)
        self.last_record = record
        return self._go(THANKS)

    def _clear(self) -> None:
        self.officer_id: str | None = None
        self.level: int | None = None
        self.reasons: list[str] = []
        self.comment = ""
        self.source = "walk_up"
        self.dossier_code = self.procedure_code = self.receipt_id = None
        self.skipped_choice = False

    def _expect(self, *states: str) -> None:
        if self.state not in states:
            raise VisitError(f"not now: the visit is at {self.state!r}, expected {' or '.join(states)}")

    def _go(self, state: str) -> str:
        old = self.state
        self.state = state
        self._entered = self.clock()
        self._notify(old)
        return state

    def _notify(self, old: str) -> None:
        for listener in list(self.listeners):
            listener(self, old)
