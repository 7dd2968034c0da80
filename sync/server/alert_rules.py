"""Alerts the admin pages raise on top of the ones ingest raises (gap, chain, clock_skew…).

Each rule writes into the same ``alerts`` table, once per cause, so that an
acknowledgement and its note are kept like any other alert:

* ``nhung_nhieu`` — a rating that names harassment (one alert per rating;
  ratings are scanned incrementally from the last pk seen);
* ``low_rate`` — an officer whose satisfaction rate in the current or the
  previous month is under the threshold, with enough valid ratings to mean
  something (one alert per officer and month);
* ``silent`` — a kiosk not heard from for too long (one open alert per kiosk).

Thresholds live in the ``alert_rules`` setting; DEFAULT_RULES says what they are.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, select

from . import db, periods
from .settings import get_setting, set_setting
from .stats import Filter, Stats

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
}


def rules(conn) -> dict:
    return {**DEFAULT_RULES, **(get_setting(conn, "alert_rules", {}) or {})}


def _now_iso(now: datetime) -> str:
    return now.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _add(conn, kind: str, message: str, now: datetime, **extra) -> None:
    conn.execute(db.alerts.insert().values(kind=kind, message=message, created_at=_now_iso(now), **extra))


def _harassment(conn, now: datetime, names: dict) -> int:
    r = db.ratings
    last = int(get_setting(conn, "alerts_scanned_pk", 0) or 0)
    top = conn.execute(select(func.max(r.c.pk))).scalar() or 0
    rows = conn.execute(select(r.c.id, r.c.kiosk_id, r.c.seq, r.c.officer_id, r.c.desk_id,
                               r.c.corrected_at, r.c.comment)
                        .where(r.c.pk > last, r.c.pk <= top, r.c.reasons.like('%"nhung_nhieu"%'))
                        .order_by(r.c.pk)).all()
    for row in rows:
        who = names["officer"].get(row.officer_id, row.officer_id)
        at = datetime.fromisoformat(row.corrected_at).astimezone(periods.VN_TZ).strftime("%d/%m/%Y %H:%M")
        msg = f"Phản ánh nhũng nhiễu đối với {who} ({row.desk_id}) lúc {at}"
        if row.comment:
            msg += f": “{row.comment}”"
        _add(conn, "nhung_nhieu", msg, now, kiosk_id=row.kiosk_id, rating_id=row.id,
             seq_from=row.seq, seq_to=row.seq)
    if top != last:
        set_setting(conn, "alerts_scanned_pk", top)
    return len(rows)


def _silent(conn, now: datetime, hours: float) -> int:
    k, a = db.kiosks, db.alerts
    added = 0
    for kiosk in conn.execute(select(k).where(k.c.revoked.is_(False))).mappings():
        seen = kiosk["last_seen"] or kiosk["enrolled_at"]
        try:
            seen_at = datetime.fromisoformat(seen)
        except (TypeError, ValueError):
            continue
        if seen_at.tzinfo is None:
            seen_at = seen_at.replace(tzinfo=timezone.utc)
        if now - seen_at < timedelta(hours=hours):
            continue
        open_one = conn.execute(select(a.c.id).where(and_(
            a.c.kind == "silent", a.c.kiosk_id == kiosk["id"], a.c.resolved_at.is_(None)))).first()
        if open_one is None:
            local = seen_at.astimezone(periods.VN_TZ).strftime("%d/%m/%Y %H:%M")
            verb = "gửi dữ liệu lần cuối" if kiosk["last_seen"] else "được đăng ký"
            _add(conn, "silent", f"Ki-ốt {kiosk['id']} {verb} lúc {local}, đã hơn {hours:g} giờ không liên lạc",
                 now, kiosk_id=kiosk["id"])
            added += 1
    return added


def _low_rate_candidates(engine, now: datetime, rule: dict, scale: int, read_engine=None) -> list:
    """(period, figures) of officers under the threshold this month and last month (reads only)."""
    today = now.astimezone(periods.VN_TZ).date()
    this = periods.containing("month", today)
    prev = periods.containing("month", this.first_day - timedelta(days=1))
    stats = Stats(engine, db.ratings, "corrected_at", scale=scale, rollup=True, read_engine=read_engine)
    return [(period, fig) for period in (prev, this)
            for fig in stats.dashboard(Filter(period), "month", comments=0).by["officer"]
            if fig.valid >= rule["officer_min_ratings"] and fig.rate is not None
            and fig.rate < rule["officer_rate_below"]]


def _low_rate(conn, candidates: list, now: datetime, rule: dict, names: dict) -> int:
    added = 0
    for period, fig in candidates:
        tag = f"[{fig.key} {period.key}]"
        exists = conn.execute(select(db.alerts.c.id).where(
            db.alerts.c.kind == "low_rate", db.alerts.c.message.startswith(tag, autoescape=True))).first()
        if exists is None:
            who = names["officer"].get(fig.key, fig.key)
            rate = f"{fig.rate:.1f}".replace(".", ",")
            _add(conn, "low_rate", f"{tag} {who}: tỷ lệ hài lòng {rate}% ({fig.satisfied}/{fig.valid}) "
                                    f"dưới ngưỡng {rule['officer_rate_below']:g}% trong "
                                    f"{period.label().lower()}", now)
            added += 1
    return added


def refresh(engine, names: dict, scale: int = 3, now: datetime | None = None, read_engine=None) -> int:
    """Run every rule; returns how many alerts were added."""
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        rule = rules(conn)
    # reads first: the write transaction below holds SQLite's write lock
    candidates = _low_rate_candidates(engine, now, rule, scale, read_engine)
    with engine.begin() as conn:
        added = _harassment(conn, now, names)
        added += _silent(conn, now, float(rule["kiosk_silent_hours"]))
        added += _low_rate(conn, candidates, now, rule, names)
    return added
