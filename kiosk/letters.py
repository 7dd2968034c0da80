"""Letters printed for the citizen: thank-you, apology with a new date,
congratulation, condolence (assets/letters/<kind>.txt, string.Template).

Which procedure brings which letter: config.toml [letters] by_procedure
first, then the roster's procedures.letter column, then [letters] default.
Letters never name the citizen; they address "Ông/Bà".
"""
from __future__ import annotations

import string
from datetime import date, datetime
from pathlib import Path

from sync.protocol import nfc

TEMPLATES = Path(__file__).resolve().parent.parent / "assets" / "letters"

#: kind -> (Vietnamese name, English name)
KINDS = {
    "cam_on": ("Thư cảm ơn", "Thank-you letter"),
    "xin_loi": ("Thư xin lỗi và hẹn lại", "Apology with a new date"),
    "chuc_mung": ("Thư chúc mừng", "Congratulation"),
    "chia_buon": ("Thư chia buồn", "Condolence"),
}


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


def template(kind: str) -> string.Template:
    if kind not in KINDS:
        raise LetterError(f"letter kind {kind!r}: must be one of {', '.join(KINDS)}")
    return string.Template(nfc((TEMPLATES / f"{kind}.txt").read_text("utf-8")))


def letter_text(kind: str, *, unit: str, desk: str, officer: str, title: str | None,
                procedure: str | None, dossier: str, new_date: date | None = None,
                today: date | None = None) -> str:
    """The filled template. ``new_date`` is required for the apology (xin_loi)."""
    if kind == "xin_loi" and new_date is None:
        raise LetterError("xin_loi: the new date for the result is required (--new-date)")
    values = {
        "unit": unit, "desk": desk or "", "officer": officer, "title": title or "",
        "procedure": procedure or "hành chính", "dossier": dossier,
        "new_date": new_date.strftime("%d/%m/%Y") if new_date else "",
        "date": vi_date(today or date.today()).capitalize(),
    }
    try:
        return nfc(template(kind).substitute(nfc(values)))
    except (KeyError, ValueError) as exc:
        raise LetterError(f"{kind}.txt: bad placeholder {exc}") from None


def letter_image(cfg, store, kind: str, officer_id: str, dossier: str,
                 procedure_code: str | None = None, new_date: date | None = None,
                 today: date | None = None):
    """Render a letter for this kiosk's unit and paper, names from the roster."""
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
                       dossier=clean_dossier(dossier), new_date=new_date, today=today)
    return render.render_letter(text, cfg.receipt["paper_mm"])
