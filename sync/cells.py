"""Spreadsheet cells as both exports write them: the web's CSV / Excel (sync/server/reports/exports.py)
and ``hailong pull`` (sync/pull.py). One rule, here, so the two never drift apart.

- **Never a formula.** Text typed by citizens (a comment) or scanned from
  paper (a dossier code) may start with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return: Excel and LibreOffice would run it as a formula (CSV
  injection). CSV cells get a leading apostrophe (OWASP's advice); Excel
  cells starting with ``=`` are written as text cells (openpyxl would write
  any other string as text anyway).
- **Never a broken file.** Control characters (``\\x00``-``\\x08``,
  ``\\x0b``, ``\\x0c``, ``\\x0e``-``\\x1f``) cannot be written in the XML of
  an .xlsx or .docx, and a lone surrogate cannot be written as UTF-8 at all;
  ratings stored before the server refused them may hold some. They are
  replaced by U+FFFD (�), so the reader sees that something was there.

Standard library only (openpyxl is imported by the caller that writes Excel).
"""
from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` with every character XML or UTF-8 cannot hold replaced by U+FFFD."""
    return _UNWRITABLE.sub(REPLACEMENT, value)


def csv_cell(value):
    """A value as a CSV cell: text cleaned and, when it would start a formula, behind an apostrophe."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def xlsx_cell(sheet, value):
    """A value as a cell of an openpyxl write-only ``sheet``: text cleaned, never a formula."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    if value.startswith("="):
        from openpyxl.cell import WriteOnlyCell
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"   # text, never a formula
        return cell
    return value
