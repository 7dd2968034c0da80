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

And the one layout of an Excel sheet of ratings (:func:`xlsx_sheet`, :func:`xlsx_finish`):
a bold, frozen header row with an autofilter, repeated on every printed
page; landscape, fitted to the page width; times as real date cells.

Standard library only at import (openpyxl is imported when Excel is written).
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


def xlsx_time(sheet, moment, number_format: str):
    """A naive local datetime as a date cell Excel sorts and filters as a date (None: an empty cell)."""
    if moment is None:
        return None
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(sheet, value=moment)
    cell.number_format = number_format
    return cell


def xlsx_sheet(book, title: str, headers: list[str], widths: list[float]):
    """A write-only sheet of ``book`` with its bold header row written, frozen, and its column widths."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"       # written with the first row, as the widths and fitToPage: set before it
    sheet.sheet_properties.pageSetUpPr.fitToPage = True    # fitToWidth/fitToHeight apply only with this
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.row_dimensions[1].height = 30                  # two lines: a narrow column's header wraps
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    row = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=clean_text(text))
        cell.font, cell.alignment = bold, wrap
        row.append(cell)
    sheet.append(row)
    return sheet


def xlsx_finish(sheet, columns: int, rows: int, printed: int | None = None) -> None:
    """Before saving: the autofilter over the header and ``rows`` rows, print titles, landscape, one page wide
    (the first ``printed`` columns only, when given), page numbers in the footer."""
    from openpyxl.utils import get_column_letter

    last = get_column_letter(columns)
    sheet.auto_filter.ref = f"A1:{last}{rows + 1}"
    if printed:
        sheet.print_area = f"A1:{get_column_letter(printed)}{rows + 1}"
    sheet.oddFooter.center.text = "&P / &N"
    sheet.print_title_rows = "1:1"                       # the header row on every printed page
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = "9"                      # A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0                     # as many pages down as it takes
    sheet.print_options.gridLines = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
