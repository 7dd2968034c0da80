"""People are told: new cases and alert groups become messages in an outbox; a sender delivers them.

Two halves, no HTTP framework:

* :func:`scan` — ONE short write transaction (the caller holds the writer
  lock): the case events (``opened``, ``reopened``) and alert rows past the
  cursor kept in the settings (``notify_cursor``) become ``notifications``
  rows, one per channel + target + source (an insert that meets the unique
  constraint is dropped: two server processes scanning the same events never
  queue a message twice), and the cursor moves in the same transaction. An
  alert row is a NEW alert group (a second cause of the group adds to its
  ``count``, it makes no row), so there is one message per group, never one
  per count. An alert that a case stands for (``case_links.alert_id``) is told
  as that case; ``case_overdue`` is told by the daily digest. Once per local
  day, each user of a unit with overdue cases gets the digest of them.
* :class:`Notifier` — one thread per server process (app lifespan). It wakes
  when the writer engine commits (a batch, an admin's action: a nudge that
  costs an Event.set()), when the next retry is due, and every ``interval``
  seconds (what another server process wrote). It scans when there is
  something past the cursor, then claims the due rows (their next_try_at
  moved ahead by a lease, in a short transaction: two processes never send
  one row at once), delivers outside any transaction — SMTP (STARTTLS when
  the server offers it) and HTTP, both with timeouts — and records
  ``sent_at``, or ``last_error``, ``attempts`` and a ``next_try_at`` with
  exponential backoff and jitter (capped at an hour). After
  :data:`MAX_ATTEMPTS` it gives up; the kiosks page shows it.

Who is told: each user with an e-mail address whose unit the case or alert
concerns (``users.unit_code`` NULL: every unit), and the unit's webhook
(setting ``webhooks`` = {unit code: URL}), which receives JSON a province can
relay to Zalo or SMS gateways. The unit of a case or alert: the case's
``unit_code``, else its kiosk's unit, else the unit of its officer's desk.
Without ``--smtp`` no e-mail rows are written (the webhook still works).

A rating's comment is never told beyond its first :data:`COMMENT_CHARS`
characters. The SMTP URL's password is never logged or shown
(:func:`shown_smtp`).
"""
from __future__ import annotations

import html
import json
import logging
import random
import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import quote, unquote, urlencode, urlsplit

from sqlalchemy import event, func, or_, select

from sync.server.core import cases as case_rules
from sync.server.core import db
from sync.server.core import leases
from sync.server.core.alerts import KIND_LABELS, Words, describe
from sync.server.core.cases import (
    COMMENT_CHARS,  # never more of a rating's comment in a message
)
from sync.server.core.clock import iso, parse_stored, utcnow
from sync.server.core.settings import get_setting, set_setting
from sync.server.core.sql import dialect_insert, json_object

log = logging.getLogger("hailong.server")

CURSOR_KEY = "notify_cursor"          # {"event": last case_events.id told, "alert": last alerts.id told}
DIGEST_KEY = "notify_digest_day"      # the local day whose digest was written
WEBHOOKS_KEY = "webhooks"             # {unit code: http(s) URL}
MAX_ATTEMPTS = 12                     # then the row is given up (shown on the kiosks page)
RETRY_CAP = 3600.0                    # seconds: the longest wait between two tries
LEASE = timedelta(minutes=5)          # a claimed row is not claimed again before (longer than any timeout)
SMTP_TIMEOUT = 20.0
HTTP_TIMEOUT = (5.0, 15.0)            # connect, read
BATCH = 50                            # rows claimed per round
SCAN_LIMIT = 50                       # case events / alerts told per scan transaction (~0.5 s under the lock)
SUBJECT_PREFIX = "[Hài lòng]"

#: kinds whose subject is an officer (the others are about a kiosk)
OFFICER_KINDS = frozenset({"nhung_nhieu", "low_rate", "unknown_officer"})
#: never an alert message of its own: the digest tells them
DIGEST_ONLY = frozenset({"case_overdue"})

_URL = re.compile(r"^https?://[^\s/?#@]+(:[0-9]{1,5})?([/?#]\S*)?$", re.I)
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")


class BadAddress(ValueError):
    """An e-mail address, webhook URL or SMTP URL that cannot be used (the message says which)."""


def valid_email(value: str) -> str:
    """The address trimmed, or BadAddress: one plain ``name@domain.tld``, at most 200 characters."""
    text = (value or "").strip()
    if len(text) > 200 or not _EMAIL.match(text):
        raise BadAddress(f"e-mail: not an address like name@example.vn, got {text[:80]!r}")
    return text


def valid_webhook(value: str) -> str:
    """A webhook URL trimmed, or BadAddress: http:// or https://, a host, at most 500 characters."""
    text = (value or "").strip()
    if len(text) > 500 or not _URL.match(text):
        raise BadAddress(f"webhook: not an http:// or https:// address, got {text[:80]!r}")
    return text


# --- the SMTP server -------------------------------------------------------------------------

@dataclass(frozen=True)
class Smtp:
    """Where e-mail goes: ``smtp://[user:password@]host:port[?from=address]`` (``smtps://``: TLS at once)."""
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    tls: bool = False                 # smtps: TLS from the first byte; smtp: STARTTLS when offered
    sender: str = ""

    def __repr__(self) -> str:        # never the password, wherever it is printed
        return f"Smtp({shown_smtp(self)!r})"


def parse_smtp(url: str) -> Smtp:
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadAddress("smtp: not a URL like smtp://user:password@host:587") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise BadAddress("smtp: not a URL like smtp://user:password@host:587")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    sender = unquote(query.get("from", ""))
    if sender:
        sender = valid_email(sender)
    elif user and "@" in user:
        sender = user
    else:
        sender = f"hailong@{socket.getfqdn() or 'localhost'}"
        if "." not in sender.split("@", 1)[1]:
            sender += ".local"
    return Smtp(parts.hostname, port or (465 if parts.scheme == "smtps" else 25), user, password,
                parts.scheme == "smtps", sender)


def shown_smtp(smtp: Smtp | None) -> str:
    """The SMTP server as logs and pages may show it: the password hidden."""
    if smtp is None:
        return ""
    who = f"{quote(smtp.user, safe='@')}:***@" if smtp.user else ""
    return f"{'smtps' if smtp.tls else 'smtp'}://{who}{smtp.host}:{smtp.port}"


# --- reading what is told --------------------------------------------------------------------

def clip(text: str | None, n: int = COMMENT_CHARS) -> str | None:
    """A citizen's comment as a message may carry it: its first ``n`` characters (… when cut)."""
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= n else text[:n].rstrip() + "…"


def scrub(text, comments, n: int = 300) -> str:
    """A text worded from ratings (a title, an alert's stored message, a reopening's cause) with each of
    their ``comments`` cut to its first COMMENT_CHARS characters, then at most ``n`` characters."""
    text = str(text or "")
    for comment in comments:
        if comment and len(comment) > COMMENT_CHARS:
            text = text.replace(comment, clip(comment))
    return clip(text, n)


def _case_kind(kind: str) -> str:
    """A case's kind as a subject line words it: "phản ánh nhũng nhiễu"."""
    label = case_rules.KIND_LABELS.get(kind, kind)
    return label[:1].lower() + label[1:]


def _case_status(status: str) -> str:
    return case_rules.STATUS_LABELS.get(status, status).lower()


def _local_date(value: str | None) -> str:
    """YYYY-MM-DD (a case's due date) as an admin reads it: 09/12/2026."""
    try:
        y, m, d = str(value).split("-")
        return f"{d}/{m}/{y}"
    except ValueError:
        return str(value or "—")


class Roster:
    """Names and units, read once per scan."""

    def __init__(self, conn):
        self.words = Words.from_roster(conn)
        d, o, k, u = db.desks, db.officers, db.kiosks, db.units
        desk_unit = dict(conn.execute(select(d.c.id, d.c.unit_code)).all())
        self.officer_unit = {oid: desk_unit.get(desk) for oid, desk in
                             conn.execute(select(o.c.id, o.c.desk_id)).all()}
        self.kiosk_unit = dict(conn.execute(select(k.c.id, k.c.unit_code)).all())
        self.unit_names = dict(conn.execute(select(u.c.code, u.c.name)).all())

    def unit_of(self, unit_code=None, kiosk_id=None, officer_id=None) -> str | None:
        """The case's unit, else its kiosk's, else its officer's desk's."""
        return unit_code or self.kiosk_unit.get(kiosk_id) or self.officer_unit.get(officer_id) or None

    def unit_words(self, code: str | None) -> str:
        if not code:
            return "—"
        name = self.unit_names.get(code)
        return f"{name} ({code})" if name else code

    def officer_words(self, officer_id: str | None) -> str:
        if not officer_id:
            return ""
        desk = self.words.officer_desk(officer_id)
        name = self.words.officer(officer_id)
        return f"{name} — {desk}" if desk else name


def recipients(conn, unit: str | None) -> list[str]:
    """The e-mail addresses told of a unit's cases and alerts: its users' and every-unit users'."""
    us = db.users
    where = [us.c.email.is_not(None), us.c.email != ""]
    where.append(or_(us.c.unit_code.is_(None), us.c.unit_code == "", us.c.unit_code == unit)
                 if unit else or_(us.c.unit_code.is_(None), us.c.unit_code == ""))
    return sorted(set(conn.execute(select(us.c.email).where(*where)).scalars()))


def webhooks(conn) -> dict[str, str]:
    held = get_setting(conn, WEBHOOKS_KEY, {}) or {}
    return {k: v for k, v in held.items() if isinstance(k, str) and isinstance(v, str) and v} \
        if isinstance(held, dict) else {}


def set_webhook(conn, unit_code: str, url: str | None) -> str | None:
    """Set (or, with an empty ``url``, remove) a unit's webhook; returns the URL kept."""
    held = webhooks(conn)
    if url and url.strip():
        held[unit_code] = valid_webhook(url)
    else:
        held.pop(unit_code, None)
    set_setting(conn, WEBHOOKS_KEY, held)
    return held.get(unit_code)


@dataclass
class Message:
    """What one source tells, before it is written for each target."""
    source: str
    unit: str | None
    subject: str
    text: str                       # the mail's text, without the footer
    payload: dict                   # the webhook's JSON


def _footer(target: str, unit_words: str) -> str:
    return ("\n\n—\nThư này do hệ thống khảo sát Hài lòng gửi tự động tới {to} (đơn vị: {unit}). "
            "Không trả lời thư này.").format(to=target, unit=unit_words)


def _case_source(ev) -> str:
    """The outbox's source of a case event: case:12, or case:12:reopened:345 (each reopening is news)."""
    if ev["kind"] == "reopened":
        return f"case:{ev['case_id']}:reopened:{ev['id']}"
    return f"case:{ev['case_id']}"


def _case_message(conn, roster: Roster, ev, case, base_url: str) -> Message:
    """The message of a case opened or reopened."""
    cid = case["id"]
    reopened = ev["kind"] == "reopened"
    unit = roster.unit_of(case["unit_code"], case["kiosk_id"], case["officer_id"])
    kind = _case_kind(case["kind"])
    who = roster.words.officer(case["officer_id"]) if case["officer_id"] else (
        f"ki-ốt {roster.words.kiosk(case['kiosk_id'])}" if case["kiosk_id"] else "")
    head = f"Vụ việc số {cid}" + (" mở lại" if reopened else "")
    subject = f"{SUBJECT_PREFIX} {head}: {kind}" + (f" — {who}" if who else "")
    links = db.case_links
    alert_rows = conn.execute(select(db.alerts).join(links, links.c.alert_id == db.alerts.c.id)
                              .where(links.c.case_id == cid).order_by(db.alerts.c.id)).mappings().all()
    r = db.ratings
    ratings = conn.execute(select(r.c.id, r.c.comment, r.c.corrected_at, r.c.level)
                           .join(links, links.c.rating_id == r.c.id).where(links.c.case_id == cid)
                           .order_by(r.c.pk)).mappings().all()
    said = [x["comment"] for x in ratings if x["comment"]]
    causes, count = [], 0
    for a in alert_rows:
        text = _alert_text(conn, roster, a, said, quote=False)
        count += int(a["count"] or 1)
        causes.append(f"  • {text}" + (f" ({a['count']} lần)" if (a["count"] or 1) > 1 else ""))
    title = scrub(case["title"], said)
    comments = [clip(x) for x in said]
    link = f"{base_url}/admin/cases/{cid}"
    lines = [f"{head} — {kind[:1].upper() + kind[1:]}", title, ""]
    if reopened:
        lines.append(f"Vụ việc đã đóng được mở lại (lần {case['reopened'] or 1})"
                     + (f": {scrub(ev['text'], said)}" if ev["text"] else "") + ".")
    if case["officer_id"]:
        lines.append(f"Cán bộ: {roster.officer_words(case['officer_id'])}")
    if case["kiosk_id"]:
        lines.append(f"Ki-ốt: {roster.words.kiosk(case['kiosk_id'])}")
    lines.append(f"Đơn vị: {roster.unit_words(unit)}")
    if case["month"]:
        lines.append(f"Kỳ: {roster.words.month(case['month'])}")
    if causes:
        lines.append("Nguyên nhân:")
        lines += causes
    lines.append(f"Số lượt đánh giá liên quan: {len(ratings)}" if ratings else
                 f"Số lần ghi nhận: {count}" if count else "")
    if comments:
        lines.append(f"Ý kiến của công dân (tối đa {COMMENT_CHARS} ký tự đầu):")
        lines += [f"  “{c}”" for c in comments[-3:]]
    lines.append(f"Hạn xử lý: {_local_date(case['due_date'])}")
    if case["owner"]:
        lines.append(f"Người phụ trách: {case['owner']}")
    lines += ["", f"Xem và xử lý vụ việc: {link}"]
    payload = {"event": "case_reopened" if reopened else "case_opened", "unit": unit, "url": link, "case": {
        "id": cid, "kind": case["kind"], "kind_text": kind, "title": title, "status": case["status"],
        "officer_id": case["officer_id"], "officer": roster.words.officer(case["officer_id"])
        if case["officer_id"] else None, "kiosk_id": case["kiosk_id"], "month": case["month"],
        "opened_at": case["opened_at"], "due_date": case["due_date"], "owner": case["owner"],
        "reopened": case["reopened"], "ratings": len(ratings), "count": count,
        "comments": comments[-3:]}}
    return Message(_case_source(ev), unit, subject, "\n".join(x for x in lines if x is not None), payload)


def _alert_text(conn, roster: Roster, a, comments=(), quote: bool = True) -> str:
    """An alert in words, a citizen's comment in it cut to COMMENT_CHARS: worded from its params, else its
    stored message (an alert raised before params were kept) with its rating's comment cut.
    ``quote``: False leaves the comment out (a case's mail quotes its ratings' comments on their own)."""
    params = json_object(a["params"])
    if "comment" in params:
        params["comment"] = clip(params["comment"]) if quote else None
    text = describe(a["kind"], params, roster.words)
    if text is not None:
        return text
    comments = list(comments)
    if a["rating_id"]:
        comments.append(conn.execute(select(db.ratings.c.comment).where(db.ratings.c.id == a["rating_id"])).scalar())
    return scrub(a["message"], comments)


def _alert_message(conn, roster: Roster, a, base_url: str) -> Message:
    """The message of a new alert group that no case stands for."""
    params = json_object(a["params"])
    officer = params.get("officer") or (a["subject"] if a["kind"] in OFFICER_KINDS else None)
    kiosk = a["kiosk_id"] or params.get("kiosk")
    unit = roster.unit_of(None, kiosk, officer)
    label = KIND_LABELS.get(a["kind"], a["kind"])
    text = _alert_text(conn, roster, a)
    who = roster.words.officer(officer) if officer else (f"ki-ốt {roster.words.kiosk(kiosk)}" if kiosk else "")
    query = {k: v for k, v in (("kind", a["kind"]), ("subject", a["subject"]), ("month", a["month"])) if v}
    link = f"{base_url}/admin/alerts?{urlencode(query)}"
    lines = [f"Cảnh báo mới: {label}", text, ""]
    if officer:
        lines.append(f"Cán bộ: {roster.officer_words(officer)}")
    if kiosk:
        lines.append(f"Ki-ốt: {roster.words.kiosk(kiosk)}")
    lines.append(f"Đơn vị: {roster.unit_words(unit)}")
    if a["month"]:
        lines.append(f"Kỳ: {roster.words.month(a['month'])}")
    lines.append(f"Số lần ghi nhận đến lúc này: {a['count'] or 1}")
    lines += ["", f"Xem cảnh báo: {link}"]
    payload = {"event": "alert", "unit": unit, "url": link, "alert": {
        "id": a["id"], "kind": a["kind"], "kind_text": label, "text": text, "subject": a["subject"],
        "officer_id": officer, "officer": roster.words.officer(officer) if officer else None,
        "kiosk_id": kiosk, "month": a["month"], "count": a["count"], "happened_at": a["happened_at"]}}
    return Message(f"alert:{a['id']}", unit, f"{SUBJECT_PREFIX} Cảnh báo: {label}" + (f" — {who}" if who else ""),
                   "\n".join(lines), payload)


def overdue_cases(conn, now: datetime) -> list[dict]:
    """The cases overdue today (core/cases' rule), oldest due first."""
    _total, rows = case_rules.list_cases(conn, status="overdue", order="id", limit=5000, now=now)
    return sorted(rows, key=lambda c: (c["due_date"], c["id"]))


def _digest_text(roster: Roster, rows: list[dict], today: str, base_url: str) -> str:
    lines = [f"Các vụ việc quá hạn xử lý đến ngày {_local_date(today)}: {len(rows)}", ""]
    for c in rows:
        who = roster.words.officer(c["officer_id"]) if c["officer_id"] else (
            f"ki-ốt {c['kiosk_id']}" if c["kiosk_id"] else "")
        lines.append(f"• Vụ việc số {c['id']} — {_case_kind(c['kind'])}"
                     + (f" — {who}" if who else "")
                     + f"; hạn {_local_date(c['due_date'])}; {_case_status(c['status'])}"
                     + (f"; phụ trách: {c['owner']}" if c["owner"] else ""))
        lines.append(f"  {base_url}/admin/cases/{c['id']}")
    lines += ["", f"Danh sách vụ việc: {base_url}/admin/cases"]
    return "\n".join(lines)


# --- the scan: what is new becomes outbox rows ------------------------------------------------

def _insert_ignore(conn):
    return dialect_insert(conn)(db.notifications).on_conflict_do_nothing(
        index_elements=[db.notifications.c.channel, db.notifications.c.target, db.notifications.c.source])


def tops(conn) -> dict:
    """The highest case event and alert ids: where a new cursor starts."""
    return {"event": conn.execute(select(func.max(db.case_events.c.id))).scalar() or 0,
            "alert": conn.execute(select(func.max(db.alerts.c.id))).scalar() or 0}


def ensure_cursor(conn) -> dict:
    """The scan's cursor; a town that never had one starts at what it holds now (its past is not mailed)."""
    cur = get_setting(conn, CURSOR_KEY)
    if not isinstance(cur, dict):
        cur = tops(conn)
        set_setting(conn, CURSOR_KEY, cur)
    return cur


def _today(now: datetime) -> str:
    return case_rules.local_today(now).isoformat()


def pending_scan(conn, now: datetime | None = None) -> bool:
    """Whether :func:`scan` has something to do (a read: the sender asks before it takes the writer lock)."""
    cur = get_setting(conn, CURSOR_KEY)
    if not isinstance(cur, dict):
        return True
    top = tops(conn)
    if top["event"] > int(cur.get("event", 0)) or top["alert"] > int(cur.get("alert", 0)):
        return True
    return _digest_due(conn, now or utcnow())


def _digest_due(conn, now: datetime) -> bool:
    """Today's digest is not written yet and some case is overdue (a day with none writes none; the first
    scan after one falls overdue writes it)."""
    return get_setting(conn, DIGEST_KEY) != _today(now) and case_rules.count_overdue(conn, now) > 0


def scan(conn, *, email: bool, base_url: str, now: datetime | None = None) -> int:
    """Write the outbox rows of what is new since the cursor (and today's digest); move the cursor.

    Runs inside the caller's write transaction; returns how many rows were written.
    ``email``: whether e-mail rows are written (the server was given --smtp).
    """
    now = now or utcnow()
    base_url = base_url.rstrip("/")
    cur = ensure_cursor(conn)
    top = tops(conn)
    start_ev, start_al = int(cur.get("event", 0)), int(cur.get("alert", 0))
    hold = conn.dialect.name == "postgresql"     # see SETTLE
    settled = iso(now - SETTLE)
    next_ev, next_al = top["event"], top["alert"]
    messages: list[Message] = []
    roster = None
    n = db.notifications

    def told(source: str) -> bool:
        return conn.execute(select(n.c.id).where(n.c.source == source).limit(1)).first() is not None
    if top["event"] > start_ev or top["alert"] > start_al:
        roster = Roster(conn)
        e, c = db.case_events, db.cases
        events = conn.execute(select(e).where(e.c.id > start_ev, e.c.id <= top["event"],
                                              e.c.kind.in_(("opened", "reopened"))).order_by(e.c.id)
                              .limit(SCAN_LIMIT)).mappings().all()
        if len(events) == SCAN_LIMIT:      # the rest at the next scan: the writer lock is held briefly
            next_ev = events[-1]["id"]
        for ev in events:
            if hold and ev["at"] >= settled:       # seen again next time: the cursor stays before it
                next_ev = min(next_ev, ev["id"] - 1)
            case = conn.execute(select(c).where(c.c.id == ev["case_id"])).mappings().first()
            if case is not None and not told(_case_source(ev)):
                messages.append(_case_message(conn, roster, ev, case, base_url))
        a, links = db.alerts, db.case_links
        has_case = select(links.c.id).where(links.c.alert_id == a.c.id).exists()
        found = conn.execute(select(a).where(a.c.id > start_al, a.c.id <= top["alert"],
                                             a.c.kind.not_in(DIGEST_ONLY), ~has_case)
                             .order_by(a.c.id).limit(SCAN_LIMIT)).mappings().all()
        if len(found) == SCAN_LIMIT:
            next_al = found[-1]["id"]
        for alert in found:
            if hold and alert["created_at"] >= settled:
                next_al = min(next_al, alert["id"] - 1)
            if not told(f"alert:{alert['id']}"):
                messages.append(_alert_message(conn, roster, alert, base_url))
    hooks = webhooks(conn)
    created = iso(now)
    rows: list[dict] = []

    def queue(channel, target, source, subject, body):
        rows.append({"channel": channel, "target": target, "source": source[:100], "subject": subject,
                     "body": body, "created_at": created, "next_try_at": created, "attempts": 0})

    told_to: dict[str | None, list[str]] = {}
    for m in messages:
        unit_words = roster.unit_words(m.unit)
        if email:
            if m.unit not in told_to:
                told_to[m.unit] = recipients(conn, m.unit)
            for to in told_to[m.unit]:
                queue("email", to, m.source, m.subject, m.text + _footer(to, unit_words))
        if m.unit and hooks.get(m.unit):
            queue("webhook", hooks[m.unit], m.source, m.subject, json.dumps(m.payload, ensure_ascii=False))
    today = _today(now)
    if _digest_due(conn, now):
        _digest(conn, roster or Roster(conn), now, email, hooks, base_url, queue)
        set_setting(conn, DIGEST_KEY, today)
    # the rows actually inserted (a source already in the outbox is skipped): counted from RETURNING,
    # since a driver's executemany rowcount is -1 (psycopg) where SQLite's is the sum
    written = (len(conn.execute(_insert_ignore(conn).returning(db.notifications.c.id), rows).all())
               if rows else 0)
    set_setting(conn, CURSOR_KEY, {"event": max(next_ev, start_ev), "alert": max(next_al, start_al)})
    return written


#: PostgreSQL: how long a write transaction may take at most (SQLite has one writer at a time: its ids
#: commit in their order and the cursor moves at once). Ids are handed out when rows are
#: inserted, not when they commit: a batch that took id 10 may commit after one that took 11. The
#: cursor stays before rows younger than this, so a scan that saw 11 sees 10 too once it commits (what
#: is seen twice is not queued twice: its source is in the outbox).
SETTLE = timedelta(seconds=60)


def _digest(conn, roster: Roster, now: datetime, email: bool, hooks: dict, base_url: str, queue) -> None:
    """Today's digest of overdue cases: to each user (their unit's, or every unit's) and each unit's webhook."""
    today = _today(now)
    rows = overdue_cases(conn, now)
    if not rows:
        return
    for c in rows:
        c["_unit"] = roster.unit_of(c["unit_code"], c["kiosk_id"], c["officer_id"])
    source = f"digest:{today}"
    subject_of = lambda n: f"{SUBJECT_PREFIX} {n} vụ việc quá hạn xử lý ngày {_local_date(today)}"  # noqa: E731
    if email:
        us = db.users
        for unit_code, to in conn.execute(select(us.c.unit_code, us.c.email).where(
                us.c.email.is_not(None), us.c.email != "").order_by(us.c.username)).all():
            mine = [c for c in rows if not unit_code or c["_unit"] == unit_code]
            if mine:
                queue("email", to, source, subject_of(len(mine)),
                      _digest_text(roster, mine, today, base_url) + _footer(to, roster.unit_words(unit_code)
                                                                            if unit_code else "mọi đơn vị"))
    for unit_code, url in hooks.items():
        mine = [c for c in rows if c["_unit"] == unit_code]
        if mine:
            queue("webhook", url, source, subject_of(len(mine)), json.dumps({
                "event": "digest", "unit": unit_code, "date": today, "url": f"{base_url}/admin/cases",
                "cases": [{"id": c["id"], "kind": c["kind"], "title": clip(c["title"], 300),
                           "officer_id": c["officer_id"], "kiosk_id": c["kiosk_id"], "due_date": c["due_date"],
                           "status": c["status"], "owner": c["owner"],
                           "url": f"{base_url}/admin/cases/{c['id']}"} for c in mine]}, ensure_ascii=False))


# --- the sender ---------------------------------------------------------------------------------

def backoff(attempts: int, base: float, cap: float = RETRY_CAP) -> float:
    """Seconds before try ``attempts + 1``: base·2ⁿ⁻¹ capped at ``cap``, jittered between half and all of it
    (so rows that failed together do not all knock again at the same instant)."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _html(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"(https?://[^\s&]+(?:&amp;[^\s&]+)*)", r'<a href="\1">\1</a>', out)
    return ("<!doctype html><html><body><pre style=\"font-family: sans-serif; white-space: pre-wrap\">"
            f"{out}</pre></body></html>")


def mail(row, smtp: Smtp) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = row["subject"]
    msg["From"] = formataddr(("Hài lòng", smtp.sender))
    msg["To"] = row["target"]
    msg["Message-ID"] = make_msgid(domain=smtp.sender.split("@", 1)[-1])
    msg["X-Hailong-Source"] = row["source"]
    msg.set_content(row["body"])
    msg.add_alternative(_html(row["body"]), subtype="html")
    return msg


class Notifier:
    """The sender thread of one server process: start() in the app's lifespan, stop() at shutdown."""

    def __init__(self, engine, reader, write_lock, *, smtp: str | Smtp | None = None,
                 base_url: str = "http://127.0.0.1:8080", interval: float = 60.0, retry_base: float = 30.0,
                 now=utcnow):
        self.engine, self.reader, self.write_lock = engine, reader, write_lock
        self.smtp = parse_smtp(smtp) if isinstance(smtp, str) and smtp else smtp or None
        self.base_url = base_url.rstrip("/")
        self.interval, self.retry_base, self.now = interval, retry_base, now
        self._wake, self._stop = threading.Event(), threading.Event()
        self._local = threading.local()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.last_error: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return ("email", "webhook") if self.smtp else ("webhook",)

    # waking: SQLAlchemy's "commit" event comes BEFORE the commit is done (a reader would not see it
    # yet), so a commit only marks its thread, and the connection going back to the pool, after the
    # commit, nudges the sender
    def _committed(self, *_args) -> None:
        self._local.committed = True

    def _returned(self, *_args) -> None:
        if getattr(self._local, "committed", False):
            self._local.committed = False
            self.nudge()

    def nudge(self) -> None:
        """Something was committed: look soon (a commit of the sender's own thread is not news)."""
        if threading.current_thread() is not self._thread:
            self._wake.set()

    def start(self) -> None:
        from sqlalchemy.exc import IntegrityError
        try:
            with self.write_lock, self.engine.begin() as conn:
                ensure_cursor(conn)       # before the first request: nothing that arrives is missed
        except IntegrityError:            # another server process starting at the same instant made it
            pass
        event.listen(self.engine, "commit", self._committed)
        event.listen(self.engine, "checkin", self._returned)
        self._thread = threading.Thread(target=self._run, name="hailong-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        for name, fn in (("commit", self._committed), ("checkin", self._returned)):
            if event.contains(self.engine, name, fn):
                event.remove(self.engine, name, fn)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict:
        return {"running": bool(self._thread and self._thread.is_alive()), "rounds": self.rounds,
                "error": self.last_error, "smtp": shown_smtp(self.smtp) or None}

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.round()
                self.last_error = None
            except Exception as exc:   # noqa: BLE001 - logged, tried again next round
                self.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
                log.warning("notifications round failed", exc_info=True)
            self.rounds += 1
            self._wake.wait(self._next_wait())

    def _next_wait(self) -> float:
        """Until the next row is due (a retry), at most ``interval`` seconds."""
        try:
            with self.reader.connect() as conn:
                n = db.notifications
                due = conn.execute(select(func.min(n.c.next_try_at)).where(
                    n.c.sent_at.is_(None), n.c.attempts < MAX_ATTEMPTS, n.c.channel.in_(self.channels))).scalar()
        except Exception:   # noqa: BLE001 - the round's own error says it
            return self.interval
        at = parse_stored(due)
        if at is None:
            return self.interval
        return max(0.01, min(self.interval, (at - self.now()).total_seconds()))

    def round(self) -> int:
        """Scan if there is news, then deliver what is due; returns how many were delivered."""
        now = self.now()
        with self.reader.connect() as conn:
            news = pending_scan(conn, now)
        while news and not self._stop.is_set():     # a backlog: one short transaction at a time
            with self.write_lock, self.engine.begin() as conn:
                if not leases.take(conn, "notify_scan"):   # another process is scanning (core/leases.py)
                    break
                before = get_setting(conn, CURSOR_KEY)
                scan(conn, email=self.smtp is not None, base_url=self.base_url, now=now)
                moved = get_setting(conn, CURSOR_KEY) != before
            with self.reader.connect() as conn:
                news = moved and pending_scan(conn, now)
        sent = 0
        while not self._stop.is_set():
            rows = self._claim(self.now())
            if not rows:
                return sent
            results = self._deliver(rows)
            self._record(results)
            sent += sum(1 for _r, err in results if err is None)

    def _claim(self, now: datetime) -> list[dict]:
        """Take up to BATCH due rows: each one's next_try_at moved by the lease, only if no one moved it first."""
        n = db.notifications
        stamp = iso(now)
        with self.write_lock, self.engine.begin() as conn:
            rows = conn.execute(select(n).where(n.c.sent_at.is_(None), n.c.next_try_at <= stamp,
                                                n.c.attempts < MAX_ATTEMPTS, n.c.channel.in_(self.channels))
                                .order_by(n.c.next_try_at, n.c.id).limit(BATCH)).mappings().all()
            mine = []
            lease = iso(now + LEASE)
            for row in rows:
                took = conn.execute(n.update().where(n.c.id == row["id"], n.c.sent_at.is_(None),
                                                     n.c.next_try_at == row["next_try_at"])
                                    .values(next_try_at=lease, attempts=n.c.attempts + 1)).rowcount
                if took:
                    mine.append({**dict(row), "attempts": row["attempts"] + 1})
        return mine

    def _deliver(self, rows: list[dict]) -> list[tuple[dict, str | None]]:
        out = []
        mails = [r for r in rows if r["channel"] == "email"]
        if mails:
            out += self._send_mails(mails)
        for r in rows:
            if r["channel"] == "webhook":
                out.append((r, self._post(r)))
        return out

    def _send_mails(self, rows: list[dict]) -> list[tuple[dict, str | None]]:
        s = self.smtp
        try:
            client = (smtplib.SMTP_SSL(s.host, s.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
                      if s.tls else smtplib.SMTP(s.host, s.port, timeout=SMTP_TIMEOUT))
        except (OSError, smtplib.SMTPException) as exc:
            why = _error(exc)
            return [(r, why) for r in rows]
        out = []
        try:
            client.ehlo()
            if not s.tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if s.user:
                client.login(s.user, s.password or "")
            for r in rows:
                try:
                    client.send_message(mail(r, s))
                    out.append((r, None))
                except smtplib.SMTPRecipientsRefused as exc:
                    out.append((r, _error(exc)))
        except (OSError, smtplib.SMTPException) as exc:
            why = _error(exc)
            done = {id(r) for r, _e in out}
            out += [(r, why) for r in rows if id(r) not in done]
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return out

    def _post(self, row: dict) -> str | None:
        import requests
        try:
            resp = requests.post(row["target"], data=row["body"].encode("utf-8"), timeout=HTTP_TIMEOUT,
                                 allow_redirects=False,
                                 headers={"Content-Type": "application/json; charset=utf-8",
                                          "User-Agent": "hailong-server", "X-Hailong-Source": row["source"]})
        except requests.RequestException as exc:
            return _error(exc)
        if 200 <= resp.status_code < 300:
            return None
        return f"HTTP {resp.status_code} {resp.reason or ''}".strip()

    def _record(self, results: list[tuple[dict, str | None]]) -> None:
        n = db.notifications
        now = self.now()
        with self.write_lock, self.engine.begin() as conn:
            for row, error in results:
                if error is None:
                    conn.execute(n.update().where(n.c.id == row["id"]).values(sent_at=iso(now), last_error=None))
                else:
                    wait = backoff(row["attempts"], self.retry_base)
                    conn.execute(n.update().where(n.c.id == row["id"]).values(
                        last_error=error[:500], next_try_at=iso(now + timedelta(seconds=wait))))
                    log.warning("%s to %s (%s) failed, try %d: %s", row["channel"],
                                row["target"] if row["channel"] == "email" else url_host(row["target"]),
                                row["source"], row["attempts"], error)


def _error(exc: Exception) -> str:
    """One line of what went wrong; never the credentials (smtplib's errors do not carry them)."""
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}".strip(": ")[:500]


def url_host(url: str) -> str:
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1]
    except ValueError:
        return "?"


def outbox_state(conn, now: datetime | None = None) -> dict:
    """What the kiosks page shows of the outbox: pending, failed (with last error and next try), given up,
    sent in the last 24 hours."""
    n = db.notifications
    now = now or utcnow()
    since = iso(now - timedelta(hours=24))
    pending = conn.execute(select(func.count()).where(n.c.sent_at.is_(None), n.c.attempts < MAX_ATTEMPTS)).scalar()
    sent = conn.execute(select(func.count()).where(n.c.sent_at >= since)).scalar()
    failed = conn.execute(select(n.c.id, n.c.channel, n.c.target, n.c.source, n.c.subject, n.c.attempts,
                                 n.c.next_try_at, n.c.last_error, n.c.created_at)
                          .where(n.c.sent_at.is_(None), n.c.last_error.is_not(None))
                          .order_by(n.c.id.desc()).limit(20)).mappings().all()
    failed = [{**dict(r), "gave_up": r["attempts"] >= MAX_ATTEMPTS,
               "target": r["target"] if r["channel"] == "email" else url_host(r["target"])} for r in failed]
    failed_count = conn.execute(select(func.count()).where(n.c.sent_at.is_(None),
                                                           n.c.last_error.is_not(None))).scalar()
    return {"pending": pending or 0, "sent_24h": sent or 0, "failed": failed, "failed_count": failed_count or 0}
