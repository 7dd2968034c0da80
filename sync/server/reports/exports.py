"""Ratings of a filter as CSV or Excel, with Vietnamese headers.

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
"""
from __future__ import annotations

import csv
import io
import json
from typing import IO, Iterator

from sqlalchemy import select

from sync.cells import csv_cell, xlsx_cell
from sync.protocol import DEFAULT_REASONS, MISUSE_FLAGS, SCALES, find_survey
from sync.server.core import db
from sync.server.core.settings import known_surveys
from sync.server.reports.stats import Filter

HEADERS = [
    ("id", "Mã đánh giá"),
    ("time", "Thời gian"),
    ("received_at", "Thời gian nhận"),
    ("kiosk_id", "Ki-ốt"),
    ("seq", "Số thứ tự"),
    ("unit", "Đơn vị"),
    ("desk", "Quầy"),
    ("officer_id", "Mã cán bộ"),
    ("officer", "Cán bộ"),
    ("level", "Mức độ"),
    ("level_label", "Mức độ (chữ)"),
    ("reasons", "Lý do"),
    ("comment", "Ý kiến"),
    ("source", "Nguồn"),
    ("dossier_code", "Hồ sơ"),
    ("procedure", "Thủ tục"),
    ("flags", "Cờ"),
    ("counted", "Tính vào tỷ lệ"),
    ("survey", "Phiếu khảo sát"),     # last: the columns before it keep their places
]

SOURCE_LABELS = {"walk_up": "Trực tiếp", "receipt": "Biên nhận (QR)", "phone": "Điện thoại"}
FLAG_LABELS = {"rapid_repeat": "Lặp nhanh (nghi lạm dụng)", "duplicate_receipt": "Phiếu hẹn đánh giá lần nữa",
               "unknown_officer": "Cán bộ không có trong danh mục", "unknown_desk": "Quầy không có trong danh mục"}
#: flags that keep a rating out of the rate (shown, not counted): DESIGN.md "Surveys, scales and satisfaction rate"
NOT_COUNTED = MISUSE_FLAGS | {"duplicate_receipt"}


def _level_labels(surveys: dict[str, dict], fallback: dict[int, str]):
    """survey id -> {level: Vietnamese label}: each rating is labelled on its own survey's scale."""
    cache: dict[str, dict[int, str]] = {}

    def labels(survey_id: str | None) -> dict[int, str]:
        if not survey_id:
            return fallback
        if survey_id not in cache:
            doc = find_survey(survey_id, surveys)
            cache[survey_id] = ({int(k): v.get("vi", k) for k, v in doc.get("labels", {}).items()}
                                if doc else fallback)
        return cache[survey_id]
    return labels


def _names(conn) -> dict[str, dict[str, str]]:
    return {
        "unit": {r.code: r.name for r in conn.execute(select(db.units.c.code, db.units.c.name))},
        "desk": {r.id: r.name for r in conn.execute(select(db.desks.c.id, db.desks.c.name))},
        "officer": {r.id: r.name for r in conn.execute(select(db.officers.c.id, db.officers.c.name))},
        "procedure": {r.code: r.name for r in conn.execute(
            select(db.procedures.c.code, db.procedures.c.name))},
    }


def _named(names: dict[str, str], code: str | None) -> str:
    if not code:
        return ""
    name = names.get(code)
    return f"{name} ({code})" if name else code


def rating_rows(engine, flt: Filter, scale: int = 3, time_col: str = "corrected_at",
                reasons: dict[str, tuple[str, str]] | None = None) -> Iterator[dict]:
    """Each rating of the filter, oldest first, as export cells (strings and ints)."""
    reasons = dict(reasons or DEFAULT_REASONS)
    levels = {lv: vi for lv, vi, _en, _sat in SCALES[scale]}
    r = db.ratings
    q = (select(r, r.c[time_col].label("time")).where(flt.where(r, time_col))
         .order_by(r.c[time_col], r.c.pk))
    with engine.connect() as conn:
        names = _names(conn)
        labels_of = _level_labels(known_surveys(conn), levels)
        for row in conn.execution_options(yield_per=2000).execute(q):
            flags = json.loads(row.flags or "[]") + json.loads(getattr(row, "server_flags", None) or "[]")
            survey_id = getattr(row, "survey", None)
            yield {
                "id": row.id,
                "time": row.time,
                "received_at": row.received_at,
                "kiosk_id": row.kiosk_id,
                "seq": row.seq,
                "unit": _named(names["unit"], row.unit_code),
                "desk": _named(names["desk"], row.desk_id),
                "officer_id": row.officer_id,
                "officer": names["officer"].get(row.officer_id, ""),
                "level": row.level,
                "survey": survey_id or "",
                "level_label": labels_of(survey_id).get(row.level, ""),
                "reasons": "; ".join(reasons.get(c, (c,))[0] for c in json.loads(row.reasons or "[]")),
                "comment": row.comment or "",
                "source": SOURCE_LABELS.get(row.source, row.source),
                "dossier_code": row.dossier_code or "",
                "procedure": _named(names["procedure"], row.procedure_code),
                "flags": "; ".join(FLAG_LABELS.get(f, f) for f in flags),
                "counted": "Không" if NOT_COUNTED.intersection(flags) else "Có",
            }




def write_csv(out: IO[bytes], rows) -> int:
    """Write UTF-8-with-BOM CSV to a binary file; returns the number of ratings."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([h for _k, h in HEADERS])
    n = 0
    for row in rows:
        writer.writerow([csv_cell(row[k]) for k, _h in HEADERS])
        n += 1
    text.flush()
    text.detach()
    return n


def write_xlsx(out: IO[bytes], rows, title: str = "Đánh giá") -> int:
    """Write an .xlsx workbook (one sheet, header row frozen); returns the count."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.freeze_panes = "A2"
    widths = {"id": 38, "time": 27, "received_at": 27, "unit": 28, "desk": 30, "officer": 26,
              "reasons": 30, "comment": 50, "procedure": 40, "flags": 26}
    for i, (key, _h) in enumerate(HEADERS, 1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(key, 14)
    bold = Font(bold=True)
    header = []
    for _k, h in HEADERS:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    n = 0
    for row in rows:
        ws.append([xlsx_cell(ws, row[key]) for key, _h in HEADERS])
        n += 1
    wb.save(out)
    return n


def export(engine, flt: Filter, fmt: str, out: IO[bytes], scale: int = 3) -> int:
    """``fmt`` "csv" or "xlsx"; returns how many ratings were written."""
    rows = rating_rows(engine, flt, scale=scale)
    if fmt == "csv":
        return write_csv(out, rows)
    if fmt == "xlsx":
        return write_xlsx(out, rows)
    raise ValueError("format: must be csv or xlsx")
