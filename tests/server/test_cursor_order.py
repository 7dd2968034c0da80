"""A pull cursor never skips a rating that commits late (PostgreSQL, several transactions at once).

A transaction that took a rating's pk early but commits late would, without
the town's ratings lock (core/leases.py ratings_lock), be passed for ever by a
pull that already returned a later pk. Here a transaction holding an early pk
stays open while a kiosk's batch arrives; the pull in between, and the pull
after with its cursor, return every rating exactly once, and the roll-up
counts them all.
"""
from __future__ import annotations

import threading
import uuid

import dbtools
import pytest
import requests
from helpers import wait_until
from sqlalchemy import insert

from sync import protocol
from sync.server.core import db, leases
from sync.server.core.admin_ops import create_token, create_user


@pytest.fixture
def town(pg_server):
    with pg_server.engine.begin() as conn:
        create_user(conn, "an", "admin", "mật khẩu dài")
        pg_server.token = create_token(conn, "an")
    return pg_server


def pull_all(town, after=None):
    got, cursor = [], after
    while True:
        r = requests.get(town.url + protocol.PATH_RATINGS, params={"after": cursor or "", "limit": 7},
                         headers={"Authorization": f"Bearer {town.token}"}, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        got += [x["id"] for x in page["ratings"]]
        if not page["ratings"]:
            return got, cursor
        cursor = page["next"]


def test_a_rating_that_commits_late_is_still_pulled_and_folded(town):
    late_id = str(uuid.uuid4())
    engine = db.make_engine(town.db)
    late = engine.connect()
    tx = late.begin()
    leases.ratings_lock(late)            # as a batch of another server process does, then takes its pk
    late.execute(insert(db.ratings).values(
        id=late_id, kiosk_id="K2", seq=1, created_at="2026-11-02T09:00:00+07:00", unit_code="13321",
        desk_id="quay-1", officer_id="cb-001", level=3, reasons="[]", source="walk_up", flags="[]",
        prev_hash="0" * 64, hash="1" * 64, sig="2" * 64, received_at="2026-11-02T02:00:00.000+00:00",
        corrected_at="2026-11-02T09:00:00+07:00"))
    body, records = town.kiosk.batch(20)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(town.kiosk.post(town.url, body, str(uuid.uuid4()))))
    sender.start()
    wait_until(lambda: dbtools.scalar(town.db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                               "AND NOT granted") >= 1, what="the batch waiting for the lock")
    first, cursor = pull_all(town)       # nothing committed yet: the late rating holds the lowest pk
    assert first == []
    tx.commit()
    late.close()
    sender.join(60)
    assert answers and answers[0].status_code == 200, answers
    rest, _ = pull_all(town, cursor)
    assert sorted(first + rest) == sorted([late_id, *[r["id"] for r in records]])
    assert len(first + rest) == len(set(first + rest)) == 21
    engine.dispose()


def _one_rating(pg_cluster, name, level, reasons):
    """A new migrated database holding one rating, nothing folded or judged yet: (its URL, an engine)."""
    url = pg_cluster.new_database(name)
    engine = db.make_engine(url)
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(db.ratings).values(
            id=str(uuid.uuid4()), kiosk_id="K1", seq=1, created_at="2026-11-02T09:00:00+07:00", unit_code="13321",
            desk_id="quay-1", officer_id="cb-001", level=level, reasons=reasons, source="walk_up", flags="[]",
            prev_hash="0" * 64, hash="1" * 64, sig="2" * 64, received_at="2026-11-02T02:00:00.000+00:00",
            corrected_at="2026-11-02T09:00:00+07:00"))
    return url, engine


def _second_after_first(engine, url, first_tx, job):
    """``job`` in a second transaction (a thread: another process) while ``first_tx`` is open: once the
    second waits on the first's lock, the first commits. Returns the second's results and its errors."""
    out, errors = [], []

    def second():
        try:
            with engine.begin() as conn:
                out.append(job(conn))
        except Exception as exc:   # noqa: BLE001 - what the test looks for
            errors.append(exc)
    t = threading.Thread(target=second)
    t.start()
    wait_until(lambda: dbtools.scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                           "AND datname = current_database()") >= 1, timeout=30)
    first_tx.commit()
    t.join(30)
    return out, errors


def test_two_processes_folding_first_at_once_both_succeed(pg_cluster):
    """The roll-up's cursor row is made by the first fold: two server processes starting together
    (``--workers 2``) both found it missing, and the second failed on a duplicate key. Here one
    transaction makes it and holds it while another folds; once the first commits, the second
    finds nothing left to fold instead of an error."""
    from sync.server.core import rollup
    url, engine = _one_rating(pg_cluster, "first_fold", level=3, reasons="[]")
    first = engine.connect()
    tx = first.begin()
    assert rollup.fold_in(first, []) == 1            # made the cursor's row, not committed yet
    out, errors = _second_after_first(engine, url, tx, lambda conn: rollup.fold_in(conn, []))
    first.close()
    engine.dispose()
    assert not errors and out == [None]              # nothing left: the first fold counted the rating
    assert dbtools.scalar(url, "SELECT sum(total) FROM rollup_day") == 1


def test_two_processes_judging_the_first_ratings_at_once_both_succeed(pg_cluster):
    """The alert rules' cursor row is made by their first look, as the roll-up's by the first fold:
    one transaction makes it and holds it while another looks; once the first commits, the second
    finds nothing left to judge instead of failing on a duplicate key."""
    from sync.server.core import alerts, rollup
    url, engine = _one_rating(pg_cluster, "first_rules", level=1, reasons='["nhung_nhieu"]')
    with engine.begin() as conn:
        assert rollup.fold_in(conn, []) == 1
        conn.execute(rollup.cursor_table.delete().where(rollup.cursor_table.c.name == alerts.CURSOR))
    first = engine.connect()
    tx = first.begin()
    assert [a.kind for a in alerts.rating_causes(first)] == ["nhung_nhieu"]    # made the row, not committed
    out, errors = _second_after_first(engine, url, tx, alerts.rating_causes)
    first.close()
    engine.dispose()
    assert not errors and out == [[]]                # the first look judged the rating; no second alert
    assert dbtools.scalar(url, "SELECT pk FROM rollup_cursor WHERE name = 'alerts'") == 1
