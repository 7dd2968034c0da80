"""Ratings of a filter as CSV or Excel, with Vietnamese headers (sync/columns.py, shared with `hailong pull`).

Times are local (Asia/Ho_Chi_Minh) to the second: "2026-10-01 06:30:00" in
CSV, real date cells in Excel. The Excel sheet is laid out to be filtered and
printed (sync/cells.xlsx_sheet): autofilter, header on every page, landscape
one page wide.

CSV is UTF-8 with a BOM, so that Excel on a Windows office PC opens the
Vietnamese letters right instead of guessing a code page. Both formats are
written row by row from a streamed query (openpyxl's write-only mode), so a
year of a busy town exports without holding it in memory.

Free text typed by citizens (comment) and codes scanned from paper
(dossier) may start with "=", "+", "-", "@", a tab or a CR: Excel would run
them as a formula. CSV cells get a leading apostrophe (OWASP's advice); Excel
cells are written as plain text; control characters and lone surrogates that
an older server stored are replaced by U+FFFD. The rule is sync/cells.py's,
the same one ``hailong pull`` writes its files with.

Surveys: every export says which survey each rating answered ("Phiếu khảo
sát"), whether it came on time ("Đúng hẹn") and its extra answers in words
("Câu hỏi khác"); an export filtered to one survey (``survey=``) gives each
of its questions a column of its own instead (sync/columns.layout): the
sheet an admin filters and counts per question.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import IO

from sqlalchemy import select

from sync import columns
from sync.cells import csv_cell, xlsx_cell, xlsx_finish, xlsx_sheet, xlsx_time
from sync.protocol import DEFAULT_REASONS, SCALES
from sync.server.core import db
from sync.server.core.clock import VN_TZ
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.settings import known_surveys
from sync.server.reports.stats import Filter

#: (key, header) in the order written: sync/columns.py, the one list `hailong pull` writes too
HEADERS = columns.COLUMNS
SOURCE_LABELS, FLAG_LABELS, NOT_COUNTED = columns.SOURCE_LABELS, columns.FLAG_LABELS, columns.NOT_COUNTED


def roster_names(conn, scope: Scope = EVERY_UNIT) -> dict[str, dict[str, str]]:
    """Code → name of the units, desks, officers (of ``scope``'s units) and procedures (an export's words;
    the admin API's /names)."""
    return {
        "units": {r.code: r.name for r in conn.execute(select(db.units.c.code, db.units.c.name)
                                                       .where(scope.units()))},
        "desks": {r.id: r.name for r in conn.execute(select(db.desks.c.id, db.desks.c.name).where(scope.desks()))},
        "officers": {r.id: r.name for r in conn.execute(select(db.officers.c.id, db.officers.c.name)
                                                        .where(scope.officers()))},
        "procedures": {r.code: r.name for r in conn.execute(
            select(db.procedures.c.code, db.procedures.c.name))},
    }


def rating_rows(engine, flt: Filter, scale: int = 3, time_col: str = "corrected_at",
                reasons: dict[str, tuple[str, str]] | None = None) -> Iterator[dict]:
    """Each rating of the filter, oldest first, as export cells (sync/columns.values: text, ints, local datetimes)."""
    r = db.ratings
    q = (select(r, r.c[time_col].label("time")).where(flt.where(r, time_col))
         .order_by(r.c[time_col], r.c.pk))
    with engine.connect() as conn:
        look = columns.Lookups(**roster_names(conn), reasons=dict(reasons or DEFAULT_REASONS),
                               surveys=known_surveys(conn), tz=VN_TZ,
                               fallback_levels={lv: vi for lv, vi, _en, _sat in SCALES[scale]})
        for row in conn.execution_options(yield_per=2000).execute(q):
            rec = {
                "id": row.id, "time": row.time, "received_at": row.received_at, "kiosk_id": row.kiosk_id,
                "seq": row.seq, "unit_code": row.unit_code, "desk_id": row.desk_id, "officer_id": row.officer_id,
                "level": row.level, "survey": getattr(row, "survey", None),
                "reasons": json.loads(row.reasons or "[]"), "comment": row.comment, "source": row.source,
                "dossier_code": row.dossier_code, "procedure_code": row.procedure_code,
                "flags": json.loads(row.flags or "[]"), "answers": _answers(getattr(row, "answers", None)),
                "server_flags": json.loads(getattr(row, "server_flags", None) or "[]"),
            }
            yield columns.values(rec, look)


def _answers(text: str | None) -> dict:
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def write_csv(out: IO[bytes], rows, survey_doc: dict | None = None) -> int:
    """Write UTF-8-with-BOM CSV to a binary file; returns the number of ratings.

    ``survey_doc``: an export of that one survey, its questions in columns (columns.layout)."""
    keys, heads, _widths, _printed = columns.layout(survey_doc)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(heads)
    n = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in columns.csv_values(row, keys)])
        n += 1
    text.flush()
    text.detach()
    return n


def write_xlsx(out: IO[bytes], rows, title: str = "Đánh giá", survey_doc: dict | None = None) -> int:
    """Write an .xlsx workbook (sync/cells.py's layout: frozen header, autofilter, printable); returns the count."""
    from openpyxl import Workbook

    keys, heads, widths, printed = columns.layout(survey_doc)
    wb = Workbook(write_only=True)
    ws = xlsx_sheet(wb, title, heads, widths)
    kinds = [(k, k in columns.TIME_KEYS) for k in keys]
    fmt = columns.EXCEL_TIME_FORMAT
    n = 0
    for row in rows:
        ws.append([xlsx_time(ws, row[k], fmt) if is_time else xlsx_cell(ws, row.get(k, ""))
                   for k, is_time in kinds])
        n += 1
    xlsx_finish(ws, len(keys), n, printed=printed)
    wb.save(out)
    return n


def export(engine, flt: Filter, fmt: str, out: IO[bytes], scale: int = 3) -> int:
    """``fmt`` "csv" or "xlsx"; returns how many ratings were written."""
    doc = None
    if flt.survey:
        with engine.connect() as conn:
            doc = known_surveys(conn).get(flt.survey)
    rows = rating_rows(engine, flt, scale=scale)
    if fmt == "csv":
        return write_csv(out, rows, doc)
    if fmt == "xlsx":
        return write_xlsx(out, rows, survey_doc=doc)
    raise ValueError("format: must be csv or xlsx")
