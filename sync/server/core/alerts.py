"""Alerts: raised where their cause arrives, one per cause, kept until an admin resolves them.

Where each kind is raised (never when a page is opened):

* ``gap``, ``chain``, ``signature``, ``conflict``, ``clock_skew``,
  ``unknown_officer`` / ``unknown_desk`` (not in the roster: stored, counted
  under its own id) and ``duplicate_receipt`` (a receipt rated twice in the
  town: stored, not counted), ``clock_jump`` (a created_at that runs
  backwards from the previous seq's, before 2020 or after tomorrow: stored,
  counted, flagged) — by ingest, in the transaction that stores the
  batch (core/ingest.py);
* ``nhung_nhieu`` — a rating that names harassment, and ``low_rate`` — an
  officer whose satisfaction rate in the current or the previous month is
  under the threshold with enough valid ratings to mean something: by
  :func:`after_fold`, which ingest calls right after folding the batch into
  the roll-up, in the same transaction;
* ``kiosk_reset`` — a kiosk whose heartbeat reports a chain behind what the
  server holds of it (kiosk.db lost or replaced): by the heartbeat
  (api/kiosks.py, :func:`kiosk_reset`); one open alert per lost run, however
  many heartbeats repeat it;
* ``silent`` — a kiosk not heard from for too long: by :func:`sweep_silent`,
  which a background task of every server process runs (core/tasks.py).

Grouping: alerts of one kind about one subject (an officer or a kiosk) in
one local month are ONE alert whose ``count`` says how many causes it stands
for (fifty harassment ratings of one officer in November are one alert with
count 50). ``silent`` and ``clock_skew`` are one open alert per kiosk; a gap
is one alert per missing run. The ``open_key`` column, unique and set only
while the alert is open, makes this hold across several server processes
(an insert that meets an open alert of the same key adds to it instead).

``happened_at`` is when the (first) cause happened — the rating's corrected
time, the kiosk's last contact — and ``created_at`` when the server noticed.
Thresholds live in the ``alert_rules`` setting; DEFAULT_RULES says what they are.

Cases: the server raises through core/cases.py (``raise_alerts``,
``after_fold``, ``sweep_silent`` there), which opens the case of a
case-worthy alert in the same transaction; the functions here raise
alerts only. ``case_overdue`` (subject: the case id) is raised by
core/cases.sweep_overdue.

Wording: each alert keeps its kind's parameters in ``params`` (JSON: the
officer, the kiosk, the seq range, the rate and threshold… of its first
cause). :func:`describe` words an alert from kind + params for one reader
(:class:`Words`: the language's translator, the roster's names, local
times); ``message`` holds the same words in Vietnamese with the ids, for the
admin pull and ``hailong admin alerts``. An alert raised before migration
0004 has params '{}': the pages show its message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.engine import Connection

from sync.server.core import db, rollup
from sync.server.core.clock import (
    VN_TZ,
    iso,
    local_month,
    local_text,
    parse_stored,
    utcnow,
)
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.settings import get_setting
from sync.server.core.sql import LocalMonth, contains_code, dialect_insert, json_object

DEFAULT_RULES = {
    "officer_rate_below": 80.0,   # % satisfied
    "officer_min_ratings": 10,    # valid ratings in the month before judging
    "kiosk_silent_hours": 24,
}
KIND_LABELS = {
    "gap": "Thiếu số thứ tự (mất dữ liệu?)",
    "chain": "Chuỗi băm bị đứt",
    "signature": "Chữ ký sai",
    "conflict": "Trùng mã, khác nội dung",
    "clock_skew": "Đồng hồ ki-ốt lệch",
    "nhung_nhieu": "Phản ánh nhũng nhiễu",
    "low_rate": "Tỷ lệ hài lòng thấp",
    "silent": "Ki-ốt im lặng quá lâu",
    "unknown_officer": "Cán bộ không có trong danh mục",
    "unknown_desk": "Quầy không có trong danh mục",
    "duplicate_receipt": "Phiếu hẹn được đánh giá lần nữa",
    "clock_jump": "Đồng hồ ki-ốt nhảy (giờ lùi, trước 2020 hoặc sau ngày mai)",
    "kiosk_reset": "Ki-ốt mất hoặc bị thay kiosk.db",
    "case_overdue": "Vụ việc quá hạn xử lý",
}
#: How alerts of each kind are grouped into one: per subject and month, or one open per subject.
MONTHLY = frozenset({"chain", "signature", "conflict", "nhung_nhieu", "low_rate",
                     "unknown_officer", "unknown_desk", "duplicate_receipt", "clock_jump"})
ONE_OPEN = frozenset({"clock_skew", "silent", "case_overdue"})
#: kinds whose repeated causes (every heartbeat of a reset kiosk) do not add to the count
NOT_COUNTED_AGAIN = ONE_OPEN | {"kiosk_reset"}


def rules(conn: Connection) -> dict:
    return {**DEFAULT_RULES, **(get_setting(conn, "alert_rules", {}) or {})}


@dataclass
class Alert:
    """One cause of an alert, before it is grouped and stored."""
    kind: str
    message: str
    happened_at: str                 # RFC 3339: when the cause happened
    subject: str | None = None       # officer id or kiosk id the alert is about
    kiosk_id: str | None = None
    rating_id: str | None = None
    seq_from: int | None = None
    seq_to: int | None = None
    params: dict = field(default_factory=dict)   # what describe() words the alert from

    @property
    def month(self) -> str | None:
        at = parse_stored(self.happened_at)
        return local_month(at) if at else None

    @property
    def open_key(self) -> str:
        if self.kind in MONTHLY:
            return f"{self.kind}|{self.subject}|{self.month}"
        if self.kind in ONE_OPEN:
            return f"{self.kind}|{self.subject}"
        return f"{self.kind}|{self.subject}|{self.seq_from}-{self.seq_to}"


def raise_alerts(conn: Connection, causes: list[Alert], now: datetime | None = None) -> int:
    """Store causes as alerts inside the caller's transaction, grouped by open_key.

    A cause whose open alert exists adds to its count (and moves ``last_at``);
    the first cause of a group makes the alert. Returns how many causes.
    """
    if not causes:
        return 0
    now_s = iso(now or utcnow())
    groups: dict[str, list[Alert]] = {}
    for cause in causes:
        groups.setdefault(cause.open_key, []).append(cause)
    insert = dialect_insert(conn)
    a = db.alerts
    for key, same in groups.items():
        first = same[0]
        last_at = max(c.happened_at for c in same)
        params = first.params or _params_of(conn, first)
        stmt = insert(a).values(
            kind=first.kind, message=first.message, created_at=now_s, subject=first.subject,
            month=first.month, count=len(same), happened_at=min(c.happened_at for c in same),
            last_at=last_at, open_key=key, kiosk_id=first.kiosk_id, rating_id=first.rating_id,
            seq_from=first.seq_from, seq_to=first.seq_to,
            params=json.dumps(params, ensure_ascii=False, separators=(",", ":")))
        add = len(same) if first.kind not in NOT_COUNTED_AGAIN else 0
        stmt = stmt.on_conflict_do_update(index_elements=[a.c.open_key], set_={
            "count": a.c.count + add,
            "last_at": func.max(func.coalesce(a.c.last_at, ""), last_at) if conn.dialect.name == "sqlite"
            else func.greatest(func.coalesce(a.c.last_at, ""), last_at),
        })
        conn.execute(stmt)
    return len(causes)


def kiosk_reset(kiosk_id: str, last_seq: int, last_hash: str | None, tail: dict | None, acked: int,
                reported_before: int | None, now: datetime) -> Alert | None:
    """The alert a heartbeat raises when the kiosk's chain is behind the server's ``tail``, else None.

    Behind: its last seq is lower than the last seq the server holds, or the
    same seq with another hash. The message names what the server holds and,
    from the kiosk's previous heartbeat, the seqs it had not yet sent (lost
    with its kiosk.db).
    """
    if not tail:
        return None
    held = tail["seq"]
    if last_seq > held or (last_seq == held and (last_hash is None or last_hash == tail["hash"])):
        return None
    params = {"kiosk": kiosk_id, "last_seq": last_seq, "held": held, "acked": acked,
              "replaced": last_seq >= held, "reported_before": reported_before}
    return Alert("kiosk_reset", describe("kiosk_reset", params), iso(now), subject=kiosk_id, kiosk_id=kiosk_id,
                 seq_from=1, seq_to=held, params=params)


def resolve(conn: Connection, where, note: str, by: str | None = None, now: datetime | None = None) -> int:
    """Close the open alerts matching ``where``; returns how many were closed."""
    a = db.alerts
    return conn.execute(a.update().where(where, a.c.resolved_at.is_(None)).values(
        **_closed(note, by, now))).rowcount


def _closed(note: str, by: str | None, now: datetime | None) -> dict:
    """What closing an alert writes (resolve, heard_from)."""
    return {"resolved_at": iso(now or utcnow()), "acked_by": by, "note": note, "open_key": None}


_OFFICER_NAMES = select(db.officers.c.id, db.officers.c.name).where(db.officers.c.id.in_(bindparam("ids", expanding=True)))


def _officer_names(conn: Connection, ids) -> dict[str, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return dict(conn.execute(_OFFICER_NAMES, {"ids": ids}).all())


# --- what a fold brings: harassment and low rates -----------------------------------------

#: rollup_cursor row of the last rating the rating rules have looked at
CURSOR = "alerts"


def _alerts_cursor(conn: Connection) -> int:
    cur = conn.execute(rollup.CURSOR_PK_LOCKED, {"name": CURSOR}).scalar()
    if cur is None:
        # town.db of version 0.1 scanned harassment when the alerts page was opened
        cur = rollup.made_cursor(conn, CURSOR, int(get_setting(conn, "alerts_scanned_pk", 0) or 0))
    return cur


def after_fold(conn: Connection, scale: int | None = None, now: datetime | None = None, rows: list[dict] | None = None) -> int:
    """Raise the rating rules' alerts for the ratings folded since the last call (without their
    cases: the server calls core/cases.after_fold). Returns how many causes."""
    now = now or utcnow()
    return raise_alerts(conn, rating_causes(conn, scale, now, rows), now)


def rating_causes(conn: Connection, scale: int | None = None, now: datetime | None = None,
                  rows: list[dict] | None = None) -> list[Alert]:
    """The rating rules' causes among the ratings folded since the last call; moves the cursor.

    Runs inside the caller's write transaction, right after
    ``rollup.fold_in``: the roll-up already holds the new ratings, so an
    officer's month is judged on every rating of it.

    ``rows``: the ratings ingest just stored (town.db rows). When they are
    exactly what was folded since the last call, a rule none of them can
    trigger (no harassment reason; no rating in a judged month) skips its
    query: a backlog of last month's ratings costs no look-up per batch.
    """
    now = now or utcnow()
    r = db.ratings
    start = _alerts_cursor(conn)
    top = conn.execute(rollup.CURSOR_PK, {"name": "ratings"}).scalar() or 0
    if top <= start:
        return []
    known = rows is not None and top - start == len(rows)
    causes: list[Alert] = []
    if not known or any('"nhung_nhieu"' in row["reasons"] for row in rows):
        causes += _harassment(conn, and_(r.c.pk > start, r.c.pk <= top))
    if not known or not {_local_month_of(row["corrected_at"]) for row in rows}.isdisjoint(judged_months(now)):
        causes += _low_rates(conn, start, top, rules(conn), scale, now)
    conn.execute(rollup.CURSOR_MOVED, {"b_name": CURSOR, "pk": top})
    return causes


def _harassment(conn: Connection, new) -> list[Alert]:
    r = db.ratings
    rows = conn.execute(select(r.c.id, r.c.kiosk_id, r.c.seq, r.c.officer_id, r.c.desk_id, r.c.corrected_at,
                               r.c.comment)
                        .where(new, contains_code(r.c.reasons, "nhung_nhieu")).order_by(r.c.pk)).all()
    words = Words(officers={o: (n, None) for o, n in _officer_names(
        conn, (row.officer_id for row in rows)).items()})
    out = []
    for row in rows:
        params = {"officer": row.officer_id, "desk": row.desk_id, "kiosk": row.kiosk_id, "seq": row.seq,
                  "at": row.corrected_at, "comment": row.comment}
        out.append(Alert("nhung_nhieu", describe("nhung_nhieu", params, words), row.corrected_at,
                         subject=row.officer_id, kiosk_id=row.kiosk_id, rating_id=row.id, seq_from=row.seq,
                         seq_to=row.seq, params=params))
    return out


def judged_months(now: datetime) -> tuple[str, str]:
    """The months the low-rate rule judges: this one and the one before (local)."""
    today = now.astimezone(VN_TZ).date()
    prev = today.replace(day=1) - timedelta(days=1)
    return prev.strftime("%Y-%m"), today.strftime("%Y-%m")


def _local_month_of(stored: str) -> str | None:
    """YYYY-MM of a stored rating time on the local calendar (fast for the kiosks' +07:00)."""
    if stored.endswith("+07:00"):
        return stored[:7]
    at = parse_stored(stored)
    return local_month(at) if at else None


def _touched_months():
    r = db.ratings
    month = LocalMonth(r.c.corrected_at)
    return (select(month.label("month"), r.c.officer_id, func.max(r.c.corrected_at).label("last"))
            .where(r.c.pk > bindparam("lo"), r.c.pk <= bindparam("hi"),
                   month.in_(bindparam("months", expanding=True))).group_by(month, r.c.officer_id))


#: built once (ingest runs them for every batch of ratings of this month or the last)
_TOUCHED = _touched_months()
_RAISED = select(db.alerts.c.month, db.alerts.c.subject).where(
    db.alerts.c.kind == "low_rate", db.alerts.c.subject.in_(bindparam("officers", expanding=True)),
    db.alerts.c.month.in_(bindparam("months", expanding=True)))


def _low_rates(conn: Connection, start: int, top: int, rule: dict, scale: int, now: datetime) -> list[Alert]:
    """Low-rate causes of the officers' judged months that ratings ``start < pk <= top`` touched."""
    months = judged_months(now)
    touched = conn.execute(_TOUCHED, {"lo": start, "hi": top, "months": list(months)}).all()
    if not touched:
        return []
    pairs = [(row.month, row.officer_id) for row in touched]
    figures = month_figures(conn, pairs)
    raised = {(row.month, row.subject) for row in conn.execute(_RAISED, {
        "officers": sorted({o for _m, o in pairs}), "months": sorted({m for m, _o in pairs})})}
    words = Words(officers={o: (n, None) for o, n in _officer_names(conn, (o for _m, o in pairs)).items()})
    out = []
    for row in touched:
        fig = figures.get((row.month, row.officer_id))
        if fig is None or (row.month, row.officer_id) in raised:
            continue
        low = low_rate(fig, rule)
        if low is None:
            continue
        rate, satisfied, valid = low
        params = {"officer": row.officer_id, "month": row.month, "rate": rate, "satisfied": satisfied,
                  "valid": valid, "threshold": rule["officer_rate_below"]}
        out.append(Alert("low_rate", describe("low_rate", params, words), row.last, subject=row.officer_id,
                         params=params))
    return out


def month_figures(conn: Connection, pairs) -> dict[tuple[str, str], tuple[int, int]]:
    """(month, officer) → (valid, satisfied) ratings from the roll-up, for the pairs asked."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    wanted = set(pairs)
    return {(row.at, row.officer_id): (int(row.valid or 0), int(row.satisfied or 0)) for row in conn.execute(
        _MONTH_FIGURES, {"months": sorted({m for m, _o in pairs}), "officers": sorted({o for _m, o in pairs})})
        if (row.at, row.officer_id) in wanted}


def _month_figures():
    t = rollup.rollup_month
    # months × officers, then the pairs asked kept: the same rows as a (month, officer) IN, and a
    # statement built once (ingest runs it for every batch of this month's ratings)
    return (select(t.c.at, t.c.officer_id, func.sum(t.c.total - t.c.misuse).label("valid"),
                   func.sum(t.c.satisfied).label("satisfied"))   # each rating by its own survey
            .where(t.c.at.in_(bindparam("months", expanding=True)),
                   t.c.officer_id.in_(bindparam("officers", expanding=True)))
            .group_by(t.c.at, t.c.officer_id))


_MONTH_FIGURES = _month_figures()


def low_rate(figures: tuple[int, int], rule: dict) -> tuple[float, int, int] | None:
    """(rate, satisfied, valid) when a month's (valid, satisfied) is under the threshold with enough
    valid ratings to judge; None otherwise. The one low-rate rule: alerts and case reopening."""
    valid, satisfied = figures
    if valid < rule["officer_min_ratings"] or valid <= 0:
        return None
    rate = round(satisfied * 100 / valid, 1)
    return (rate, satisfied, valid) if rate < rule["officer_rate_below"] else None


# --- kiosks that fall silent -------------------------------------------------------------

def sweep_silent(conn: Connection, now: datetime | None = None) -> int:
    """Raise ``silent`` for each kiosk not heard from for longer than the rule allows.

    The hours count from the kiosk's last contact (a batch or a heartbeat) or,
    for a kiosk that never made contact, from its enrolment: a kiosk enrolled
    an hour ago is not silent yet (the kiosks page says "Chưa kết nối lần nào"),
    one enrolled two days ago that never called is. Safe to run from every server
    process at once: an open alert of the same kiosk absorbs the second insert.
    Returns how many kiosks it newly found silent.
    """
    now = now or utcnow()
    return raise_alerts(conn, silent_causes(conn, now), now)


def silent_causes(conn: Connection, now: datetime | None = None) -> list[Alert]:
    """The ``silent`` causes of :func:`sweep_silent` (core/cases.sweep_silent opens their cases)."""
    now = now or utcnow()
    hours = float(rules(conn)["kiosk_silent_hours"])
    k, a = db.kiosks, db.alerts
    already = set(conn.execute(select(a.c.subject).where(a.c.kind == "silent", a.c.open_key.is_not(None))).scalars())
    causes = []
    # the phone page's chains (WEB-…, core/web_chain.py) are no machine that can fall silent
    for kiosk in conn.execute(select(k.c.id, k.c.last_seen, k.c.enrolled_at)
                              .where(k.c.revoked.is_(False), k.c.id.not_like("WEB-%"))):
        seen_at = parse_stored(kiosk.last_seen) or parse_stored(kiosk.enrolled_at)
        if seen_at is None or now - seen_at < timedelta(hours=hours) or kiosk.id in already:
            continue   # heard from lately, or already alerted (a round that finds nothing writes nothing)
        if parse_stored(kiosk.last_seen):
            message = (f"Ki-ốt {kiosk.id} gửi dữ liệu lần cuối lúc {local_text(seen_at)}, "
                       f"đã hơn {hours:g} giờ không liên lạc")
        else:
            message = (f"Ki-ốt {kiosk.id} chưa kết nối lần nào từ khi đăng ký lúc {local_text(seen_at)} "
                       f"(đã hơn {hours:g} giờ)")
        causes.append(Alert("silent", message, iso(seen_at), subject=kiosk.id, kiosk_id=kiosk.id))
    return causes


_HEARD_FROM = db.alerts.update().where(db.alerts.c.open_key == bindparam("b_key"), db.alerts.c.resolved_at.is_(None))


def heard_from(conn: Connection, kiosk_id: str, now: datetime | None = None) -> None:
    """A kiosk made contact: its silent alert, if any, is over (every batch and heartbeat: built once)."""
    conn.execute(_HEARD_FROM, {"b_key": f"silent|{kiosk_id}", **_closed("the kiosk made contact again", None, now)})


# --- wording: an alert's kind + params in the reader's language ------------------------------

def _plain(text: str, **kw) -> str:
    return text.format(**kw) if kw else text


class Words:
    """How one reader reads alerts: a translator ``_(vietnamese, **kw)`` (web/base.translator), the
    language (numbers: 66,7 or 66.7) and the roster's names; ids stand for what it does not name."""

    def __init__(self, _=_plain, lang: str = "vi", officers: dict | None = None, desks: dict | None = None,
                 kiosks: dict | None = None):
        self._, self.lang = _, lang
        self.officers = officers or {}      # officer id -> (name, desk id)
        self.desks = desks or {}            # desk id -> name
        self.kiosks = kiosks or {}          # kiosk id -> its unit's name

    @classmethod
    def from_roster(cls, conn: Connection, _=_plain, lang: str = "vi") -> Words:
        o, d, k, u = db.officers, db.desks, db.kiosks, db.units
        return cls(_, lang,
                   officers={r.id: (r.name, r.desk_id) for r in conn.execute(select(o.c.id, o.c.name, o.c.desk_id))},
                   desks=dict(conn.execute(select(d.c.id, d.c.name)).all()),
                   kiosks=dict(conn.execute(select(k.c.id, u.c.name).select_from(
                       k.outerjoin(u, u.c.code == k.c.unit_code))).all()))

    def officer(self, officer_id) -> str:
        known = self.officers.get(officer_id)
        return known[0] if known and known[0] else str(officer_id)

    def officer_desk(self, officer_id) -> str | None:
        """The desk the roster puts the officer at, by name."""
        known = self.officers.get(officer_id)
        return self.desk(known[1]) if known and known[1] else None

    def desk(self, desk_id) -> str:
        return self.desks.get(desk_id) or str(desk_id)

    def kiosk(self, kiosk_id) -> str:
        unit = self.kiosks.get(kiosk_id)
        return f"{kiosk_id} ({unit})" if unit else str(kiosk_id)

    def time(self, value, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return local_text(value, fmt)

    def day(self, value) -> str:
        """A local date (YYYY-MM-DD) as dd/mm/yyyy."""
        y, m, d = str(value).split("-")
        return f"{d}/{m}/{y}"

    def number(self, value) -> str:
        text = f"{float(value):.1f}"
        return text.replace(".", ",") if self.lang == "vi" else text

    def threshold(self, value) -> str:
        text = f"{float(value):g}"
        return text.replace(".", ",") if self.lang == "vi" else text

    def month(self, month: str) -> str:
        y, m = str(month).split("-")
        return self._("tháng {m}/{y}", m=int(m), y=y)

    def duration(self, seconds) -> str:
        seconds = abs(float(seconds))
        if seconds < 120:
            return self._("{n} giây", n=f"{seconds:.0f}")
        if seconds < 7200:
            return self._("{n} phút", n=f"{seconds / 60:.0f}")
        if seconds < 2 * 86400:
            return self._("{n} giờ", n=f"{seconds / 3600:.0f}")
        return self._("{n} ngày", n=f"{seconds / 86400:.0f}")


#: The Vietnamese of the admin pull's ``message``: no translation, ids for names.
VIETNAMESE = Words()


def describe(kind: str, params: dict | None, words: Words = VIETNAMESE) -> str | None:
    """The alert in ``words``' language, or None when there is nothing to word it from
    (params '{}', raised before 0004; an unknown kind; params that do not fit): show ``message``."""
    if not params or not isinstance(params, dict):
        return None
    try:
        return _WORDING[kind](params, words, words._)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None


def _gap(p, w, _):
    if p["seq_from"] == p["seq_to"]:
        return _("Thiếu phiếu số {seq} của ki-ốt {kiosk} (trước phiếu số {before}): có thể đã mất dữ liệu",
                 seq=p["seq_from"], kiosk=w.kiosk(p["kiosk"]), before=p["before"])
    return _("Thiếu các phiếu số {first}–{last} ({n} phiếu) của ki-ốt {kiosk} (trước phiếu số {before}): "
             "có thể đã mất dữ liệu", first=p["seq_from"], last=p["seq_to"], n=p["seq_to"] - p["seq_from"] + 1,
             kiosk=w.kiosk(p["kiosk"]), before=p["before"])


def _chain(p, w, _):
    if p.get("first"):
        return _("Phiếu số 1 của ki-ốt {kiosk} không mở đầu chuỗi băm", kiosk=w.kiosk(p["kiosk"]))
    return _("Phiếu số {seq} của ki-ốt {kiosk} không nối tiếp phiếu số {prev}: chuỗi băm bị đứt",
             seq=p["seq"], kiosk=w.kiosk(p["kiosk"]), prev=p["seq"] - 1)


def _signature(p, w, _):
    kw = {"seq": p["seq"], "kiosk": w.kiosk(p["kiosk"])}
    if p.get("why") == "hash":
        return _("Phiếu số {seq} của ki-ốt {kiosk} bị từ chối: mã băm không khớp nội dung (có thể bị sửa)", **kw)
    if p.get("why") == "signature":
        return _("Phiếu số {seq} của ki-ốt {kiosk} bị từ chối: chữ ký không đúng với khóa của ki-ốt "
                 "(có thể bị giả mạo)", **kw)
    return _("Phiếu số {seq} của ki-ốt {kiosk} bị từ chối: {detail}", detail=p.get("detail", ""), **kw)


def _conflict(p, w, _):
    kw = {"seq": p["seq"], "kiosk": w.kiosk(p["kiosk"])}
    if p.get("case") == "seq":
        return _("Ki-ốt {kiosk} gửi một phiếu khác mang số {seq} đã có (bị từ chối)", **kw)
    return _("Phiếu số {seq} của ki-ốt {kiosk} được gửi lại với nội dung khác phiếu đã lưu (bị từ chối)", **kw)


def _clock_skew(p, w, _):
    kw = {"kiosk": w.kiosk(p["kiosk"]), "amount": w.duration(p["seconds"]), "threshold": w.duration(p["threshold"])}
    if p.get("ahead"):
        return _("Đồng hồ ki-ốt {kiosk} nhanh {amount} so với máy chủ (ngưỡng {threshold}): "
                 "báo cáo dùng giờ đã hiệu chỉnh", **kw)
    return _("Đồng hồ ki-ốt {kiosk} chậm {amount} so với máy chủ (ngưỡng {threshold}): "
             "báo cáo dùng giờ đã hiệu chỉnh", **kw)


def _clock_jump(p, w, _):
    why = []
    found = p.get("found") or []
    if "clock_back" in found:
        why.append(_("lùi so với phiếu số {prev} ({at})", prev=p["seq"] - 1,
                     at=w.time(p.get("prev_created"), "%d/%m/%Y %H:%M:%S")))
    if "clock_before_2020" in found:
        why.append(_("trước năm 2020"))
    if "clock_future" in found:
        why.append(_("sau ngày mai của máy chủ"))
    return _("Đồng hồ ki-ốt {kiosk} nhảy: phiếu số {seq} ghi lúc {created}, {why}. Đã lưu và tính; "
             "báo cáo dùng giờ đã hiệu chỉnh {corrected}", kiosk=w.kiosk(p["kiosk"]), seq=p["seq"],
             created=w.time(p["created"], "%d/%m/%Y %H:%M:%S"), why="; ".join(why),
             corrected=w.time(p["corrected"]))


def _nhung_nhieu(p, w, _):
    text = _("Phản ánh nhũng nhiễu đối với {officer} ({desk}) lúc {at}", officer=w.officer(p["officer"]),
             desk=w.desk(p["desk"]), at=w.time(p["at"]))
    return f"{text}: “{p['comment']}”" if p.get("comment") else text


def _low_rate(p, w, _):
    return _("{officer}: tỷ lệ hài lòng {rate}% ({satisfied}/{valid}) dưới ngưỡng {threshold}% trong {month}",
             officer=w.officer(p["officer"]), rate=w.number(p["rate"]), satisfied=p["satisfied"],
             valid=p["valid"], threshold=w.threshold(p["threshold"]), month=w.month(p["month"]))


def _silent(p, w, _):
    kw = {"kiosk": w.kiosk(p["kiosk"]), "at": w.time(p["since"]), "hours": w.threshold(p["hours"])}
    if p.get("contact") == "enrolled":
        return _("Ki-ốt {kiosk} chưa kết nối lần nào từ khi đăng ký lúc {at} (đã hơn {hours} giờ)", **kw)
    return _("Ki-ốt {kiosk} gửi dữ liệu lần cuối lúc {at}, đã hơn {hours} giờ không liên lạc", **kw)


def _unknown(what_vi: str):
    def word(p, w, _):
        kw = {"code": p["code"], "seq": p["seq"], "kiosk": w.kiosk(p["kiosk"])}
        if what_vi == "officer":
            return _("Mã cán bộ “{code}” không có trong danh mục (phiếu số {seq} của ki-ốt {kiosk}): "
                     "đã lưu và tính dưới mã này", **kw)
        return _("Mã quầy “{code}” không có trong danh mục (phiếu số {seq} của ki-ốt {kiosk}): "
                 "đã lưu và tính dưới mã này", **kw)
    return word


def _duplicate_receipt(p, w, _):
    kw = {"receipt": p["receipt"], "seq": p["seq"], "kiosk": w.kiosk(p["kiosk"])}
    if p.get("dossier"):
        return _("Giấy hẹn {receipt} (hồ sơ {dossier}) đã được đánh giá trước đó; phiếu số {seq} của ki-ốt "
                 "{kiosk} đánh giá lại được lưu, không tính", dossier=p["dossier"], **kw)
    return _("Giấy hẹn {receipt} đã được đánh giá trước đó; phiếu số {seq} của ki-ốt {kiosk} đánh giá lại "
             "được lưu, không tính", **kw)


def _kiosk_reset(p, w, _):
    kiosk, held = w.kiosk(p["kiosk"]), p["held"]
    if p.get("replaced"):
        text = _("Ki-ốt {kiosk} báo phiếu số {held} khác với phiếu số {held} máy chủ đang giữ: "
                 "kiosk.db đã bị thay", kiosk=kiosk, held=held)
    else:
        text = _("Ki-ốt {kiosk} báo phiếu cuối là số {last} nhưng máy chủ đã giữ đến phiếu số {held}: "
                 "kiosk.db bị mất hoặc bị thay", kiosk=kiosk, last=p["last_seq"], held=held)
    before = p.get("reported_before")
    if before and before > held + 1:
        text += _("; các phiếu số {first}–{last} ki-ốt đã báo trước đây nhưng chưa gửi đã bị mất",
                  first=held + 1, last=before)
    elif before and before > held:
        text += _("; phiếu số {seq} ki-ốt đã báo trước đây nhưng chưa gửi đã bị mất", seq=before)
    return text + _(". Khôi phục bằng lệnh `hailong kiosk init --recover` trên ki-ốt")


def _case_overdue(p, w, _):
    if p.get("officer_id"):
        return _("Vụ việc số {case} về {officer} đã quá hạn xử lý (hạn {due})", case=p["case_id"],
                 officer=w.officer(p["officer_id"]), due=w.day(p["due_date"]))
    return _("Vụ việc số {case} về ki-ốt {kiosk} đã quá hạn xử lý (hạn {due})", case=p["case_id"],
             kiosk=w.kiosk(p["kiosk_id"]), due=w.day(p["due_date"]))


_WORDING = {
    "case_overdue": _case_overdue,
    "gap": _gap, "chain": _chain, "signature": _signature, "conflict": _conflict,
    "clock_skew": _clock_skew, "clock_jump": _clock_jump, "nhung_nhieu": _nhung_nhieu,
    "low_rate": _low_rate, "silent": _silent, "unknown_officer": _unknown("officer"),
    "unknown_desk": _unknown("desk"), "duplicate_receipt": _duplicate_receipt, "kiosk_reset": _kiosk_reset,
}


def _params_of(conn: Connection, cause: Alert) -> dict:
    """Params of a cause raised without them: ``silent`` (sweep_silent) from the kiosk and the rule."""
    if cause.kind == "silent" and cause.kiosk_id:
        seen = conn.execute(select(db.kiosks.c.last_seen).where(db.kiosks.c.id == cause.kiosk_id)).scalar()
        return {"kiosk": cause.kiosk_id, "since": cause.happened_at,
                "hours": float(rules(conn)["kiosk_silent_hours"]),
                "contact": "sent" if parse_stored(seen) else "enrolled"}
    return {}


# --- the alerts page: alerts grouped by cause --------------------------------------------------

#: What the page groups by: one row per kind × subject (officer or kiosk) × local month.
def _group_columns():
    a = db.alerts
    return (a.c.kind, func.coalesce(a.c.subject, "").label("subject"), func.coalesce(a.c.month, "").label("month"))


def group_key(kind: str, subject: str | None, month: str | None, upto: int | None = None) -> str:
    """The page's name of a group (a checkbox's value): [upto|]kind|month|subject (the subject, last,
    may hold "|"); ``upto``: the group's highest alert id when the page was read."""
    key = f"{kind}|{month or ''}|{subject or ''}"
    return f"{upto}|{key}" if upto is not None else key


def parse_group_key(text: str) -> tuple[str, str, str, int | None] | None:
    """(kind, subject, month, upto or None) of a group_key, None when it is not one."""
    text = str(text)
    if len(text) > 320:
        return None
    upto = None
    head, sep, rest = text.partition("|")
    if sep and head.isascii() and head.isdigit():
        if len(head) > 18:
            return None
        upto, text = int(head), rest
    parts = text.split("|", 2)
    if len(parts) != 3 or parts[0] not in KIND_LABELS:
        return None
    kind, month, subject = parts
    return kind, subject, month, upto


def _group_where(kind: str, subject: str, month: str):
    a = db.alerts
    return and_(a.c.kind == kind, func.coalesce(a.c.subject, "") == subject, func.coalesce(a.c.month, "") == month)


def _filters(state: str, kind: str | None, subject: str | None, month: str | None,
             scope: Scope = EVERY_UNIT) -> list:
    a = db.alerts
    where = [scope.alerts(a)]
    if state == "open":
        where.append(a.c.resolved_at.is_(None))
    elif state == "resolved":
        where.append(a.c.resolved_at.is_not(None))
    if kind:
        where.append(a.c.kind == kind)
    if subject is not None:
        where.append(func.coalesce(a.c.subject, "") == subject)
    if month:
        where.append(func.coalesce(a.c.month, "") == month)
    return where


def alert_groups(conn: Connection, state: str = "open", kind: str | None = None, subject: str | None = None,
                 month: str | None = None, page: int = 1, per_page: int = 25,
                 scope: Scope = EVERY_UNIT) -> tuple[int, list[dict]]:
    """(how many groups, the groups of one page) of the alerts matching the filters, latest first.

    A group: kind, subject, month, ``alerts`` (rows), ``causes`` (their counts summed), ``first`` /
    ``last`` (when its causes happened), ``open`` (rows still open), ``upto`` (its highest alert id:
    acknowledging the group closes no alert raised after the page was read), and ``latest``, its
    newest alert row (kiosk, params, message, who resolved it and the note).
    """
    a = db.alerts
    kind_c, subject_c, month_c = _group_columns()
    where = _filters(state, kind, subject, month, scope)
    last = func.max(func.coalesce(a.c.last_at, a.c.happened_at, a.c.created_at))
    grouped = (select(kind_c, subject_c, month_c, func.count().label("alerts"),
                      func.sum(func.coalesce(a.c.count, 1)).label("causes"),
                      func.min(func.coalesce(a.c.happened_at, a.c.created_at)).label("first"),
                      last.label("last"),
                      func.sum(case((a.c.resolved_at.is_(None), 1), else_=0)).label("open"),
                      func.max(a.c.id).label("upto"))
               .where(*where).group_by(kind_c, subject_c, month_c))
    total = conn.execute(select(func.count()).select_from(grouped.subquery())).scalar() or 0
    rows = conn.execute(grouped.order_by(last.desc(), func.max(a.c.id).desc())
                        .limit(per_page).offset((page - 1) * per_page)).mappings().all()
    out = [dict(r) for r in rows]
    if out:
        latest = {r.id: r for r in conn.execute(select(a).where(a.c.id.in_([g["upto"] for g in out]))).mappings()}
        for g in out:
            row = dict(latest[g["upto"]])
            row["params"] = json_object(row.get("params"))
            g["latest"] = row
            g["key"] = group_key(g["kind"], g["subject"], g["month"], g["upto"])
    return total, out


def count_alerts(conn: Connection, state: str = "open", kind: str | None = None, subject: str | None = None,
                 month: str | None = None, scope: Scope = EVERY_UNIT) -> int:
    """How many alert rows match the filters (the groups stand for them)."""
    return conn.execute(select(func.count()).select_from(db.alerts)
                        .where(*_filters(state, kind, subject, month, scope))).scalar() or 0


def group_members(conn: Connection, groups: list[dict], state: str = "open", limit: int = 20,
                  scope: Scope = EVERY_UNIT) -> None:
    """Each group's own alert rows (newest first, at most ``limit``) as ``members``, for groups of several."""
    a = db.alerts
    for g in groups:
        if g["alerts"] < 2:
            g["members"] = []
            continue
        rows = conn.execute(select(a).where(_group_where(g["kind"], g["subject"], g["month"]),
                                            *_filters(state, None, None, None, scope))
                            .order_by(a.c.id.desc()).limit(limit)).mappings().all()
        g["members"] = [{**dict(r), "params": json_object(r["params"])} for r in rows]


def filter_choices(conn: Connection, scope: Scope = EVERY_UNIT) -> dict:
    """What the page's filters offer: kinds, subjects (with their kinds) and months that have alerts."""
    a = db.alerts
    kind_c, subject_c, month_c = _group_columns()
    mine = scope.alerts(a)
    subjects = conn.execute(select(subject_c, func.min(kind_c)).where(mine).group_by(subject_c)
                            .order_by(subject_c).limit(1000)).all()
    months = conn.execute(select(month_c).where(a.c.month.is_not(None), mine).group_by(month_c)
                          .order_by(month_c.desc()).limit(240)).scalars().all()
    kinds = conn.execute(select(kind_c).where(mine).group_by(kind_c)).scalars().all()
    return {"subjects": [(s, k) for s, k in subjects if s], "months": [m for m in months if m],
            "kinds": [k for k in KIND_LABELS if k in kinds]}


def resolve_groups(conn: Connection, groups: list[tuple[str, str, str, int | None]], note: str | None, by: str,
                   now: datetime | None = None, scope: Scope = EVERY_UNIT) -> int:
    """Close every open alert of the groups (kind, subject, month, upto): none newer than its ``upto``
    (an alert raised after the admin read the page stays open), and none outside ``scope``."""
    a = db.alerts
    if not groups:
        return 0
    match = and_(scope.alerts(a), or_(*[and_(_group_where(k, s, m), a.c.id <= upto) if upto is not None
                                        else _group_where(k, s, m) for k, s, m, upto in groups]))
    return resolve(conn, match, note, by=by, now=now)


def as_record(row) -> dict:
    """An alert row as the admin pull and ``hailong admin alerts --json`` give it: params as an object."""
    out = dict(row)
    out["params"] = json_object(out.get("params"))
    return out
