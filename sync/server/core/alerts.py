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
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, tuple_
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
from sync.server.core.settings import get_setting
from sync.server.core.sql import LocalMonth, contains_code

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
}
#: How alerts of each kind are grouped into one: per subject and month, or one open per subject.
MONTHLY = frozenset({"chain", "signature", "conflict", "nhung_nhieu", "low_rate",
                     "unknown_officer", "unknown_desk", "duplicate_receipt", "clock_jump"})
ONE_OPEN = frozenset({"clock_skew", "silent"})
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


def _insert(conn: Connection):
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:   # pragma: no cover - the two databases the server supports
        raise RuntimeError(f"alert upsert not written for {name}")
    return insert


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
    insert = _insert(conn)
    a = db.alerts
    for key, same in groups.items():
        first = same[0]
        last_at = max(c.happened_at for c in same)
        stmt = insert(a).values(
            kind=first.kind, message=first.message, created_at=now_s, subject=first.subject,
            month=first.month, count=len(same), happened_at=min(c.happened_at for c in same),
            last_at=last_at, open_key=key, kiosk_id=first.kiosk_id, rating_id=first.rating_id,
            seq_from=first.seq_from, seq_to=first.seq_to)
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
    span = (f"1–{held}" if acked == held else f"seq up to {held} (all of 1–{acked})" if acked
            else f"seq up to {held}")
    why = ("kiosk.db lost or replaced" if last_seq < held
           else f"its seq {held} is another rating: kiosk.db replaced")
    msg = f"kiosk {kiosk_id} reports seq {last_seq} but the server holds {span}: {why}"
    if reported_before and reported_before > held:
        msg += (f"; seq {held + 1}–{reported_before}, which it reported before and never sent, are lost"
                if reported_before > held + 1 else f"; seq {reported_before}, which it reported before "
                                                    "and never sent, is lost")
    msg += "; recover it with `hailong kiosk init --recover`"
    return Alert("kiosk_reset", msg, iso(now), subject=kiosk_id, kiosk_id=kiosk_id, seq_from=1, seq_to=held)


def resolve(conn: Connection, where, note: str, by: str | None = None, now: datetime | None = None) -> int:
    """Close the open alerts matching ``where``; returns how many were closed."""
    a = db.alerts
    return conn.execute(a.update().where(where, a.c.resolved_at.is_(None)).values(
        resolved_at=iso(now or utcnow()), acked_by=by, note=note, open_key=None)).rowcount


def _officer_names(conn: Connection, ids) -> dict[str, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return dict(conn.execute(select(db.officers.c.id, db.officers.c.name).where(db.officers.c.id.in_(ids))).all())


# --- what a fold brings: harassment and low rates -----------------------------------------

#: rollup_cursor row of the last rating the rating rules have looked at
CURSOR = "alerts"


def _alerts_cursor(conn: Connection, cursor_table) -> int:
    cur = conn.execute(select(cursor_table.c.pk).where(cursor_table.c.name == CURSOR).with_for_update()).scalar()
    if cur is None:
        # town.db of version 0.1 scanned harassment when the alerts page was opened
        cur = int(get_setting(conn, "alerts_scanned_pk", 0) or 0)
        conn.execute(cursor_table.insert().values(name=CURSOR, pk=cur))
    return cur


def after_fold(conn: Connection, scale: int | None = None, now: datetime | None = None, rows: list[dict] | None = None) -> int:
    """Raise the rating rules' alerts for the ratings folded since the last call.

    Runs inside the caller's write transaction, right after
    ``rollup.fold_in``: the roll-up already holds the new ratings, so an
    officer's month is judged on every rating of it. Returns how many causes.

    ``rows``: the ratings ingest just stored (town.db rows). When they are
    exactly what was folded since the last call, a rule none of them can
    trigger (no harassment reason; no rating in a judged month) skips its
    query: a backlog of last month's ratings costs no look-up per batch.
    """
    now = now or utcnow()
    r = db.ratings
    start = _alerts_cursor(conn, rollup.cursor_table)
    top = conn.execute(select(rollup.cursor_table.c.pk).where(rollup.cursor_table.c.name == "ratings")).scalar() or 0
    if top <= start:
        return 0
    new = and_(r.c.pk > start, r.c.pk <= top)
    known = rows is not None and top - start == len(rows)
    causes = []
    if not known or any('"nhung_nhieu"' in row["reasons"] for row in rows):
        causes += _harassment(conn, new)
    if not known or not {_local_month_of(row["corrected_at"]) for row in rows}.isdisjoint(_judged_months(now)):
        causes += _low_rates(conn, new, rules(conn), scale, now)
    conn.execute(rollup.cursor_table.update().where(rollup.cursor_table.c.name == CURSOR).values(pk=top))
    return raise_alerts(conn, causes, now)


def _harassment(conn: Connection, new) -> list[Alert]:
    r = db.ratings
    rows = conn.execute(select(r.c.id, r.c.kiosk_id, r.c.seq, r.c.officer_id, r.c.desk_id, r.c.corrected_at,
                               r.c.comment)
                        .where(new, contains_code(r.c.reasons, "nhung_nhieu")).order_by(r.c.pk)).all()
    names = _officer_names(conn, (row.officer_id for row in rows))
    out = []
    for row in rows:
        who = names.get(row.officer_id, row.officer_id)
        msg = f"Phản ánh nhũng nhiễu đối với {who} ({row.desk_id}) lúc {local_text(row.corrected_at)}"
        if row.comment:
            msg += f": “{row.comment}”"
        out.append(Alert("nhung_nhieu", msg, row.corrected_at, subject=row.officer_id, kiosk_id=row.kiosk_id,
                         rating_id=row.id, seq_from=row.seq, seq_to=row.seq))
    return out


def _judged_months(now: datetime) -> tuple[str, str]:
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


def _month_label(month: str) -> str:
    y, m = month.split("-")
    return f"tháng {int(m)}/{y}"


def _low_rates(conn: Connection, new, rule: dict, scale: int, now: datetime) -> list[Alert]:
    r, t, a = db.ratings, rollup.rollup_month, db.alerts
    months = _judged_months(now)
    month = LocalMonth(r.c.corrected_at)
    touched = conn.execute(select(month.label("month"), r.c.officer_id, func.max(r.c.corrected_at).label("last"))
                           .where(new, month.in_(months)).group_by(month, r.c.officer_id)).all()
    if not touched:
        return []
    pairs = [(row.month, row.officer_id) for row in touched]
    figures = {(row.at, row.officer_id): row for row in conn.execute(
        select(t.c.at, t.c.officer_id, func.sum(t.c.total - t.c.misuse).label("valid"),
               func.sum(t.c.satisfied).label("satisfied"))   # each rating by its own survey
        .where(tuple_(t.c.at, t.c.officer_id).in_(pairs)).group_by(t.c.at, t.c.officer_id))}
    raised = set(conn.execute(select(a.c.month, a.c.subject).where(
        a.c.kind == "low_rate", tuple_(a.c.month, a.c.subject).in_(pairs))).all())
    names = _officer_names(conn, (o for _m, o in pairs))
    out = []
    for row in touched:
        fig = figures.get((row.month, row.officer_id))
        if fig is None or (row.month, row.officer_id) in raised:
            continue
        valid, satisfied = int(fig.valid or 0), int(fig.satisfied or 0)
        if valid < rule["officer_min_ratings"]:
            continue
        rate = round(satisfied * 100 / valid, 1)
        if rate >= rule["officer_rate_below"]:
            continue
        who = names.get(row.officer_id, row.officer_id)
        shown = f"{rate:.1f}".replace(".", ",")
        msg = (f"[{row.officer_id} {row.month}] {who}: tỷ lệ hài lòng {shown}% ({satisfied}/{valid}) "
               f"dưới ngưỡng {rule['officer_rate_below']:g}% trong {_month_label(row.month)}")
        out.append(Alert("low_rate", msg, row.last, subject=row.officer_id))
    return out


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
    hours = float(rules(conn)["kiosk_silent_hours"])
    k, a = db.kiosks, db.alerts
    already = set(conn.execute(select(a.c.subject).where(a.c.kind == "silent", a.c.open_key.is_not(None))).scalars())
    causes = []
    for kiosk in conn.execute(select(k.c.id, k.c.last_seen, k.c.enrolled_at).where(k.c.revoked.is_(False))):
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
    return raise_alerts(conn, causes, now)


def heard_from(conn: Connection, kiosk_id: str, now: datetime | None = None) -> None:
    """A kiosk made contact: its silent alert, if any, is over."""
    resolve(conn, db.alerts.c.open_key == f"silent|{kiosk_id}", "the kiosk made contact again", now=now)
