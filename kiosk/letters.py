"""Letters printed for the citizen: thank-you, apology with a new date,
congratulation, condolence (assets/letters/<kind>.txt, string.Template).

Which procedure brings which letter: config.toml [letters] by_procedure
first, then the roster's procedures.letter column, then [letters] default.
Letters never name the citizen; they address "Ông/Bà".
"""
from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from datetime import date, datetime

from assets import LETTERS as TEMPLATES
from kiosk.config import local_now
from sync import protocol
from sync.protocol import nfc

#: the short thank-you printed after a rating (kind THANKS, its own template)
AFTER_RATING_TEMPLATE = f"{protocol.LETTER_THANKS}_sau_danh_gia"
#: its print job's kind: a failed thank-you never holds back the next one
AFTER_RATING_JOB = "letter:after_rating"
#: the dossier printed on a walk-up visit's thank-you (no receipt, no dossier)
NO_DOSSIER = "—"
log = logging.getLogger(__name__)

#: kind -> (Vietnamese name, English name): the protocol's, shared with the town server
KINDS = protocol.LETTER_KINDS
THANKS, APOLOGY = protocol.LETTER_THANKS, protocol.LETTER_APOLOGY
CONGRATULATION, CONDOLENCE = protocol.LETTER_CONGRATULATION, protocol.LETTER_CONDOLENCE
label = protocol.letter_label


class LetterError(ValueError):
    """A letter cannot be made: unknown kind, or a value it needs is missing."""


def vi_date(day: date) -> str:
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def parse_new_date(text: str) -> date:
    """The apology's new date: 2026-12-05 or 05/12/2026."""
    text = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise LetterError(f"new date {text!r}: write it as 2026-12-05 or 05/12/2026")


def letter_for(cfg, store, procedure_code: str | None) -> str | None:
    """The letter kind a procedure brings, or None."""
    if not procedure_code:
        return cfg.letters.get("default") or None
    override = cfg.letters.get("by_procedure", {}).get(procedure_code)
    if override is not None:
        return override or None
    row = next((p for p in store.procedures() if p["code"] == procedure_code), None)
    kind = (row or {}).get("letter") or cfg.letters.get("default") or None
    return kind if kind in KINDS else None


def template(kind: str, name: str | None = None) -> string.Template:
    """The template of ``kind``; ``name`` picks another file for that kind (the after-rating thank-you)."""
    if kind not in KINDS:
        raise LetterError(f"letter kind {kind!r}: must be one of {', '.join(KINDS)}")
    return string.Template(nfc((TEMPLATES / f"{name or kind}.txt").read_text("utf-8")))


def letter_text(kind: str, *, unit: str, desk: str, officer: str, title: str | None,
                procedure: str | None, dossier: str, new_date: date | None = None,
                today: date | None = None, template_name: str | None = None) -> str:
    """The filled template. ``new_date`` is required for the apology (APOLOGY)."""
    if kind == APOLOGY and new_date is None:
        raise LetterError(f"{APOLOGY}: the new date for the result is required (--new-date)")
    values = {
        "unit": unit, "desk": desk or "", "officer": officer, "title": title or "",
        "procedure": procedure or "hành chính", "dossier": dossier,
        "new_date": new_date.strftime("%d/%m/%Y") if new_date else "",
        "date": vi_date(today or local_now().date()).capitalize(),
    }
    try:
        return nfc(template(kind, template_name).substitute(nfc(values)))
    except (KeyError, ValueError) as exc:
        raise LetterError(f"{kind}.txt: bad placeholder {exc}") from None


def letter_image(cfg, store, kind: str, officer_id: str, dossier: str,
                 procedure_code: str | None = None, new_date: date | None = None,
                 today: date | None = None, template_name: str | None = None):
    """Render a letter for this kiosk's unit and paper, names from the roster.

    ``today``: the date written in the letter; by default the kiosk's own
    (``[kiosk] utc_offset``), never the machine's time zone.
    """
    from kiosk import render
    from kiosk.receipts import clean_dossier

    officer = store.officer(officer_id)
    if officer is None:
        raise LetterError(f"officer {officer_id!r}: not in the roster")
    unit = store.unit(cfg.kiosk["unit_code"]) or {}
    desk = store.desk(cfg.kiosk["desk_id"]) or {}
    proc = next((p for p in store.procedures() if p["code"] == procedure_code), None)
    text = letter_text(kind, unit=unit.get("name") or cfg.kiosk["unit_code"],
                       desk=desk.get("name") or cfg.kiosk["desk_id"], officer=officer["name"],
                       title=officer.get("title"),
                       procedure=(proc or {}).get("name") or procedure_code,
                       dossier=clean_dossier(dossier), new_date=new_date,
                       today=today or cfg.now().date(),
                       template_name=template_name)
    return render.render_letter(text, cfg.receipt["paper_mm"])


# -- the thank-you after a rating ----------------------------------------------------

@dataclass(frozen=True)
class AfterRating:
    """What the after-rating thank-you is made of. It holds no level on purpose:
    the paper is the same whatever the citizen rated, so the officer who hands
    it over cannot learn a bad rating from it."""

    officer_id: str
    dossier: str
    procedure_code: str | None


def after_rating_letter(cfg, record: dict | None, printer_configured: bool) -> AfterRating | None:
    """Whether a rating just stored brings a thank-you, and for whom.

    ``[letters] after_rating`` on, a printer configured and a stored record:
    the rated officer signs it; the receipt's dossier, or "—" for a walk-up.
    Only the officer, dossier and procedure are read from the record.
    """
    if not cfg.letters.get("after_rating") or not printer_configured or not record:
        return None
    return AfterRating(officer_id=record["officer_id"],
                       dossier=record.get("dossier_code") or NO_DOSSIER,
                       procedure_code=record.get("procedure_code"))


def after_rating_image(cfg, store, letter: AfterRating, today: date | None = None):
    """The thank-you's image: dated to the day, no time, no level."""
    return letter_image(cfg, store, THANKS, letter.officer_id, letter.dossier, letter.procedure_code,
                        today=today, template_name=AFTER_RATING_TEMPLATE)


def print_after_rating(cfg, store, printer, record: dict | None) -> bool:
    """Print the thank-you for a stored rating; never raises (runs in a worker thread).

    A printer holding a receipt or letter that failed (waiting for staff's
    "In lại") is left alone: the thank-you would replace that job. A failed
    thank-you does not hold back the next one. Faults are logged; the
    staff panel shows the printer's state. Returns True when it printed.
    """
    letter = after_rating_letter(cfg, record, printer is not None)
    if letter is None:
        return False
    try:
        pending = printer.last_job()
        if pending is not None and not pending.printed and pending.kind != AFTER_RATING_JOB:
            log.warning("thank-you letter skipped: the printer keeps an unprinted %s for reprint", pending.kind)
            return False
        printer.print_image(after_rating_image(cfg, store, letter), kind=AFTER_RATING_JOB, ref=letter.dossier)
    except Exception as exc:           # PrinterError, LetterError, a broken roster: log, never disturb
        log.warning("thank-you letter after a rating not printed: %s", exc)
        return False
    return True
