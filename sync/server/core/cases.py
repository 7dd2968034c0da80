"""Cases (vụ việc cần xử lý): every rule about them, in one place, no HTTP.

A case follows one cause until someone has dealt with it: the officer or
kiosk it is about, an owner, a due date, a status, a log of what was done
(``case_events``), a found cause and an outcome.

Who opens them (in the transaction that raises the alert behind them, so a
reader never sees a case-worthy alert without its case):

* ``nhung_nhieu`` — a nhũng nhiễu (harassment) rating: one case per officer
  and local month, like its alert group; every later such rating of the
  month links its rating to the case;
* ``low_rate`` — the officer's satisfaction rate for a month under the
  threshold (the ``low_rate`` alert);
* ``tampering`` — a ``chain``, ``signature``, ``conflict`` or ``kiosk_reset``
  alert: one case per kiosk and month, whatever the alert;
* ``silent`` — a kiosk silent too long: one case per kiosk and month;
* ``manual`` — an admin, by hand (:func:`open_case`), about an officer or a kiosk.

The server's callers go through :func:`raise_alerts`, :func:`after_fold`
and :func:`sweep_silent` here (alerts.py's own functions raise alerts only).
One open case per cause: ``open_key`` is ``kind|subject|month`` (unique,
NULL once closed), so several server processes open one case between them.

A new cause whose case is closed **reopens** it (same officer or kiosk,
same kind, same month) rather than opening a second one; a nhũng nhiễu
rating of a later month opens that month's case, whose params name the
earlier case (``follows``). A closed case about an officer also reopens when
the officer's rate in the month after closing (``watch_month``) is still
under the low-rate threshold with enough ratings, judged when that month's
ratings are folded.

Status: open → in_progress → resolved → closed; resolved may go back to
in_progress; closed only by :func:`reopen`. :func:`close_case` refuses
without at least one action, an outcome and the found cause (a case closed
with no cause named teaches the next reader nothing, and the yearly
scoring asks what was wrong). Closing resolves the alerts behind the case.

Due dates: ``case_rules`` setting ``{"due_days": {kind: n}}``, counted in
working days (core/workdays.py) from the local day the case opens; the
defaults below are this software's defaults, not a rule of law. Default
owners: ``{"owners": {kind: username}, "unit_owners": {unit: username},
"owner": username}`` (kind first, then unit, then the catch-all); none, or a
user that does not exist: the case is unassigned.

Overdue: an open or in-progress case whose due date is before today (local)
raises one ``case_overdue`` alert and one ``overdue`` event
(:func:`sweep_overdue`, run by the background task every round).
"""
from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Connection

from sync.server.core import alerts, db, workdays
from sync.server.core.clock import VN_TZ, iso, local_month, parse_stored, utcnow
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.settings import get_setting
from sync.server.core.sql import dialect_insert, json_object

KINDS = ("nhung_nhieu", "low_rate", "tampering", "silent", "manual")
STATUSES = ("open", "in_progress", "resolved", "closed")
ACTIONS = ("nhac_nho", "kiem_diem", "chan_chinh", "doi_vi_tri", "xin_loi", "de_xuat_xu_ly", "other")
EVENT_KINDS = ("opened", "assigned", "status", "action", "note", "closed", "reopened", "letter", "overdue",
               "due_changed", "linked")

KIND_LABELS = {
    "nhung_nhieu": "Phản ánh nhũng nhiễu",
    "low_rate": "Tỷ lệ hài lòng thấp",
    "tampering": "Dữ liệu ki-ốt bất thường",
    "silent": "Ki-ốt im lặng quá lâu",
    "manual": "Mở thủ công",
}
STATUS_LABELS = {"open": "Mở", "in_progress": "Đang xử lý", "resolved": "Đã xử lý", "closed": "Đóng"}
ACTION_LABELS = {
    "nhac_nho": "Nhắc nhở",
    "kiem_diem": "Kiểm điểm",
    "chan_chinh": "Chấn chỉnh",
    "doi_vi_tri": "Đổi vị trí công tác",
    "xin_loi": "Xin lỗi công dân",
    "de_xuat_xu_ly": "Đề xuất xử lý",
    "other": "Khác",
}
EVENT_LABELS = {
    "opened": "Vụ việc được mở",
    "assigned": "Giao người xử lý",
    "status": "Đổi trạng thái",
    "action": "Biện pháp",
    "note": "Ghi chú",
    "closed": "Vụ việc được đóng",
    "reopened": "Mở lại",
    "letter": "Văn bản",
    "overdue": "Quá hạn",
    "due_changed": "Đổi hạn xử lý",
    "linked": "Thêm căn cứ",
}
#: The moves a person may make from each status (closing is close_case, reopening reopen).
MOVES = {"open": ("in_progress",), "in_progress": ("resolved",), "resolved": ("in_progress",), "closed": ()}
#: Default working days to deal with each kind (setting ``case_rules.due_days`` overrides).
DEFAULT_DUE_DAYS = {"nhung_nhieu": 3, "tampering": 2, "silent": 2, "low_rate": 10, "manual": 5}
#: Alert kinds that open a case, and the case kind they open.
ALERT_CASE_KIND = {"nhung_nhieu": "nhung_nhieu", "low_rate": "low_rate", "chain": "tampering",
                   "signature": "tampering", "conflict": "tampering", "kiosk_reset": "tampering",
                   "silent": "silent"}
OFFICER_KINDS = frozenset({"nhung_nhieu", "low_rate"})
#: How much of a rating's comment a page, an e-mail or the API shows.
COMMENT_CHARS = 200
TEXT_CHARS = 4000


class Refused(ValueError):
    """A change the rules do not allow. ``fields`` names what is missing or wrong (action, outcome,
    found_cause, text, status, owner, officer, kiosk, title, due_date, case); the message is the
    Vietnamese ``template`` with ``kw`` (a list value: phrases joined with commas), so that a page
    or the command line words it in its reader's language with :meth:`say`."""

    def __init__(self, template: str, fields: tuple[str, ...] = (), **kw):
        self.template, self.fields, self.kw = template, tuple(fields), kw
        super().__init__(self.say())

    def say(self, _=None) -> str:
        _ = _ or (lambda text, **kw: text.format(**kw) if kw else text)
        kw = {k: ", ".join(_(p) for p in v) if isinstance(v, (list, tuple)) else v for k, v in self.kw.items()}
        return _(self.template, **kw)


# --- small pieces -------------------------------------------------------------------------------

def _dumps(value: dict) -> str:
    return json.dumps(value or {}, ensure_ascii=False, separators=(",", ":"))


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(VN_TZ).date()


def next_month(month: str) -> str:
    y, m = (int(p) for p in month.split("-"))
    return f"{y + m // 12}-{m % 12 + 1:02d}"


def month_text(month: str | None) -> str:
    if not month:
        return ""
    y, m = month.split("-")
    return f"tháng {int(m)}/{y}"


def case_rules(conn: Connection) -> dict:
    held = get_setting(conn, "case_rules", {}) or {}
    held = held if isinstance(held, dict) else {}
    due = dict(DEFAULT_DUE_DAYS)
    for kind, n in (held.get("due_days") or {}).items() if isinstance(held.get("due_days"), dict) else ():
        if kind in due and isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 365:
            due[kind] = n
    return {**held, "due_days": due}


def due_date(conn: Connection, kind: str, now: datetime | None = None, rules: dict | None = None) -> str:
    """The due date (local YYYY-MM-DD) of a case of ``kind`` opened ``now``."""
    rules = rules or case_rules(conn)
    return workdays.add_working_days(local_today(now), rules["due_days"].get(kind, 5), conn).isoformat()


def is_overdue(case_row, today: date | str | None = None) -> bool:
    """Open or in progress with its due date before today (local)."""
    today = today or local_today()
    today = today.isoformat() if isinstance(today, date) else str(today)
    row = dict(case_row)
    return row.get("status") in ("open", "in_progress") and bool(row.get("due_date")) and row["due_date"] < today


def closed_on_time(case_row) -> bool | None:
    """Resolved (or, never resolved, closed) on or before the due date as a local date; None while not done."""
    row = dict(case_row)
    done = parse_stored(row.get("resolved_at") or row.get("closed_at"))
    if done is None:
        return None
    return done.astimezone(VN_TZ).date().isoformat() <= row["due_date"]


def _user_exists(conn: Connection, username: str | None) -> bool:
    return bool(username) and conn.execute(
        select(db.users.c.username).where(db.users.c.username == username)).first() is not None


def default_owner(conn: Connection, kind: str, unit_code: str | None, rules: dict | None = None) -> str | None:
    rules = rules or case_rules(conn)
    for holder, key in ((rules.get("owners"), kind), (rules.get("unit_owners"), unit_code)):
        if isinstance(holder, dict) and key and _user_exists(conn, holder.get(key)):
            return holder[key]
    owner = rules.get("owner")
    return owner if isinstance(owner, str) and _user_exists(conn, owner) else None


def officer_unit(conn: Connection, officer_id: str | None) -> str | None:
    """The unit of an officer's desk (None for an officer not in the roster or without a desk)."""
    if not officer_id:
        return None
    o, d = db.officers, db.desks
    return conn.execute(select(d.c.unit_code).select_from(o.join(d, d.c.id == o.c.desk_id))
                        .where(o.c.id == officer_id)).scalar()


def _kiosk_unit(conn: Connection, kiosk_id: str | None) -> str | None:
    if not kiosk_id:
        return None
    return conn.execute(select(db.kiosks.c.unit_code).where(db.kiosks.c.id == kiosk_id)).scalar()


def _title(kind: str, officer_id: str | None, kiosk_id: str | None, month: str | None) -> str:
    about = f"cán bộ {officer_id}" if officer_id else f"ki-ốt {kiosk_id}"
    when = f", {month_text(month)}" if month else ""
    return f"{KIND_LABELS[kind]}: {about}{when}"


# --- the log ------------------------------------------------------------------------------------

def record_event(conn: Connection, case_id: int, kind: str, by: str | None = None, text: str | None = None,
                 action: str | None = None, params: dict | None = None, now: datetime | None = None) -> int:
    """Write one line of the case's log; returns its id."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown case event kind {kind!r}")
    res = conn.execute(db.case_events.insert().values(
        case_id=case_id, at=iso(now or utcnow()), by=by, kind=kind, action=action,
        text=text[:TEXT_CHARS] if text else text, params=_dumps(params or {})))
    return int(res.inserted_primary_key[0])


# --- reading ------------------------------------------------------------------------------------

def _case_row(conn: Connection, case_id, lock: bool = False, scope: Scope = EVERY_UNIT) -> dict | None:
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        return None
    if not 0 < case_id < 2 ** 53:
        return None
    q = select(db.cases).where(db.cases.c.id == case_id, scope.cases())
    row = conn.execute(q.with_for_update() if lock else q).mappings().first()
    return dict(row) if row else None


def get_case(conn: Connection, case_id, scope: Scope = EVERY_UNIT) -> dict | None:
    """The case row with ``params`` parsed, ``links`` (its alerts and ratings, each with the row
    it points at), ``events`` (oldest first), ``dossiers`` (its ratings that carry a dossier code:
    rating_id, dossier_code, procedure_code, officer_id, created_at) and ``overdue``. None when
    there is no such case, or it is another unit's than ``scope``'s."""
    row = _case_row(conn, case_id, scope=scope)
    if row is None:
        return None
    row["params"] = json_object(row.get("params"))
    cl, a, r, e = db.case_links, db.alerts, db.ratings, db.case_events
    links = conn.execute(
        select(cl.c.id, cl.c.alert_id, cl.c.rating_id, cl.c.linked_at,
               a.c.kind.label("alert_kind"), a.c.message.label("alert_message"), a.c.params.label("alert_params"),
               a.c.count.label("alert_count"), a.c.resolved_at.label("alert_resolved_at"),
               r.c.officer_id.label("rating_officer"), r.c.level.label("rating_level"),
               r.c.comment.label("rating_comment"), r.c.corrected_at.label("rating_at"),
               r.c.kiosk_id.label("rating_kiosk"), r.c.seq.label("rating_seq"),
               r.c.dossier_code, r.c.procedure_code)
        .select_from(cl.outerjoin(a, a.c.id == cl.c.alert_id).outerjoin(r, r.c.id == cl.c.rating_id))
        .where(cl.c.case_id == row["id"]).order_by(cl.c.id)).mappings().all()
    row["links"] = []
    for link in links:
        link = dict(link)
        link["alert_params"] = json_object(link.get("alert_params"))
        if link.get("rating_comment"):
            link["rating_comment"] = link["rating_comment"][:COMMENT_CHARS]
        row["links"].append(link)
    row["events"] = [{**dict(ev), "params": json_object(ev["params"])} for ev in conn.execute(
        select(e).where(e.c.case_id == row["id"]).order_by(e.c.id)).mappings()]
    row["dossiers"] = [{"rating_id": link["rating_id"], "dossier_code": link["dossier_code"],
                        "procedure_code": link["procedure_code"], "officer_id": link["rating_officer"],
                        "created_at": link["rating_at"]}
                       for link in row["links"] if link["rating_id"] and link["dossier_code"]]
    row["overdue"] = is_overdue(row)
    return row


def _filters(status: str | None = None, kind: str | None = None, officer: str | None = None,
             owner: str | None = None, month: str | None = None, kiosk: str | None = None,
             today: str | None = None, overdue: bool = False) -> list:
    c = db.cases
    where = []
    if overdue and status != "overdue":
        where += _filters("overdue", today=today)
    if status == "overdue":
        where += [c.c.status.in_(("open", "in_progress")), c.c.due_date < (today or local_today().isoformat())]
    elif status == "active":
        where.append(c.c.status != "closed")
    elif status and status != "all":
        where.append(c.c.status == status)
    if kind:
        where.append(c.c.kind == kind)
    if officer:
        where.append(c.c.officer_id == officer)
    if kiosk:
        where.append(c.c.kiosk_id == kiosk)
    if owner == "-":
        where.append(c.c.owner.is_(None))
    elif owner:
        where.append(c.c.owner == owner)
    if month:
        where.append(c.c.month == month)
    return where


def list_cases(conn: Connection, status: str | None = None, kind: str | None = None, officer: str | None = None,
               owner: str | None = None, month: str | None = None, kiosk: str | None = None,
               after: int | None = None, limit: int = 25, offset: int = 0, order: str = "urgent",
               now: datetime | None = None, overdue: bool = False,
               scope: Scope = EVERY_UNIT) -> tuple[int, list[dict]]:
    """(how many match, one page of them). ``status``: a status, "overdue", "active" (not closed) or "all".

    ``order`` "urgent" (the pages): overdue first, then not closed by due date, then closed, newest
    closed first; "id" (the API's cursor ``after``): by id. ``scope``: the user's units (core/scope.py).
    """
    c = db.cases
    today = local_today(now).isoformat()
    where = [*_filters(status, kind, officer, owner, month, kiosk, today, overdue), scope.cases(c)]
    total = conn.execute(select(func.count()).select_from(c).where(*where)).scalar() or 0
    q = select(c).where(*where)
    if order == "id":
        if after is not None:
            q = q.where(c.c.id > after)
        q = q.order_by(c.c.id)
    else:
        active = c.c.status.in_(("open", "in_progress"))
        rank = sql_case((and_(active, c.c.due_date < today), 0), (c.c.status != "closed", 1), else_=2)
        q = q.order_by(rank, sql_case((c.c.status == "closed", None), else_=c.c.due_date),
                       c.c.closed_at.desc(), c.c.id.desc())
    rows = conn.execute(q.limit(limit).offset(offset)).mappings().all()
    out = []
    for row in rows:
        row = dict(row)
        row["params"] = json_object(row["params"])
        row["overdue"] = is_overdue(row, today)
        out.append(row)
    return total, out


def in_scope(conn: Connection, case_id, scope: Scope) -> bool:
    """Whether the case exists and is of ``scope``'s units (a commune's user acts on theirs only)."""
    return _case_row(conn, case_id, scope=scope) is not None


def count_overdue(conn: Connection, now: datetime | None = None, scope: Scope = EVERY_UNIT) -> int:
    """How many cases (of ``scope``'s units) are overdue (ix_cases_status_due answers it)."""
    c = db.cases
    return conn.execute(select(func.count()).select_from(c).where(
        c.c.status.in_(("open", "in_progress")), c.c.due_date < local_today(now).isoformat(),
        scope.cases(c))).scalar() or 0


def counts_by_status(conn: Connection, now: datetime | None = None, scope: Scope = EVERY_UNIT) -> dict:
    c = db.cases
    out = {s: 0 for s in STATUSES}
    out.update({s: n for s, n in conn.execute(select(c.c.status, func.count()).where(scope.cases(c))
                                              .group_by(c.c.status))})
    out["overdue"] = count_overdue(conn, now, scope)
    return out


def links_and_events(conn: Connection, case_ids: list[int]) -> tuple[dict, dict]:
    """The links and events of many cases at once (the API's page): case id → list."""
    cl, e = db.case_links, db.case_events
    links, events = {i: [] for i in case_ids}, {i: [] for i in case_ids}
    if not case_ids:
        return links, events
    for row in conn.execute(select(cl.c.case_id, cl.c.alert_id, cl.c.rating_id, cl.c.linked_at)
                            .where(cl.c.case_id.in_(case_ids)).order_by(cl.c.id)).mappings():
        links[row["case_id"]].append({k: row[k] for k in ("alert_id", "rating_id", "linked_at")})
    for row in conn.execute(select(e).where(e.c.case_id.in_(case_ids)).order_by(e.c.id)).mappings():
        events[row["case_id"]].append({"at": row["at"], "by": row["by"], "kind": row["kind"],
                                       "action": row["action"], "text": row["text"],
                                       "params": json_object(row["params"])})
    return links, events


# --- opening ------------------------------------------------------------------------------------

def _open(conn: Connection, kind: str, key: str | None, officer_id: str | None, kiosk_id: str | None,
          month: str | None, unit_code: str | None, title: str, now: datetime, by: str | None = None,
          params: dict | None = None, owner: str | None = None) -> tuple[int, bool]:
    """(case id, whether it was made now) of the case of ``key``; made if no open case holds it."""
    c = db.cases
    if key is not None:
        held = conn.execute(select(c.c.id).where(c.c.open_key == key)).scalar()
        if held is not None:
            return int(held), False
    rules = case_rules(conn)
    owner = owner if owner is not None else default_owner(conn, kind, unit_code, rules)
    values = dict(kind=kind, officer_id=officer_id, kiosk_id=kiosk_id, unit_code=unit_code, month=month,
                  title=title, status="open", owner=owner, opened_at=iso(now), opened_by=by,
                  due_date=due_date(conn, kind, now, rules), open_key=key,
                  params=_dumps({**(params or {}), "key": key} if key else (params or {})))
    if key is None:
        case_id = int(conn.execute(c.insert().values(**values)).inserted_primary_key[0])
    else:
        insert = dialect_insert(conn)
        res = conn.execute(insert(c).values(**values).on_conflict_do_nothing(index_elements=[c.c.open_key]))
        case_id = conn.execute(select(c.c.id).where(c.c.open_key == key)).scalar()
        if not res.rowcount:
            return int(case_id), False   # another process opened it between our two statements
        case_id = int(case_id)
    record_event(conn, case_id, "opened", by=by, text=title, now=now,
                 params={"due_date": values["due_date"], "rule": by is None})
    if owner:
        record_event(conn, case_id, "assigned", by=by, text=owner, params={"owner": owner}, now=now)
    return case_id, True


def _closed_case(conn: Connection, kind: str, officer_id, kiosk_id, month) -> int | None:
    """The latest closed case of this kind, subject and month (a new cause reopens it)."""
    c = db.cases
    subject = c.c.officer_id == officer_id if officer_id else c.c.kiosk_id == kiosk_id
    return conn.execute(select(c.c.id).where(c.c.kind == kind, subject, c.c.month == month,
                                             c.c.status == "closed").order_by(c.c.id.desc()).limit(1)).scalar()


def _case_for(conn: Connection, kind: str, officer_id, kiosk_id, month, unit_of, now, why: str) -> tuple[int, bool]:
    """(case id, fresh) of a rule's cause: the open case of its key; else the closed one of the same
    kind, subject and month, reopened; else a new one (fresh: opened or reopened by this cause).
    ``unit_of()``: the unit of a new case (looked up only when one is made)."""
    subject = officer_id or kiosk_id
    key = f"{kind}|{subject}|{month}"
    c = db.cases
    held = conn.execute(select(c.c.id).where(c.c.open_key == key)).scalar()
    if held is not None:
        return int(held), False
    closed = _closed_case(conn, kind, officer_id, kiosk_id, month)
    if closed is not None:
        reopen(conn, closed, by=None, text=why, now=now)
        return int(closed), True
    params = {}
    if kind == "nhung_nhieu":   # an earlier nhũng nhiễu case of the officer, named on the new one
        before = conn.execute(select(c.c.id).where(c.c.kind == kind, c.c.officer_id == officer_id)
                              .order_by(c.c.id.desc()).limit(1)).scalar()
        if before is not None:
            params["follows"] = int(before)
    return _open(conn, kind, key, officer_id, kiosk_id, month, unit_of(),
                 _title(kind, officer_id, kiosk_id, month), now, params=params)


def _link_many(conn: Connection, case_id: int, alert_ids, rating_ids, now: datetime) -> tuple[set, set]:
    """Link alerts and ratings to the case, each once, in one statement; (new alert ids, new rating ids)."""
    cl = db.case_links
    alert_ids, rating_ids = {a for a in alert_ids if a is not None}, {r for r in rating_ids if r is not None}
    if not alert_ids and not rating_ids:
        return set(), set()
    held = conn.execute(select(cl.c.alert_id, cl.c.rating_id).where(
        cl.c.case_id == case_id, or_(cl.c.alert_id.in_(sorted(alert_ids)), cl.c.rating_id.in_(sorted(rating_ids))))).all()
    new_alerts = alert_ids - {h.alert_id for h in held}
    new_ratings = rating_ids - {h.rating_id for h in held}
    rows = ([{"case_id": case_id, "alert_id": a, "rating_id": None, "linked_at": iso(now)} for a in sorted(new_alerts)]
            + [{"case_id": case_id, "alert_id": None, "rating_id": r, "linked_at": iso(now)} for r in sorted(new_ratings)])
    if rows:   # another process may have linked one meanwhile: its unique constraint keeps it once
        conn.execute(dialect_insert(conn)(cl).on_conflict_do_nothing(), rows)
    return new_alerts, new_ratings


def _open_for_alerts(conn: Connection, causes: list[alerts.Alert], now: datetime,
                     low_rate_cases: dict | None = None) -> list[int]:
    """Open (or find, or reopen) the case of every case-worthy cause just raised, and link it.

    The causes of one case (a batch's nhũng nhiễu ratings of one officer in one month) are
    handled together: one look-up of the case, one insert of their links and one of their
    ``linked`` events (one per cause after the one that opened or reopened the case).

    ``low_rate_cases``: (officer, month) → cases reopened because that month is bad; its low_rate
    alert joins them instead of opening another case about the same month."""
    groups: dict[tuple, list[alerts.Alert]] = {}
    for cause in causes:
        if cause.kind not in ALERT_CASE_KIND or not cause.subject:
            continue
        kind = ALERT_CASE_KIND[cause.kind]
        officer_id = cause.subject if kind in OFFICER_KINDS else None
        month = (cause.params.get("month") if kind == "low_rate" else None) or cause.month
        groups.setdefault((kind, officer_id, None if officer_id else cause.subject, month), []).append(cause)
    if not groups:
        return []
    a = db.alerts
    alert_ids = dict(conn.execute(select(a.c.open_key, a.c.id).where(
        a.c.open_key.in_(sorted({c.open_key for same in groups.values() for c in same})))).all())
    touched = []
    for (kind, officer_id, kiosk_id, month), same in groups.items():
        first = same[0]
        case_ids = (low_rate_cases or {}).get((officer_id, month)) if kind == "low_rate" else None
        new = False
        if not case_ids:
            def unit(officer_id=officer_id, kiosk_id=kiosk_id, rating_id=first.rating_id):
                found = officer_unit(conn, officer_id) if officer_id else _kiosk_unit(conn, kiosk_id)
                if not found and rating_id:   # an officer the roster does not know: the rating's unit
                    found = conn.execute(select(db.ratings.c.unit_code).where(db.ratings.c.id == rating_id)).scalar()
                return found
            why = f"{alerts.KIND_LABELS.get(first.kind, first.kind)}: {first.message}"
            case_id, new = _case_for(conn, kind, officer_id, kiosk_id, month, unit, now, why[:TEXT_CHARS])
            case_ids = [case_id]
        for case_id in case_ids:
            new_alerts, new_ratings = _link_many(
                conn, case_id, [alert_ids.get(c.open_key) for c in same],
                [c.rating_id for c in same] if kind == "nhung_nhieu" else [], now)
            events = []
            for n, cause in enumerate(same):
                alert_id = alert_ids.get(cause.open_key)
                added = (alert_id in new_alerts) or (cause.rating_id in new_ratings)
                new_alerts.discard(alert_id)
                if added and not (new and n == 0):   # the cause that opened (or reopened) it is in that event
                    events.append({"case_id": case_id, "at": iso(now), "by": None, "kind": "linked", "action": None,
                                   "text": cause.message[:TEXT_CHARS],
                                   "params": _dumps({"alert_id": alert_id, "rating_id": cause.rating_id})})
            if events:
                conn.execute(db.case_events.insert(), events)
            touched.append(case_id)
    return sorted(set(touched))


def raise_alerts(conn: Connection, causes: list[alerts.Alert], now: datetime | None = None) -> int:
    """alerts.raise_alerts, then the cases of the case-worthy causes, in the same transaction."""
    now = now or utcnow()
    n = alerts.raise_alerts(conn, causes, now)
    _open_for_alerts(conn, causes, now)
    return n


def after_fold(conn: Connection, scale: int | None = None, now: datetime | None = None,
               rows: list[dict] | None = None) -> int:
    """alerts.after_fold with its cases: the rating rules' alerts and cases, and the closed cases
    whose watched month has just turned out bad again, reopened."""
    now = now or utcnow()
    causes = alerts.rating_causes(conn, scale, now, rows)
    n = alerts.raise_alerts(conn, causes, now)
    reopened = reopen_watched(conn, now, officers={row["officer_id"] for row in rows} if rows is not None else None)
    _open_for_alerts(conn, causes, now, low_rate_cases=reopened)
    return n


def sweep_silent(conn: Connection, now: datetime | None = None) -> int:
    """alerts.sweep_silent with its cases."""
    now = now or utcnow()
    causes = alerts.silent_causes(conn, now)
    n = alerts.raise_alerts(conn, causes, now)
    _open_for_alerts(conn, causes, now)
    return n


def open_case(conn: Connection, by: str, title: str, officer_id: str | None = None, kiosk_id: str | None = None,
              owner: str | None = None, text: str | None = None, now: datetime | None = None) -> int:
    """An admin opens a case by hand about an officer or a kiosk (kind ``manual``)."""
    now = now or utcnow()
    title = (title or "").strip()
    if not title:
        raise Refused("Chưa nhập tiêu đề vụ việc", ("title",))
    if len(title) > 300:
        raise Refused("Tiêu đề dài quá 300 ký tự", ("title",))
    if bool(officer_id) == bool(kiosk_id):
        raise Refused("Chọn một cán bộ hoặc một ki-ốt (chỉ một)", ("officer", "kiosk"))
    if officer_id and conn.execute(select(db.officers.c.id).where(db.officers.c.id == officer_id)).first() is None:
        raise Refused("Không có cán bộ mã {code}", ("officer",), code=str(officer_id)[:64])
    if kiosk_id and conn.execute(select(db.kiosks.c.id).where(db.kiosks.c.id == kiosk_id)).first() is None:
        raise Refused("Không có ki-ốt mã {code}", ("kiosk",), code=str(kiosk_id)[:64])
    if owner and not _user_exists(conn, owner):
        raise Refused("Không có người dùng {name}", ("owner",), name=str(owner)[:100])
    unit = officer_unit(conn, officer_id) if officer_id else _kiosk_unit(conn, kiosk_id)
    case_id, _ = _open(conn, "manual", None, officer_id, kiosk_id, local_month(now), unit, title, now, by=by,
                       owner=owner or None)
    conn.execute(db.cases.update().where(db.cases.c.id == case_id).values(open_key=f"manual|{case_id}"))
    if text and text.strip():
        record_event(conn, case_id, "note", by=by, text=text.strip(), now=now)
    return case_id


# --- changing ------------------------------------------------------------------------------------

def _must(conn: Connection, case_id) -> dict:
    row = _case_row(conn, case_id, lock=True)
    if row is None:
        raise Refused("Không có vụ việc số {case}", ("case",), case=case_id)
    return row


def _text(value, field: str, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if len(text) > TEXT_CHARS:
        raise Refused("{label} dài quá {n} ký tự", (field,), label=[label], n=TEXT_CHARS)
    return text


def assign(conn: Connection, case_id, owner: str | None, by: str | None, now: datetime | None = None) -> None:
    """Give the case to ``owner`` (a username; None or "": unassigned)."""
    row = _must(conn, case_id)
    owner = (owner or "").strip() or None
    if owner and not _user_exists(conn, owner):
        raise Refused("Không có người dùng {name}", ("owner",), name=owner[:100])
    if owner == row["owner"]:
        return
    conn.execute(db.cases.update().where(db.cases.c.id == row["id"]).values(owner=owner))
    record_event(conn, row["id"], "assigned", by=by, text=owner or "", params={"owner": owner, "was": row["owner"]},
                 now=now)


def set_due(conn: Connection, case_id, due: str, by: str, now: datetime | None = None) -> None:
    row = _must(conn, case_id)
    try:
        due = date.fromisoformat(str(due)).isoformat()
    except ValueError:
        raise Refused("Hạn xử lý không phải ngày (YYYY-MM-DD)", ("due_date",)) from None
    if due == row["due_date"]:
        return
    conn.execute(db.cases.update().where(db.cases.c.id == row["id"]).values(due_date=due))
    record_event(conn, row["id"], "due_changed", by=by, text=due, params={"due_date": due, "was": row["due_date"]},
                 now=now)


def _actions(conn: Connection, case_id: int) -> int:
    e = db.case_events
    return conn.execute(select(func.count()).select_from(e).where(e.c.case_id == case_id, e.c.kind == "action")
                        ).scalar() or 0


def set_status(conn: Connection, case_id, status: str, by: str, now: datetime | None = None) -> None:
    """Move the case along MOVES (open → in progress → resolved; resolved → in progress)."""
    now = now or utcnow()
    row = _must(conn, case_id)
    if status not in MOVES.get(row["status"], ()):
        raise Refused("Vụ việc số {case} đang ở trạng thái “{now}”: không chuyển sang “{to}” được", ("status",),
                      case=row["id"], now=[STATUS_LABELS.get(row["status"], row["status"])],
                      to=[STATUS_LABELS.get(status, str(status)[:40])])
    if status == "resolved" and not _actions(conn, row["id"]):
        raise Refused("Chưa ghi biện pháp xử lý nào: ghi ít nhất một biện pháp trước khi báo đã xử lý",
                      ("action",))
    values = {"status": status}
    if status == "resolved":
        values["resolved_at"] = iso(now)
    elif row["status"] == "resolved":
        values["resolved_at"] = None
    conn.execute(db.cases.update().where(db.cases.c.id == row["id"]).values(**values))
    record_event(conn, row["id"], "status", by=by, text=STATUS_LABELS[status],
                 params={"from": row["status"], "to": status}, now=now)


def add_action(conn: Connection, case_id, by: str, action: str, text: str | None = None,
               now: datetime | None = None) -> int:
    """Record a measure taken (nhắc nhở, kiểm điểm…); an open case moves to in progress with it."""
    now = now or utcnow()
    row = _must(conn, case_id)
    if action not in ACTION_LABELS:
        raise Refused("Chọn một biện pháp trong danh sách", ("action",))
    text = _text(text, "text", "Nội dung")
    if action == "other" and not text:
        raise Refused("Biện pháp “Khác”: ghi rõ đã làm gì", ("text",))
    if row["status"] == "closed":
        raise Refused("Vụ việc số {case} đã đóng: mở lại trước khi ghi thêm biện pháp", ("status",), case=row["id"])
    event = record_event(conn, row["id"], "action", by=by, action=action, text=text or None, now=now)
    if row["status"] == "open":
        conn.execute(db.cases.update().where(db.cases.c.id == row["id"]).values(status="in_progress"))
        record_event(conn, row["id"], "status", by=by, text=STATUS_LABELS["in_progress"],
                     params={"from": "open", "to": "in_progress"}, now=now)
    return event


def add_note(conn: Connection, case_id, by: str, text: str, now: datetime | None = None) -> int:
    row = _must(conn, case_id)
    text = _text(text, "text", "Ghi chú")
    if not text:
        raise Refused("Chưa nhập ghi chú", ("text",))
    return record_event(conn, row["id"], "note", by=by, text=text, now=now)


def close_case(conn: Connection, case_id, by: str, found_cause: str | None, outcome: str | None,
               now: datetime | None = None) -> None:
    """Close the case: refused, naming every missing piece, without an action, a found cause or
    an outcome. Resolves the alerts behind it and starts watching the officer's next month."""
    now = now or utcnow()
    row = _must(conn, case_id)
    if row["status"] == "closed":
        raise Refused("Vụ việc số {case} đã đóng", ("status",), case=row["id"])
    found_cause = _text(found_cause, "found_cause", "Nguyên nhân")
    outcome = _text(outcome, "outcome", "Kết quả")
    missing, words = [], []
    if not _actions(conn, row["id"]):
        missing.append("action")
        words.append("ít nhất một biện pháp đã thực hiện")
    if not found_cause:
        missing.append("found_cause")
        words.append("nguyên nhân tìm được")
    if not outcome:
        missing.append("outcome")
        words.append("kết quả xử lý")
    if missing:
        raise Refused("Chưa đóng được vụ việc số {case}: còn thiếu {missing}", tuple(missing), case=row["id"],
                      missing=words)
    watch = next_month(local_month(now)) if row["officer_id"] else None
    conn.execute(db.cases.update().where(db.cases.c.id == row["id"]).values(
        status="closed", found_cause=found_cause, outcome=outcome, closed_at=iso(now), closed_by=by,
        open_key=None, watch_month=watch))
    record_event(conn, row["id"], "closed", by=by, text=outcome, now=now,
                 params={"found_cause": found_cause, "outcome": outcome, "watch_month": watch,
                         "on_time": closed_on_time({**row, "closed_at": iso(now)})})
    a, cl = db.alerts, db.case_links
    linked = select(cl.c.alert_id).where(cl.c.case_id == row["id"], cl.c.alert_id.is_not(None))
    alerts.resolve(conn, or_(a.c.id.in_(linked), a.c.open_key == f"case_overdue|{row['id']}"),
                   f"Đã xử lý trong vụ việc số {row['id']}", by=by, now=now)


def reopen(conn: Connection, case_id, by: str | None, text: str | None = None, now: datetime | None = None) -> None:
    """Open a closed case again: status open, new due date, the close cleared, reopened + 1."""
    now = now or utcnow()
    row = _must(conn, case_id)
    if row["status"] != "closed":
        raise Refused("Vụ việc số {case} chưa đóng", ("status",), case=row["id"])
    text = _text(text, "text", "Lý do")
    if by is not None and not text:
        raise Refused("Ghi lý do mở lại", ("text",))
    key = json_object(row["params"]).get("key") or (f"manual|{row['id']}" if row["kind"] == "manual" else None)
    c = db.cases
    if key and conn.execute(select(c.c.id).where(c.c.open_key == key)).first() is not None:
        key = None   # another case took the cause while this one was closed
    due = due_date(conn, row["kind"], now)
    conn.execute(c.update().where(c.c.id == row["id"]).values(
        status="open", resolved_at=None, closed_at=None, closed_by=None, reopened=row["reopened"] + 1,
        due_date=due, open_key=key, watch_month=None))
    record_event(conn, row["id"], "reopened", by=by, text=text or None, now=now,
                 params={"due_date": due, "times": row["reopened"] + 1})


#: the closed cases watched in the judged months (of these officers): built once, ingest runs it every batch
_WATCHED = select(db.cases.c.id, db.cases.c.officer_id, db.cases.c.watch_month).where(
    db.cases.c.status == "closed", db.cases.c.watch_month.in_(bindparam("months", expanding=True)),
    db.cases.c.officer_id.is_not(None))
_WATCHED_OF = _WATCHED.where(db.cases.c.officer_id.in_(bindparam("officers", expanding=True)))


def reopen_watched(conn: Connection, now: datetime | None = None,
                   officers: set[str] | None = None) -> dict[tuple[str, str], list[int]]:
    """Reopen every closed case whose officer's watched month is under the low-rate threshold with
    enough valid ratings. Returns (officer, month) → the reopened case ids.

    Only the months the low-rate rule judges (this one and the one before) are looked at, and,
    given ``officers`` (those of the batch just folded), only their cases: a batch costs one
    indexed look-up, however many cases were closed over the years."""
    now = now or utcnow()
    if officers is not None and not officers:
        return {}
    months = list(alerts.judged_months(now))
    if officers is not None:
        watched = conn.execute(_WATCHED_OF, {"months": months, "officers": sorted(officers)}).all()
    else:
        watched = conn.execute(_WATCHED, {"months": months}).all()
    if not watched:
        return {}
    rule = alerts.rules(conn)
    figures = alerts.month_figures(conn, {(w.watch_month, w.officer_id) for w in watched})
    out: dict[tuple[str, str], list[int]] = {}
    for w in watched:
        fig = figures.get((w.watch_month, w.officer_id))
        low = alerts.low_rate(fig, rule) if fig else None
        if low is None:
            continue
        rate, satisfied, valid = low
        reopen(conn, w.id, by=None, now=now,
               text=(f"Tỷ lệ hài lòng của cán bộ {w.officer_id} trong {month_text(w.watch_month)} vẫn dưới ngưỡng: "
                     f"{rate:g}% ({satisfied}/{valid}), ngưỡng {rule['officer_rate_below']:g}%"))
        out.setdefault((w.officer_id, w.watch_month), []).append(int(w.id))
    return out


# --- overdue ---------------------------------------------------------------------------------------

def sweep_overdue(conn: Connection, now: datetime | None = None) -> int:
    """Raise one ``case_overdue`` alert and one ``overdue`` event per case that fell overdue.

    Safe from several processes: the overdue cases' rows are locked (PostgreSQL) before looking for
    their alert, and the alert's open_key absorbs a second insert. Returns how many newly overdue.
    """
    now = now or utcnow()
    c, a = db.cases, db.alerts
    today = local_today(now).isoformat()
    due = conn.execute(select(c.c.id, c.c.officer_id, c.c.kiosk_id, c.c.due_date, c.c.title, c.c.kind)
                       .where(c.c.status.in_(("open", "in_progress")), c.c.due_date < today)
                       .order_by(c.c.id).with_for_update()).all()
    if not due:
        return 0
    keys = [f"case_overdue|{row.id}" for row in due]
    already = set(conn.execute(select(a.c.open_key).where(a.c.open_key.in_(keys))).scalars())
    causes = []
    for row in due:
        if f"case_overdue|{row.id}" in already:
            continue
        params = {"case_id": row.id, "officer_id": row.officer_id, "kiosk_id": row.kiosk_id,
                  "due_date": row.due_date, "kind": row.kind}
        causes.append(alerts.Alert("case_overdue", alerts.describe("case_overdue", params), iso(now),
                                   subject=str(row.id), kiosk_id=row.kiosk_id, params=params))
        record_event(conn, row.id, "overdue", text=f"Quá hạn xử lý (hạn {row.due_date})",
                     params={"due_date": row.due_date}, now=now)
    alerts.raise_alerts(conn, causes, now)
    if causes:
        new_ids = dict(conn.execute(select(a.c.subject, a.c.id).where(
            a.c.open_key.in_([f"case_overdue|{x.subject}" for x in causes]))).all())
        for cause in causes:
            _link_many(conn, int(cause.subject), [new_ids.get(cause.subject)], [], now)
    return len(causes)

