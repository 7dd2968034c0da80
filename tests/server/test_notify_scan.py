"""The outbox's scanner and sender in-process, on a real town.db, a real SMTP server (aiosmtpd) and the
clock in the test's hands: cases written as core/cases writes them, alerts without a case, the daily
digest of overdue cases once a local day, two senders on one outbox, backoff and giving up.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from helpers import FakeClock, free_port, wait_until
from sqlalchemy import func, insert, select, update
from test_notify_mail import Inbox, make_town, smtp_server

from sync.server.core import db, notify
from sync.server.core.db import FifoLock, make_engine, make_reader

BASE = "http://hailong.dongtam.vn"
#: 2 December 2026, 08:00 in Vietnam
MORNING = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def town(town_db, tmp_path):
    made = make_town(town_db, tmp_path)
    engine = make_engine(str(made["db"]))
    with engine.begin() as conn:
        notify.ensure_cursor(conn)
        notify.set_webhook(conn, "13321", "http://relay.tinh.vn/hook?token=abc")
    yield {**made, "engine": engine}
    engine.dispose()


def add_case(conn, officer="cb-002", kiosk=None, unit=None, due="2026-12-07", status="open", kind="nhung_nhieu",
             at="2026-12-02T01:00:00.000+00:00") -> int:
    cid = conn.execute(insert(db.cases).values(
        kind=kind, officer_id=officer, kiosk_id=kiosk, unit_code=unit, month="2026-12", status=status,
        title=f"Phản ánh nhũng nhiễu: cán bộ {officer}, tháng 12/2026", opened_at=at, due_date=due,
        open_key=f"{kind}|{officer or kiosk}|2026-12|{at}", params="{}")).inserted_primary_key[0]
    conn.execute(insert(db.case_events).values(case_id=cid, at=at, kind="opened", params="{}"))
    return cid


def outbox(conn, **where):
    n = db.notifications
    q = select(n.c.channel, n.c.target, n.c.source).order_by(n.c.id)
    for k, v in where.items():
        q = q.where(n.c[k] == v)
    return [tuple(r) for r in conn.execute(q)]


def scan(engine, email=True, now=MORNING):
    with engine.begin() as conn:
        return notify.scan(conn, email=email, base_url=BASE, now=now)


def test_a_new_case_is_queued_once_for_its_units_users_and_webhook_however_many_scans(town):
    engine = town["engine"]
    with engine.begin() as conn:
        first = add_case(conn)                                   # cb-002: unit 13321 through the desk
        other = add_case(conn, officer="cb-009")                 # cb-009: unit 99999
        by_kiosk = add_case(conn, officer=None, kiosk="DT-MC-01", kind="silent")   # the kiosk's unit
    scan(engine)
    assert scan(engine) == 0 and scan(engine) == 0               # seen again: nothing more
    with engine.connect() as conn:
        rows = outbox(conn)
        assert sorted(r for r in rows if r[2] == f"case:{first}") == sorted([
            ("email", "lan@dongtam.vn", f"case:{first}"), ("email", "tinh@tinh.gov.vn", f"case:{first}"),
            ("webhook", "http://relay.tinh.vn/hook?token=abc", f"case:{first}")])
        assert sorted(r[1] for r in rows if r[2] == f"case:{other}") == ["minh@khac.vn", "tinh@tinh.gov.vn"]
        assert {r[1] for r in rows if r[2] == f"case:{by_kiosk}"} >= {"lan@dongtam.vn", "tinh@tinh.gov.vn"}
        assert not [r for r in rows if r[1] == "an"]              # no address, no row
        mail = conn.execute(select(db.notifications.c.subject, db.notifications.c.body).where(
            db.notifications.c.source == f"case:{first}", db.notifications.c.channel == "email")).first()
        assert mail.subject == f"[Hài lòng] Vụ việc số {first}: phản ánh nhũng nhiễu — Trần Văn Đức"
        assert f"{BASE}/admin/cases/{first}" in mail.body and "Hạn xử lý: 07/12/2026" in mail.body
        hook = json.loads(conn.execute(select(db.notifications.c.body).where(
            db.notifications.c.source == f"case:{first}", db.notifications.c.channel == "webhook")).scalar())
        assert hook["event"] == "case_opened" and hook["case"]["id"] == first and hook["unit"] == "13321"

    # the case is closed and reopened: one more message, the first one stays as it was
    with engine.begin() as conn:
        conn.execute(update(db.cases).where(db.cases.c.id == first).values(reopened=1))
        ev = conn.execute(insert(db.case_events).values(case_id=first, at="2026-12-20T01:00:00.000+00:00",
                                                        kind="reopened", text="Tháng sau vẫn dưới ngưỡng",
                                                        params="{}")).inserted_primary_key[0]
        conn.execute(insert(db.case_events).values(case_id=first, at="2026-12-20T01:00:01.000+00:00",
                                                   kind="action", action="nhac_nho", params="{}"))
    assert scan(engine) == 3
    with engine.connect() as conn:
        again = outbox(conn, source=f"case:{first}:reopened:{ev}")
        assert len(again) == 3
        subject = conn.execute(select(db.notifications.c.subject).where(
            db.notifications.c.source == f"case:{first}:reopened:{ev}")).scalar()
        assert "mở lại" in subject
        hook = json.loads(conn.execute(select(db.notifications.c.body).where(
            db.notifications.c.source == f"case:{first}:reopened:{ev}",
            db.notifications.c.channel == "webhook")).scalar())
        assert hook["event"] == "case_reopened"


def test_an_alert_without_a_case_is_told_once_an_overdue_alert_and_an_alert_with_a_case_are_not(town):
    engine = town["engine"]
    with engine.begin() as conn:
        def alert(kind, subject, **kw):
            return conn.execute(insert(db.alerts).values(
                kind=kind, message=f"{kind} {subject}", created_at="2026-12-02T01:00:00.000+00:00", subject=subject,
                month="2026-12", count=1, happened_at="2026-12-02T01:00:00.000+00:00",
                open_key=f"{kind}|{subject}", **kw)).inserted_primary_key[0]
        gap = alert("gap", "DT-MC-01", kiosk_id="DT-MC-01", seq_from=3, seq_to=4,
                    params=json.dumps({"kiosk": "DT-MC-01", "seq_from": 3, "seq_to": 4, "before": 5}))
        alert("case_overdue", "1", params="{}")
        cid = add_case(conn)
        linked = alert("nhung_nhieu", "cb-002", params="{}")
        conn.execute(insert(db.case_links).values(case_id=cid, alert_id=linked, linked_at="2026-12-02T01:00:00Z"))
    scan(engine)
    # the count grows (a second gap in the group): no new row, nothing more to tell
    with engine.begin() as conn:
        conn.execute(update(db.alerts).where(db.alerts.c.id == gap).values(count=db.alerts.c.count + 1))
    assert scan(engine) == 0
    with engine.connect() as conn:
        sources = {r[2] for r in outbox(conn)}
        assert sources == {f"alert:{gap}", f"case:{cid}"}
        body = conn.execute(select(db.notifications.c.body).where(
            db.notifications.c.source == f"alert:{gap}", db.notifications.c.target == "lan@dongtam.vn")).scalar()
        assert "Thiếu các phiếu số 3–4" in body and f"{BASE}/admin/alerts?kind=gap&subject=DT-MC-01" in body


def test_without_smtp_only_the_webhook_is_queued(town):
    engine = town["engine"]
    with engine.begin() as conn:
        cid = add_case(conn)
    scan(engine, email=False)
    with engine.connect() as conn:
        assert outbox(conn) == [("webhook", "http://relay.tinh.vn/hook?token=abc", f"case:{cid}")]


def test_the_digest_of_overdue_cases_goes_once_a_local_day_to_each_unit_and_only_when_there_are_some(town):
    engine = town["engine"]
    clock = FakeClock(MORNING.timestamp())
    at = lambda: datetime.fromtimestamp(clock(), timezone.utc)     # noqa: E731
    scan(engine, now=at())                                       # the day's first scan: none overdue, no digest
    with engine.begin() as conn:
        late = add_case(conn, due="2026-12-01")                  # overdue on the 2nd (local)
        add_case(conn, due="2026-12-02", officer="cb-004")       # due today: not overdue yet
        add_case(conn, due="2026-11-30", status="closed", officer="cb-009")   # closed: never in a digest
    clock.advance(60)
    scan(engine, now=at())                                       # ...the first one after a case is overdue

    def digests(day):
        with engine.connect() as conn:
            return outbox(conn, source=f"digest:{day}")
    assert sorted(r[1] for r in digests("2026-12-02")) == sorted(
        ["lan@dongtam.vn", "tinh@tinh.gov.vn", "http://relay.tinh.vn/hook?token=abc"])   # minh: none of his unit
    with engine.connect() as conn:
        body = conn.execute(select(db.notifications.c.body).where(
            db.notifications.c.source == "digest:2026-12-02", db.notifications.c.target == "lan@dongtam.vn")).scalar()
        hook = json.loads(conn.execute(select(db.notifications.c.body).where(
            db.notifications.c.source == "digest:2026-12-02", db.notifications.c.channel == "webhook")).scalar())
    assert f"Vụ việc số {late}" in body and "hạn 01/12/2026" in body and "Phạm Quốc Hưng" not in body
    assert hook["event"] == "digest" and [c["id"] for c in hook["cases"]] == [late]
    clock.advance(10 * 3600)                                     # 18:00 the same day
    scan(engine, now=at())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.notifications).where(
            db.notifications.c.source.like("digest:%"))).scalar() == 3
    clock.advance(7 * 3600)                                      # 01:00 on the 3rd: a new local day
    scan(engine, now=at())
    assert len(digests("2026-12-03")) == 3                       # both cases late now
    with engine.begin() as conn:
        conn.execute(update(db.cases).values(status="closed"))
    clock.advance(24 * 3600)
    scan(engine, now=at())
    assert digests("2026-12-04") == []                           # nothing overdue: no digest


def test_two_senders_on_one_outbox_send_each_message_once(town):
    """Two server processes: two engines on one town.db, each with its own writer lock."""
    inbox = Inbox()
    port = free_port()
    controller = smtp_server(inbox, port)
    engines = [make_engine(str(town["db"])) for _ in range(2)]
    senders = [notify.Notifier(e, make_reader(e), FifoLock(), smtp=f"smtp://127.0.0.1:{port}", base_url=BASE)
               for e in engines]
    try:
        with town["engine"].begin() as conn:
            for officer in ("cb-002", "cb-004", "cb-009"):
                add_case(conn, officer=officer)
        barrier = threading.Barrier(2)

        def rounds(sender):
            barrier.wait()
            for _ in range(3):
                sender.round()
        threads = [threading.Thread(target=rounds, args=(s,)) for s in senders]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
        wait_until(lambda: len(inbox.messages) >= 6, timeout=30, what="six mails")
        sources = [(rcpt[0], m["X-Hailong-Source"]) for rcpt, m in inbox.messages]
        assert len(sources) == len(set(sources)) == 6, sources       # lan ×2, tinh ×3, minh ×1
        with town["engine"].connect() as conn:
            n = db.notifications
            assert conn.execute(select(func.count()).where(n.c.channel == "email", n.c.sent_at.is_(None))).scalar() == 0
            assert conn.execute(select(func.max(n.c.attempts)).where(n.c.channel == "email")).scalar() == 1
    finally:
        controller.stop()
        for e in engines:
            e.dispose()


def test_backoff_doubles_with_jitter_up_to_an_hour():
    for attempts, ceiling in ((1, 30), (2, 60), (3, 120), (8, 3600), (12, 3600)):
        waits = [notify.backoff(attempts, 30.0) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 10            # jitter: not all the same


def test_a_failing_row_waits_longer_each_time_and_is_given_up_after_the_last_try(town):
    clock = FakeClock(MORNING.timestamp())
    at = lambda: datetime.fromtimestamp(clock(), timezone.utc)     # noqa: E731
    engine = town["engine"]
    with engine.begin() as conn:
        add_case(conn, officer="cb-009")              # to minh and tinh (and no webhook for 99999)
        notify.set_webhook(conn, "13321", None)
    dead = free_port()
    sender = notify.Notifier(engine, make_reader(engine), FifoLock(), smtp=f"smtp://u:Bi-Mat-42@127.0.0.1:{dead}",
                             base_url=BASE, retry_base=10.0, now=at)
    n = db.notifications
    waits = []
    for attempt in range(1, notify.MAX_ATTEMPTS + 1):
        sender.round()
        with engine.connect() as conn:
            row = conn.execute(select(n).where(n.c.target == "minh@khac.vn")).mappings().one()
        assert row["attempts"] == attempt and row["sent_at"] is None and "refused" in row["last_error"].lower()
        waits.append((datetime.fromisoformat(row["next_try_at"]) - at()).total_seconds())
        with engine.connect() as conn:     # both rows due again (each has its own jitter)
            last = conn.execute(select(func.max(n.c.next_try_at))).scalar()
        clock.advance((datetime.fromisoformat(last) - at()).total_seconds() + 0.001)
    assert waits[1] > waits[0] * 1.0 and waits[4] > waits[1] and max(waits) <= 3600
    sender.round()                                                # given up: not tried again
    with engine.connect() as conn:
        assert conn.execute(select(n.c.attempts).where(n.c.target == "minh@khac.vn")).scalar() == notify.MAX_ATTEMPTS
        state = notify.outbox_state(conn, at())
    assert state["pending"] == 0 and state["failed_count"] == 2, state
    assert all(f["gave_up"] for f in state["failed"])
    assert "Bi-Mat-42" not in repr(sender.smtp) and "Bi-Mat-42" not in json.dumps(sender.status())


def test_addresses_are_checked():
    assert notify.valid_email(" lan@dongtam.gov.vn ") == "lan@dongtam.gov.vn"
    for bad in ("bad", "a@b", "a b@c.vn", "<a@b.vn>", "a@b.vn, c@d.vn", "x" * 190 + "@dongtam.vn"):
        with pytest.raises(notify.BadAddress):
            notify.valid_email(bad)
    assert notify.valid_webhook("https://relay.tinh.vn/zalo?x=1") == "https://relay.tinh.vn/zalo?x=1"
    for bad in ("ftp://x.vn", "http://", "javascript:alert(1)", "http://a b.vn", "https://u:p@x.vn/"):
        with pytest.raises(notify.BadAddress):
            notify.valid_webhook(bad)
    smtp = notify.parse_smtp("smtp://th%C6%B0:p%40ss@mail.tinh.vn:587")
    assert (smtp.host, smtp.port, smtp.user, smtp.password, smtp.tls) == ("mail.tinh.vn", 587, "thư", "p@ss", False)
    assert notify.shown_smtp(smtp) == "smtp://th%C6%B0:***@mail.tinh.vn:587" and "p@ss" not in repr(smtp)
    for bad in ("http://mail.vn", "smtp://", "smtp://host:notaport"):
        with pytest.raises(notify.BadAddress):
            notify.parse_smtp(bad)


def test_an_alert_worded_from_its_stored_message_never_carries_more_than_200_characters_of_a_comment(town):
    """An alert raised before params were kept: its message holds the whole comment; the mail does not."""
    comment = ("Cán bộ gợi ý phải bồi dưỡng thêm thì hồ sơ mới nhanh. " * 12)[:500]
    engine = town["engine"]
    with engine.begin() as conn:
        conn.execute(insert(db.ratings).values(
            id="r-1", kiosk_id="DT-MC-01", seq=1, created_at="2026-12-02T08:00:00+07:00", unit_code="13321",
            desk_id="quay-1", officer_id="cb-002", level=1, reasons='["nhung_nhieu"]', comment=comment,
            source="walk_up", flags="[]", prev_hash="0" * 64, hash="1" * 64, sig="2" * 64,
            received_at="2026-12-02T01:00:00.000+00:00", corrected_at="2026-12-02T08:00:00+07:00"))
        conn.execute(insert(db.alerts).values(
            kind="nhung_nhieu", message=f"Phản ánh nhũng nhiễu đối với cb-002: “{comment}”", params="{}",
            created_at="2026-12-02T01:00:00.000+00:00", subject="cb-002", month="2026-12", count=1,
            happened_at="2026-12-02T08:00:00+07:00", open_key="nhung_nhieu|cb-002|2026-12", kiosk_id="DT-MC-01",
            rating_id="r-1"))
    scan(engine)
    with engine.connect() as conn:
        bodies = [r.body for r in conn.execute(select(db.notifications.c.body))]
    assert len(bodies) == 3                                       # lan, tinh, the webhook
    for body in bodies:
        assert comment[:150] in body and comment[:201] not in body


def test_a_backlog_is_told_in_short_transactions_and_one_sender_round_tells_all_of_it(town):
    engine = town["engine"]
    with engine.begin() as conn:
        notify.set_webhook(conn, "13321", None)
        # an hour before MORNING: older than notify.SETTLE, which PostgreSQL's scan waits out
        ids = [add_case(conn, officer="cb-002", at=f"2026-12-02T00:{i // 60:02d}:{i % 60:02d}.000+00:00")
               for i in range(notify.SCAN_LIMIT * 2 + 20)]
    with engine.begin() as conn:
        assert notify.scan(conn, email=True, base_url=BASE, now=MORNING) == 2 * notify.SCAN_LIMIT   # lan, tinh
        assert notify.pending_scan(conn, MORNING)                # the rest is still to tell
    sender = notify.Notifier(engine, make_reader(engine), FifoLock(), smtp=f"smtp://127.0.0.1:{free_port()}",
                             base_url=BASE, now=lambda: MORNING)
    sender.round()                                               # nobody listens: queued, not sent
    with engine.connect() as conn:
        told = {r[2] for r in outbox(conn)}
        assert told == {f"case:{i}" for i in ids}
        assert not notify.pending_scan(conn, MORNING)
