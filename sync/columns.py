"""The columns of a ratings spreadsheet, once: the web's CSV / Excel (sync/server/reports/exports.py)
and ``hailong pull`` (sync/pull.py) write the same headers, in the same order, with the same values.

The people's columns come first and the machine's last (ids, kiosk, seq),
so the first printed page of an Excel file shows who was rated, how and why.
Values are what an admin reads: level labels of the rating's own survey,
reasons and flags in words, "Có"/"Không" for whether it counts, times at the
local offset (Asia/Ho_Chi_Minh, +07:00 since 1975) to the second.

A rating is given to :func:`values` as a record (protocol field names, lists
as lists) plus ``time`` and ``received_at``; ``Lookups`` holds what only the
server knows (names of units, desks, officers, procedures; its reasons and
surveys). Where a name is not known the cell holds the code; ``hailong pull``
reads the names from the server's ``/api/v1/names`` (a server older than 0.3:
codes).

Standard library and sync.protocol only: the pull client must not import the server.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

from sync import protocol

#: Viet Nam's time (Asia/Ho_Chi_Minh has been +07:00 without daylight saving since 1975): fixed, so a
#: Windows PC without tzdata gets it too
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")

#: (key, Vietnamese header), in the order both exports write them
COLUMNS: list[tuple[str, str]] = [
    ("time", "Thời gian"),
    ("officer", "Cán bộ"),
    ("desk", "Quầy"),
    ("level_label", "Mức độ (chữ)"),
    ("level", "Mức độ"),
    ("reasons", "Lý do"),
    ("comment", "Ý kiến"),
    ("procedure", "Thủ tục"),
    ("dossier_code", "Hồ sơ"),
    ("source", "Nguồn"),
    ("counted", "Tính vào tỷ lệ"),
    ("flags", "Cờ"),
    ("unit", "Đơn vị"),
    ("survey", "Phiếu khảo sát"),
    ("received_at", "Thời gian nhận"),
    ("officer_id", "Mã cán bộ"),
    ("kiosk_id", "Ki-ốt"),
    ("seq", "Số thứ tự"),
    ("id", "Mã đánh giá"),
]
KEYS = [k for k, _h in COLUMNS]
HEADERS = [h for _k, h in COLUMNS]
#: the columns that hold a moment (a datetime in Excel, "2026-10-01 06:30:00" in CSV)
TIME_KEYS = frozenset({"time", "received_at"})
#: Excel column widths (characters), sized for landscape A4 fitted to the page width
WIDTHS = {"time": 15, "officer": 20, "desk": 28, "level_label": 14, "level": 6, "reasons": 18, "comment": 30,
          "procedure": 28, "dossier_code": 14, "source": 11, "counted": 8, "flags": 18, "unit": 24,
          "survey": 9, "received_at": 15, "officer_id": 10, "kiosk_id": 10, "seq": 8, "id": 12}
#: the columns a printout holds (the print area): the people's, up to "Cờ"; the machine's stay on the screen,
#: so that one page wide is still readable (about 75 %)
PRINTED = KEYS[:KEYS.index("flags") + 1]
#: how Excel shows a time cell (Vietnamese order: day/month/year)
EXCEL_TIME_FORMAT = "dd/mm/yyyy hh:mm"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"   # the form every Excel, whatever its locale, reads as a date

SOURCE_LABELS = {"walk_up": "Trực tiếp", "receipt": "Biên nhận (QR)", "phone": "Điện thoại"}
FLAG_LABELS = {"rapid_repeat": "Lặp nhanh (nghi lạm dụng)", "duplicate_receipt": "Phiếu hẹn đánh giá lần nữa",
               "unknown_officer": "Cán bộ không có trong danh mục", "unknown_desk": "Quầy không có trong danh mục"}
#: flags that keep a rating out of the rate (shown, not counted): DESIGN.md "Surveys, scales and satisfaction rate"
NOT_COUNTED = protocol.MISUSE_FLAGS | protocol.UNCOUNTED_SERVER_FLAGS


def local_moment(value, tz: tzinfo = LOCAL_TZ) -> datetime | None:
    """An RFC 3339 text (or an aware datetime) as a naive local datetime to the second; None if it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)   # RFC 3339, "Z" too (3.11)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        value = value.astimezone(tz).replace(tzinfo=None)
    return value.replace(microsecond=0)


def csv_time(moment: datetime | None) -> str:
    return moment.strftime(CSV_TIME_FORMAT) if moment is not None else ""


@dataclass
class Lookups:
    """What the words of a row come from: the server's roster and surveys (``hailong pull``: from /api/v1/names)."""
    units: dict[str, str] = field(default_factory=dict)
    desks: dict[str, str] = field(default_factory=dict)
    officers: dict[str, str] = field(default_factory=dict)
    procedures: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(protocol.DEFAULT_REASONS))
    surveys: dict[str, dict] = field(default_factory=dict)
    #: the labels of a rating without a survey (protocol v1): the built-in 3-level scale unless told
    fallback_levels: dict[int, str] | None = None
    tz: tzinfo = LOCAL_TZ
    _labels: dict = field(default_factory=dict, repr=False)

    def level_labels(self, survey_id: str | None) -> dict[int, str]:
        """{level: Vietnamese label} on the rating's own survey's scale."""
        if survey_id not in self._labels:
            doc = protocol.find_survey(survey_id, self.surveys) if survey_id else None
            if doc:
                labels = {int(k): v.get("vi", k) for k, v in doc.get("labels", {}).items()}
            elif self.fallback_levels is not None:
                labels = self.fallback_levels
            else:
                labels = {lv: vi for lv, vi, _en, _sat in protocol.SCALES[3]}
            self._labels[survey_id] = labels
        return self._labels[survey_id]


def _named(names: dict[str, str], code: str | None) -> str:
    if not code:
        return ""
    name = names.get(code)
    return f"{name} ({code})" if name else code


def values(rec: dict, look: Lookups) -> dict:
    """One rating as the export's cells, key → value (text, int, or a naive local datetime)."""
    flags = list(rec.get("flags") or []) + list(rec.get("server_flags") or [])
    survey_id = rec.get("survey") or None
    return {
        "time": local_moment(rec.get("time"), look.tz),
        "officer": look.officers.get(rec.get("officer_id")) or rec.get("officer_id") or "",   # no name: the code
        "desk": _named(look.desks, rec.get("desk_id")),
        "level_label": look.level_labels(survey_id).get(rec.get("level"), ""),
        "level": rec.get("level"),
        "reasons": "; ".join(look.reasons.get(c, (c,))[0] for c in rec.get("reasons") or []),
        "comment": rec.get("comment") or "",
        "procedure": _named(look.procedures, rec.get("procedure_code")),
        "dossier_code": rec.get("dossier_code") or "",
        "source": SOURCE_LABELS.get(rec.get("source"), rec.get("source") or ""),
        "counted": "Không" if NOT_COUNTED.intersection(flags) else "Có",
        "flags": "; ".join(FLAG_LABELS.get(f, f) for f in flags),
        "unit": _named(look.units, rec.get("unit_code")),
        "survey": survey_id or "",
        "received_at": local_moment(rec.get("received_at"), look.tz),
        "officer_id": rec.get("officer_id") or "",
        "kiosk_id": rec.get("kiosk_id") or "",
        "seq": rec.get("seq"),
        "id": rec.get("id") or "",
    }


def csv_values(row: dict) -> list:
    """A row of :func:`values` in COLUMNS order, times as CSV text (the caller escapes the cells)."""
    return [csv_time(row[k]) if k in TIME_KEYS else row[k] for k in KEYS]
