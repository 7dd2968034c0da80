"""Several server processes on one PostgreSQL: who does what, with no lock of the server's own.

One module for the rule; SQLite (one process, the in-process writer lock
of app.py) is never asked anything here and behaves as before.

* :func:`kiosk_lock` — at the start of a batch's transaction, a
  transaction-scoped advisory lock on the kiosk (``pg_advisory_xact_lock``):
  two batches of ONE kiosk (the same batch sent to two processes, a retry
  under a new key, consecutive seqs) run one after the other, so the
  idempotency check, the chain and gap checks and ``acked_through`` see
  what the other committed; batches of different kiosks still run in
  parallel. Released at commit or rollback, and when a process dies.
* :func:`ratings_lock` — one transaction-scoped lock on the town's new
  ratings, taken by every batch right after its kiosk's: ratings commit in
  pk order, so pk cursors (the admin pull, the roll-up's fold) never pass a
  late commit. While it is taken, it also orders one kiosk's batches; the
  kiosk lock states that rule on its own, and is what stays if the ratings
  lock ever gives way to a commit-ordered cursor.
* :func:`take` — a background job's turn (silent kiosks, overdue cases,
  notification scan): ``pg_try_advisory_xact_lock`` in the job's own
  transaction. The process that gets it does the round; another one that
  tries meanwhile skips this round (it finds the work done at its next one).
  A process killed mid-round loses its connection and so the lock.
* :func:`retryable` — the errors of two transactions that met (a unique
  violation, a serialization failure, a deadlock): the transaction is run
  again, a bounded number of times, instead of answering 500.

Lock keys are the first 8 bytes of a BLAKE2b of the name (a signed 64-bit
int): the same in every process and every Python, unlike ``hash()``.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import text

#: How many times a transaction that met another one is run again before the error stands.
RETRIES = 5

#: SQLSTATEs of two transactions meeting: unique_violation, serialization_failure, deadlock_detected.
RETRYABLE_STATES = ("23505", "40001", "40P01")


def lock_key(name: str) -> int:
    """The advisory lock key of ``name``: a signed 64-bit int, stable across processes."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def kiosk_lock(conn, kiosk_id: str) -> None:
    """Wait for this kiosk's batch lock, held until the transaction ends (PostgreSQL; nothing on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("hailong.kiosk:" + kiosk_id)})


def ratings_lock(conn) -> None:
    """Wait for the town's one lock on new ratings, held until the transaction ends (PostgreSQL).

    Why: a rating's ``pk`` comes from a sequence when it is inserted, but
    becomes visible when its transaction commits. Two batches committing out
    of pk order would let a reader that continues "after pk N" — the admin
    pull's cursor, the roll-up's fold cursor — pass a row that committed
    late, for ever. Taken before the insert, this lock makes the town's
    ratings commit in pk order, as SQLite's single writer does, so every pk
    cursor is safe. Batches of different kiosks still decode, check and
    answer in parallel; only their insert-and-fold is one at a time.
    Nothing on SQLite (one writer already).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("hailong.ratings")})


def take(conn, job: str) -> bool:
    """True when this process may do ``job``'s round in this transaction (always on SQLite)."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                             {"k": lock_key("hailong.job:" + job)}).scalar())


def retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy DBAPIError) is two transactions meeting, worth running again."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state in RETRYABLE_STATES
