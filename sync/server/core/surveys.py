"""The surveys of a town server, the one place for their rules (DESIGN.md "Surveys"; docs/surveys.md).

A survey is a JSON document (``sync.protocol.check_survey(strict=True)``),
kept in the ``surveys`` setting (id → document), beside the built-in ``hl3``,
``hl4``, ``hl5``. What the server knows about each besides its meaning is in
the ``survey_meta`` setting (id → created_at, created_by, based_on, and, for a
campaign stopped early, ended_on / ended_at / ended_by).

Rules:

* a survey that any rating answered never changes: its meaning travels with
  every rating. Editing it makes a copy with a new id (:func:`next_id`
  suggests ``<id>-2``, ``-3``…); an unanswered one may be replaced in place;
* a campaign (a document with ``from``/``to``) may be stopped early
  (:func:`end_now`): the only change an answered campaign allows, kept in its
  meta, never in the document; from then on kiosks are no longer sent it
  (settings.kiosk_config) and no desk asks it;
* the unit's default survey (setting ``default_survey``) is a survey that is
  not a campaign: built-in or the server's;
* which survey a desk asks today is ``protocol.survey_to_ask`` over what
  kiosk_config sends, the same rule as the kiosk's.

Templates an admin starts from are JSON files in ``assets/surveys/``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from assets import ASSETS
from sync import protocol
from sync.server.core.clock import VN_TZ, iso, utcnow
from sync.server.core.db import desks, ratings
from sync.server.core.settings import (
    custom_surveys,
    default_survey_id,
    ended_early,
    get_setting,
    set_setting,
)

TEMPLATES_DIR = ASSETS / "surveys"
META_SETTING = "survey_meta"

#: a problem's reason (protocol.SURVEY_WHY's keys) in Vietnamese: the pages and the command line
#: word it in their reader's language (English in hailong_server.po)
WHY = {
    "missing": "chưa điền",
    "object": "phải là một đối tượng JSON",
    "list": "phải là một danh sách",
    "text": "phải là một đoạn chữ không trống",
    "long": "dài quá 300 ký tự",
    "control": "có ký tự điều khiển",
    "code": "chỉ gồm 1–64 chữ cái không dấu, chữ số, '-' hoặc '_' (bắt đầu bằng chữ hoặc số)",
    "scale": "phải là số nguyên từ 2 đến 10",
    "level": "không phải một mức của thang",
    "levels": "phải là các mức của thang, mỗi mức một lần",
    "empty": "chọn ít nhất một mức",
    "unknown": "trường không có trong định nghĩa khảo sát",
    "duplicate": "trùng mã",
    "headline": "'level' là mã của câu hỏi chính",
    "too_many_questions": "nhiều nhất 10 câu hỏi",
    "too_many_reasons": "nhiều nhất 20 lý do",
    "too_many_places": "nhiều nhất 200 mục",
    "date": "phải là một ngày YYYY-MM-DD",
    "order": "ngày kết thúc trước ngày bắt đầu",
    "pair": "ngày bắt đầu và ngày kết thúc đi cùng nhau",
    "builtin": "là mã của một khảo sát có sẵn",
    "reserved": "là một từ các trang dùng (new): chọn mã khác",
}
#: ids the pages' addresses take for themselves (/admin/surveys/new)
RESERVED_IDS = frozenset({"new", "default"})


class SurveyError(ValueError):
    """A survey change the rules refuse. ``problems``: [(field path, why key)] of the document
    (empty when the refusal is not about one field); the message is the Vietnamese ``template``
    with ``kw``, worded in the reader's language by :meth:`say`."""

    def __init__(self, template: str, problems: list[tuple[str, str]] | None = None, **kw):
        self.template, self.problems, self.kw = template, list(problems or ()), kw
        super().__init__(self.say())

    def say(self, _=None) -> str:
        _ = _ or (lambda text, **kw: text.format(**kw) if kw else text)
        if self.problems:
            path, why = self.problems[0]
            return _("{field}: {why}", field=path, why=_(WHY.get(why, why)))
        return _(self.template, **self.kw)


#: the refusals in English as the command line and admin_ops have always said them
_ENGLISH = {
    "Khảo sát {id} đã có với nội dung khác: hãy đặt mã mới.":
        "survey {id}: already defined with other content (give the new one another id)",
    "Khảo sát {id} đã có người trả lời nên không sửa được: lưu thành bản mới (mã {new}).":
        "survey {id}: already answered, it never changes (save it as a new survey, e.g. {new})",
    "Không có khảo sát mã {id}.": "no survey {id!r}",
}


def english(exc: SurveyError) -> str:
    """A refusal in English (admin_ops.AdminError's words): ``survey: questions[2].labels.3.en: missing``."""
    if exc.problems:
        path, why = exc.problems[0]
        return f"survey: {path}: {protocol.SURVEY_WHY.get(why, 'a word the pages use (new, default)')}"
    text = _ENGLISH.get(exc.template)
    return text.format(**exc.kw) if text else exc.say()


# --- templates --------------------------------------------------------------------------------------

def template_names() -> list[str]:
    """The templates in assets/surveys/, by name (the file's stem)."""
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.json"))


def template(name: str) -> dict | None:
    """A template's document (None: no such template)."""
    if not isinstance(name, str) or name not in template_names():
        return None
    return protocol.nfc(json.loads((TEMPLATES_DIR / f"{name}.json").read_text("utf-8")))


# --- reading ----------------------------------------------------------------------------------------

def today_vn() -> date:
    return utcnow().astimezone(VN_TZ).date()


def meta(conn: Connection) -> dict[str, dict]:
    held = get_setting(conn, META_SETTING, {}) or {}
    return {k: v for k, v in held.items() if isinstance(k, str) and isinstance(v, dict)} \
        if isinstance(held, dict) else {}


def answered(conn: Connection, sid: str) -> int:
    """How many ratings the server holds of survey ``sid`` (counted in ``ratings`` itself: exact)."""
    return conn.execute(select(func.count()).select_from(ratings).where(ratings.c.survey == sid)).scalar() or 0


def is_answered(conn: Connection, sid: str) -> bool:
    """Whether any rating answered survey ``sid``: the rule that a survey never changes."""
    return conn.execute(select(ratings.c.id).where(ratings.c.survey == sid).limit(1)).first() is not None


def answered_counts(conn: Connection) -> dict[str, int]:
    """survey id → ratings held, from the month roll-up (one small table, whatever the ratings'
    number; a batch that has not been folded yet shows a moment later)."""
    from sync.server.core.rollup import rollup_month
    return {sid: int(n or 0) for sid, n in conn.execute(
        select(rollup_month.c.survey, func.sum(rollup_month.c.total)).group_by(rollup_month.c.survey)).all()}


def find(conn: Connection, sid: str) -> dict | None:
    """The document of survey ``sid``: built-in or the server's (None: unknown)."""
    if not isinstance(sid, str):
        return None
    return protocol.BUILTIN_SURVEYS.get(sid) or custom_surveys(conn).get(sid)


def last_day(doc: dict, info: dict | None) -> str | None:
    """The last day a campaign runs: its ``to``, or the day it was stopped early."""
    ended = (info or {}).get("ended_on")
    end = doc.get("to")
    if isinstance(ended, str) and (not isinstance(end, str) or ended < end):
        return ended
    return end if isinstance(end, str) else None


def state(doc: dict, info: dict | None, today: date, default_id: str) -> str:
    """``default``, ``survey`` (asked only as a default), or a campaign's ``planned`` / ``running`` /
    ``ended`` / ``stopped`` (ended early)."""
    if not protocol.is_campaign(doc):
        return "default" if doc.get("id") == default_id else "survey"
    if (info or {}).get("ended_on"):
        return "stopped"
    day = today.isoformat()
    if isinstance(doc.get("to"), str) and doc["to"] < day:
        return "ended"
    if isinstance(doc.get("from"), str) and doc["from"] > day:
        return "planned"
    return "running"


STATE_ORDER = {"default": 0, "running": 1, "planned": 2, "survey": 3, "stopped": 4, "ended": 5}


@dataclass
class SurveyInfo:
    id: str
    doc: dict
    builtin: bool
    state: str
    answered: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def campaign(self) -> bool:
        return protocol.is_campaign(self.doc)

    @property
    def first_day(self) -> str | None:
        return self.doc.get("from")

    @property
    def last_day(self) -> str | None:
        return last_day(self.doc, self.meta)

    def as_json(self) -> dict:
        return {"id": self.id, "title": self.doc.get("title"), "by": self.doc.get("by"),
                "builtin": self.builtin, "campaign": self.campaign, "state": self.state,
                "from": self.first_day, "to": self.doc.get("to"), "ended_on": self.meta.get("ended_on"),
                "units": self.doc.get("units") or [], "desks": self.doc.get("desks") or [],
                "questions": len(self.doc.get("questions") or ()), "answered": self.answered,
                "created_at": self.meta.get("created_at"), "created_by": self.meta.get("created_by"),
                "based_on": self.meta.get("based_on")}


def list_surveys(conn: Connection, today: date | None = None) -> list[SurveyInfo]:
    """Every survey: the default first, then running, planned, other, stopped and ended campaigns."""
    today = today or today_vn()
    default_id = default_survey_id(conn)
    counts = answered_counts(conn)
    infos = meta(conn)
    out = [SurveyInfo(sid, doc, True, state(doc, None, today, default_id), counts.get(sid, 0))
           for sid, doc in protocol.BUILTIN_SURVEYS.items()]
    out += [SurveyInfo(sid, doc, False, state(doc, infos.get(sid), today, default_id), counts.get(sid, 0),
                       infos.get(sid, {}))
            for sid, doc in custom_surveys(conn).items()]
    out.sort(key=lambda s: s.id)
    out.sort(key=lambda s: s.first_day if isinstance(s.first_day, str) else "", reverse=True)
    out.sort(key=lambda s: (STATE_ORDER[s.state], s.builtin))
    return out


def info(conn: Connection, sid: str, today: date | None = None) -> SurveyInfo | None:
    return next((s for s in list_surveys(conn, today) if s.id == sid), None)


def desks_today(conn: Connection, today: date | None = None) -> list[dict]:
    """Which survey each desk of the roster asks today: [{desk, name, unit, survey}] (the kiosk's rule)."""
    today = today or today_vn()
    default_id = default_survey_id(conn)
    stopped = ended_early(conn)
    sent = [d for sid, d in custom_surveys(conn).items() if sid not in stopped]
    rows = conn.execute(select(desks.c.id, desks.c.name, desks.c.unit_code).order_by(desks.c.unit_code,
                                                                                      desks.c.id)).all()
    out = []
    for desk_id, name, unit in rows:
        asked = protocol.survey_to_ask(sent, default_id, unit, desk_id, today)
        out.append({"desk": desk_id, "name": name, "unit": unit, "survey": (asked or {}).get("id", default_id)})
    return out


def next_id(conn: Connection, sid: str) -> str:
    """A free id for a copy of ``sid``: ``<id>-2``, ``-3``… (``hl3-2`` for a copy of the built-in)."""
    held = set(custom_surveys(conn)) | set(protocol.BUILTIN_SURVEYS) | set(get_setting(conn, "surveys", {}) or {})
    base = re.sub(r"-[0-9]{1,3}$", "", sid)[:58] or "khao-sat"
    n = 2
    while f"{base}-{n}" in held:
        n += 1
    return f"{base}-{n}"


# --- writing ----------------------------------------------------------------------------------------

def check(doc) -> dict:
    """The document, strictly checked and NFC; SurveyError naming every problem's field."""
    if not isinstance(doc, dict):
        raise SurveyError("Khảo sát phải là một đối tượng JSON.", [("survey", "object")])
    try:
        normal = protocol.check_survey(doc, strict=True)
    except protocol.RecordError:
        problems = protocol.survey_problems(protocol.nfc(doc) if protocol._depth_ok(doc) else {})
        raise SurveyError("Khảo sát chưa hợp lệ.", problems or [("survey", "object")]) from None
    if normal["id"] in RESERVED_IDS:
        raise SurveyError("Khảo sát chưa hợp lệ.", [("id", "reserved")])
    return normal


def add(conn: Connection, doc, by: str | None = None, based_on: str | None = None,
        replace: bool = False, make_default: bool = False) -> str:
    """Add survey ``doc`` (strictly checked); returns its id.

    The same id with the same content: nothing changes. With other content:
    refused, unless ``replace`` and no rating answered it yet (then replaced in
    place). A built-in id is refused.
    """
    doc = check(doc)
    sid = doc["id"]
    held = get_setting(conn, "surveys", {}) or {}
    if not isinstance(held, dict):
        held = {d.get("id"): d for d in held if isinstance(d, dict)} if isinstance(held, list) else {}
    if sid in held and protocol.canonical_json(held[sid]) == protocol.canonical_json(doc):
        if make_default:
            set_default(conn, sid)
        return sid
    if sid in held:
        if not replace:
            raise SurveyError("Khảo sát {id} đã có với nội dung khác: hãy đặt mã mới.", id=sid)
        if is_answered(conn, sid):
            raise SurveyError("Khảo sát {id} đã có người trả lời nên không sửa được: lưu thành bản mới (mã {new}).",
                              id=sid, new=next_id(conn, sid))
    held_before = set(held)
    held[sid] = doc
    set_setting(conn, "surveys", held)
    infos = meta(conn)
    now = iso(utcnow())
    old = infos.get(sid, {})
    infos[sid] = {**old, "created_at": old.get("created_at") or now, "created_by": old.get("created_by") or by,
                  "based_on": based_on or old.get("based_on")}
    if sid in held_before:
        infos[sid].update({"changed_at": now, "changed_by": by})
    set_setting(conn, META_SETTING, infos)
    if make_default:
        set_default(conn, sid)
    return sid


def set_default(conn: Connection, sid: str) -> str:
    """Make ``sid`` the unit's default survey (a built-in one or the server's, never a campaign)."""
    doc = find(conn, sid)
    if doc is None:
        raise SurveyError("Không có khảo sát mã {id}.", id=str(sid)[:64])
    if protocol.is_campaign(doc):
        raise SurveyError("Khảo sát {id} là một đợt khảo sát có ngày chạy: không dùng làm khảo sát mặc định "
                          "được.", id=sid)
    set_setting(conn, "default_survey", sid)
    return sid


def end_now(conn: Connection, sid: str, by: str | None = None) -> str:
    """Stop campaign ``sid`` now (kept in its meta; the document never changes); returns the day."""
    doc = custom_surveys(conn).get(sid) if isinstance(sid, str) else None
    if doc is None:
        raise SurveyError("Không có khảo sát mã {id}.", id=str(sid)[:64])
    if not protocol.is_campaign(doc):
        raise SurveyError("Khảo sát {id} không phải một đợt khảo sát có ngày chạy: không có gì để kết thúc.",
                          id=sid)
    infos = meta(conn)
    mine = infos.get(sid, {})
    today = today_vn()
    st = state(doc, mine, today, "")
    if st in ("stopped", "ended"):
        raise SurveyError("Đợt khảo sát {id} đã kết thúc ({day}).", id=sid,
                          day=mine.get("ended_on") or doc.get("to"))
    mine.update({"ended_on": today.isoformat(), "ended_at": iso(utcnow()), "ended_by": by})
    infos[sid] = mine
    set_setting(conn, META_SETTING, infos)
    return today.isoformat()
