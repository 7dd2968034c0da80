"""A batch stored: one transaction under its kiosk's lock, run again when it met another one.

The kiosks' batches (api/kiosks.py) and the phone page's ratings (web/phone.py, a batch of one in the
unit's ``WEB-`` chain) are stored by the same function, so both go through the same checks, alerts,
roll-up and public log.
"""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from sync.server.core import ingest, leases
from sync.server.core.db import kiosks
from sync.server.core.health import Unhealthy

log = logging.getLogger("hailong.server")


def store_batch(engine, health, kiosk_id: str, batch: dict | None, key: str, *, skew_threshold: float = 600,
                make_batch: Callable[[Connection], dict] | None = None) -> dict:
    """Store the parsed ``batch`` in one transaction under the kiosk's lock (core/leases.py); the reply.

    On PostgreSQL another process's transaction may meet this one (a unique
    violation, a serialization failure): it is run again, at most
    leases.RETRIES times — the second run sees what the other committed (the
    same key: its stored reply; the same ratings: duplicates). Never a 500:
    a database that cannot be trusted raises Unhealthy (503), a bad batch BatchError.

    ``make_batch`` (instead of ``batch``) builds it inside the transaction, once the locks are held: the
    server's own chains (core/web_chain.py) read their last seq and hash there, so two phone ratings of
    one unit at once are chained one after the other, never forked.
    """
    for attempt in range(leases.RETRIES + 1):
        try:
            with engine.begin() as conn:
                leases.kiosk_lock(conn, kiosk_id)   # before reading the kiosk row: acked_through is fresh
                leases.ratings_lock(conn)           # ratings commit in pk order: pk cursors never skip
                fresh = conn.execute(select(kiosks).where(kiosks.c.id == kiosk_id)).mappings().one()
                if fresh["revoked"]:
                    raise ingest.BatchError(403, f"kiosk {kiosk_id} is revoked")
                todo = make_batch(conn) if make_batch is not None else batch
                return ingest.ingest(conn, dict(fresh), todo, key, skew_threshold=skew_threshold)
        except SQLAlchemyError as exc:
            if attempt < leases.RETRIES and leases.retryable(exc):
                log.info("batch %s of kiosk %s met another transaction (%s); run again",
                         key, kiosk_id, exc.__class__.__name__)
                continue
            problem = health.classify(exc)
            if problem is None:
                raise          # a bug: 500
            raise Unhealthy(problem) from None
    raise AssertionError("unreachable")
