"""A receipt rates once on a kiosk: the check and the store are one write transaction (real threads, real kiosk.db).

Each thread has its own connection to the same kiosk.db (as two processes
would), and the threads meet at a barrier right before the write, so both
have passed the scan's quick check.
"""
from __future__ import annotations

import threading

import pytest
from ptys import KIOSK_KEY, write_kiosk

from kiosk import receipts
from kiosk import visit as V
from kiosk.store import KioskStore, ReceiptUsed
from kiosk.visit import Settings, Visit

ROUNDS = 25


@pytest.fixture
def kiosk(tmp_path):
    cfg, store = write_kiosk(tmp_path)
    other = KioskStore(cfg.db_path, cfg.kiosk["id"], KIOSK_KEY)
    yield cfg, store, other
    other.close()
    store.close()


def race(*jobs):
    """Run each job in its own thread, all released together; their results (or exceptions)."""
    barrier = threading.Barrier(len(jobs))
    out = [None] * len(jobs)

    def run(i, job):
        try:
            out[i] = job(barrier)
        except Exception as exc:          # noqa: BLE001  the test looks at it
            out[i] = exc
    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    return out


def holders(store, receipt_id):
    return [r for r in store.records() if r["receipt_id"] == receipt_id]


def rating(receipt_id, level=3):
    return dict(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=level,
                source="receipt", dossier_code="HS-1", receipt_id=receipt_id)


def test_two_threads_appending_the_same_receipt_store_one(kiosk):
    _cfg, store, other = kiosk
    for i in range(ROUNDS):
        rid = f"{i:016x}"

        def job(s):
            def go(barrier):
                barrier.wait()
                return s.append(**rating(rid))
            return go
        # two connections, and two threads on one connection
        results = race(job(store), job(other), job(store))
        stored = [r for r in results if isinstance(r, dict)]
        refused = [r for r in results if isinstance(r, ReceiptUsed)]
        assert len(stored) == 1 and len(refused) == 2, results
        assert [r["id"] for r in holders(store, rid)] == [stored[0]["id"]]
    assert store.count() == ROUNDS and store.verify() == (None, None)


def test_two_threads_drafting_the_same_receipt_one_draft_holds_it(kiosk):
    _cfg, store, other = kiosk
    for i in range(ROUNDS):
        rid = f"a{i:015x}"

        def job(s, level):
            def go(barrier):
                barrier.wait()
                s.save_draft({**rating(rid, level), "now": None}, new=True)
                return level
            return go
        results = race(job(store, 3), job(other, 1))
        held = [r for r in results if isinstance(r, int)]
        assert len(held) == 1 and sum(isinstance(r, ReceiptUsed) for r in results) == 1, results
        assert store.draft()["level"] == held[0]
        # a rating stored directly while the draft holds the receipt is refused too
        with pytest.raises(ReceiptUsed):
            other.append(**rating(rid))
        record = other.seal_draft()
        assert record["receipt_id"] == rid and record["level"] == held[0]
        assert [r["id"] for r in holders(store, rid)] == [record["id"]]
    assert store.count() == ROUNDS and store.verify() == (None, None)
    assert "draft_refused" not in store.event_counts()


def visit_on(store):
    settings = Settings(unit_code="13321", desk_id="quay-1", rapid_repeat_seconds=0)
    return Visit(store, settings)


def test_the_same_receipt_scanned_in_two_threads_rates_once_and_the_other_is_told_kindly(kiosk):
    cfg, store, other = kiosk
    verifiers = [receipts.ReceiptVerifier.from_config(cfg, s) for s in (store, other)]
    for i in range(ROUNDS):
        issued = receipts.issue(cfg, store, "cb-002", f"HS-{i}", None)
        visits = [visit_on(store), visit_on(other)]

        def citizen(n, level):
            def go(barrier):
                checked = verifiers[n].check(issued.token)      # both pass the quick look
                assert isinstance(checked, receipts.Accepted), checked
                v = visits[n]
                v.start_from_receipt(checked.officer_id, checked.dossier_code,
                                     checked.procedure_code, checked.receipt_id)
                barrier.wait()
                state = v.rate(level)
                if state == V.COMMENT:
                    state = v.skip_comment()
                elif state == V.REASONS:
                    v.submit_reasons()
                    state = v.skip_comment() if v.state == V.COMMENT else v.state
                return state, v.message
            return go
        results = race(citizen(0, 3), citizen(1, 2))
        assert sorted(state for state, _msg in results) == [V.MESSAGE, V.THANKS], results
        assert [msg for state, msg in results if state == V.MESSAGE] == [V.ALREADY_RATED]
        [held] = holders(store, issued.receipt_id)
        assert held["officer_id"] == "cb-002" and held["dossier_code"] == f"HS-{i}"
        assert store.draft() is None
        # a third scan afterwards is refused at the quick look, kindly, not as a security event
        assert verifiers[1].check(issued.token).kind == "already_rated"
    assert store.count() == ROUNDS and store.verify() == (None, None)
    assert store.event_counts() == {}
