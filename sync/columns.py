"""The columns of a ratings spreadsheet, once: the web's CSV / Excel (sync/server/reports/exports.py)
and ``hailong pull`` (sync/pull.py) write the same headers, in the same order, with the same values.

The people's columns come first and the machine's last (ids, kiosk, seq),
so the first printed page of an Excel file shows who was rated, how and why.
Values are what an admin reads: level labels of the rating's own survey,
reasons and flags in words, "Có"/"Không" for whether it counts, times at the
local offset (Asia/Ho_Chi_Minh, +07:00 since 1975) to the second.

Surveys (issue 12): "Phiếu khảo sát" holds the survey's title, "Đúng hẹn"
whether the result came by the appointment date of the receipt ("Đúng
hẹn" / "Trễ hẹn", empty when the receipt carried no date), and "Câu hỏi
khác" every extra answer in words, in the survey's order ("Hồ sơ có được
giải quyết đúng hẹn không: Đúng hẹn; Ông/Bà phải đi lại bao nhiêu lần: 1
lần"), so that one sheet holds ratings of several surveys (one survey's
questions are not another's). An export of ONE survey (the web export with
``survey=``) writes instead one column per question, headed by the
question, each cell the answer's label: what an admin filters and counts
in Excel (:func:`layout`). The new columns sit after "Cờ", outside the
printed area, which stays one landscape A4 page wide.

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
    ("on_time", "Đúng hẹn"),
    ("answers", "Câu hỏi khác"),
    ("survey_title", "Phiếu khảo sát"),
    ("unit", "Đơn vị"),
    ("survey", "Mã phiếu khảo sát"),
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
          "on_time": 10, "answers": 40, "survey_title": 28,
          "survey": 12, "received_at": 15, "officer_id": 10, "kiosk_id": 10, "seq": 8, "id": 12}
#: the columns a printout holds (the print area): the people's, up to "Cờ"; the machine's stay on the screen,
#: so that one page wide is still readable (about 75 %)
PRINTED = KEYS[:KEYS.index("flags") + 1]
#: how Excel shows a time cell (Vietnamese order: day/month/year)
EXCEL_TIME_FORMAT = "dd/mm/yyyy hh:mm"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"   # the form every Excel, whatever its locale, reads as a date

SOURCE_LABELS = {"walk_up": "Trực tiếp", "receipt": "Biên nhận (QR)", "phone": "Điện thoại"}
FLAG_LABELS = {"rapid_repeat": "Lặp nhanh (nghi lạm dụng)", "duplicate_receipt": "Phiếu hẹn đánh giá lần nữa",
               "unknown_officer": "Cán bộ không có trong danh mục", "unknown_desk": "Quầy không có trong danh mục"}
#: the words of a rating's on-time flag (a receipt with the appointment date); they have their column, not "Cờ"
ON_TIME_WORDS = {protocol.ON_TIME_FLAG: "Đúng hẹn", protocol.LATE_FLAG: "Trễ hẹn"}
#: an extra question the citizen skipped (null) or did not reach
SKIPPED = "Không trả lời"
#: the width of a column per question (layout() of one survey)
QUESTION_WIDTH = 18
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

    def survey_doc(self, survey_id: str | None) -> dict | None:
        """The survey document of a rating (built in or the server's); None when not known."""
        return protocol.find_survey(survey_id, self.surveys) if survey_id else None

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


def _question_name(q: dict) -> str:
    """What a question is called in a cell or a header: its ``short`` words, else its text without the '?'."""
    for key in ("short", "text"):
        value = q.get(key)
        word = value.get("vi") if isinstance(value, dict) else value
        if isinstance(word, str) and word.strip():
            return word.strip().rstrip("?？ ").strip() or q.get("code", "")
    return str(q.get("code", ""))


def _questions(doc: dict | None) -> list[dict]:
    if not isinstance(doc, dict):
        return []
    return [q for q in doc.get("questions") or () if isinstance(q, dict) and isinstance(q.get("code"), str)]


def _answer_word(q: dict | None, value) -> str:
    if value is None:
        return SKIPPED
    labels = q.get("labels") if isinstance(q, dict) and isinstance(q.get("labels"), dict) else {}
    found = labels.get(str(value))
    word = found.get("vi") if isinstance(found, dict) else None
    return word if isinstance(word, str) and word else str(value)


def answers_text(answers, doc: dict | None) -> str:
    """The extra answers in words, in the survey's order: "Question: label; …" (skipped: "Không trả lời")."""
    if not isinstance(answers, dict):
        return ""
    parts = []
    seen = set()
    for q in _questions(doc):
        code = q["code"]
        seen.add(code)
        if code in answers:
            parts.append(f"{_question_name(q)}: {_answer_word(q, answers[code])}")
    for code, value in answers.items():     # answers to questions the survey does not name: codes
        if code not in seen:
            parts.append(f"{code}: {_answer_word(None, value)}")
    return "; ".join(parts)


def layout(survey_doc: dict | None = None) -> tuple[list[str], list[str], list[int], int]:
    """(keys, headers, widths, printed columns) of an export: COLUMNS, or for one survey's export
    its questions in columns of their own ("q:<code>", headed by the question) instead of "Câu hỏi khác"."""
    keys, heads = list(KEYS), list(HEADERS)
    widths = [WIDTHS[k] for k in KEYS]
    qs = _questions(survey_doc)
    if qs:
        i = keys.index("answers")
        keys[i:i + 1] = [f"q:{q['code']}" for q in qs]
        heads[i:i + 1] = [_question_name(q) for q in qs]
        widths[i:i + 1] = [QUESTION_WIDTH] * len(qs)
    return keys, heads, widths, len(PRINTED)


def _named(names: dict[str, str], code: str | None) -> str:
    if not code:
        return ""
    name = names.get(code)
    return f"{name} ({code})" if name else code


def values(rec: dict, look: Lookups) -> dict:
    """One rating as the export's cells, key → value (text, int, or a naive local datetime)."""
    flags = list(rec.get("flags") or []) + list(rec.get("server_flags") or [])
    survey_id = rec.get("survey") or None
    doc = look.survey_doc(survey_id)
    title = doc.get("title") if doc else None
    answers = rec.get("answers") if isinstance(rec.get("answers"), dict) else {}
    out = {
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
        "flags": "; ".join(FLAG_LABELS.get(f, f) for f in flags if f not in ON_TIME_WORDS),
        "on_time": next((ON_TIME_WORDS[f] for f in flags if f in ON_TIME_WORDS), ""),
        "answers": answers_text(answers, doc),
        "survey_title": (title.get("vi") if isinstance(title, dict) else None) or survey_id or "",
        "unit": _named(look.units, rec.get("unit_code")),
        "survey": survey_id or "",
        "received_at": local_moment(rec.get("received_at"), look.tz),
        "officer_id": rec.get("officer_id") or "",
        "kiosk_id": rec.get("kiosk_id") or "",
        "seq": rec.get("seq"),
        "id": rec.get("id") or "",
    }
    for q in _questions(doc):
        out[f"q:{q['code']}"] = _answer_word(q, answers[q["code"]]) if q["code"] in answers else SKIPPED
    return out


def csv_values(row: dict, keys: list[str] | None = None) -> list:
    """A row of :func:`values` in COLUMNS order (or ``keys``: layout()'s), times as CSV text (the
    caller escapes the cells); a question the rating's survey does not ask is an empty cell."""
    return [csv_time(row[k]) if k in TIME_KEYS else row.get(k, "") for k in (keys or KEYS)]
