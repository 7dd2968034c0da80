"""What a server process does on its own, apart from requests.

* At start, catch the roll-up up with ratings that were stored but never
  folded (a town.db of version 0.1, or ratings written by a tool), raising
  the rating rules' alerts on the way, so that no read ever has to fold.
* Every ``interval`` seconds, look for kiosks that fell silent
  (cases.sweep_silent: the alert and its case) and for cases past their
  due date (cases.sweep_overdue). Every server process runs the loop; on
  PostgreSQL each round's part is done by the one process holding its lease
  (core/leases.py), and the open_key of alerts and cases keeps one open
  alert (one case) per cause whatever happens.

Both write under the same writer lock as ingest, one short transaction at
a time, and never stop the server: a failure is logged and tried again
at the next round.
"""
from __future__ import annotations

import logging
import threading

from sync.server.core import cases, leases, rollup, tlog_store, workdays
from sync.server.core.settings import known_surveys, survey

log = logging.getLogger("hailong.server")


def catch_up(engine, write_lock, now=None) -> int:
    """Fold every rating not yet in the roll-up (in chunks), with its alerts; returns how many."""
    done = 0
    while True:
        with write_lock, engine.begin() as conn:
            sv = survey(conn)
            n = rollup.fold_in(conn, sv["reasons"], limit=rollup.CHUNK, surveys=known_surveys(conn))
            cases.after_fold(conn, sv["scale"], now)
        if n is None:
            return done
        done += n


def sweep(engine, write_lock, now=None) -> int:
    """One round: silent kiosks, then overdue cases (two short transactions); how many found.

    With several processes on one PostgreSQL each part runs in the process
    that takes its lease (core/leases.py); the others skip it this round.
    """
    found = 0
    with write_lock, engine.begin() as conn:
        if leases.take(conn, "sweep_silent"):
            found += cases.sweep_silent(conn, now)
    with write_lock, engine.begin() as conn:
        if leases.take(conn, "sweep_overdue"):
            found += cases.sweep_overdue(conn, now)
    log_round(engine, write_lock, now)
    return found


def log_round(engine, write_lock, now=None) -> None:
    """The public log's round: build the node cache of a backfilled log (in steps of 256 chunks,
    65,536 leaves: a short hold of the writer lock each), give leaves to ratings stored by other
    paths, sign a checkpoint of what is unsigned (core/tlog_store.py).

    Under the ratings lock, so it never interleaves with a batch's insert (PostgreSQL).
    """
    while True:
        with write_lock, engine.begin() as conn:
            if not leases.take(conn, "public_log"):
                return
            leases.ratings_lock(conn)
            if tlog_store.extend_cache(conn, tlog_store.size(conn), limit=256) == 0:
                tlog_store.append(conn, now, sign=False)
                tlog_store.sign_checkpoint(conn, now=now)     # the round always signs what is unsigned
                return


class Background:
    """The server process's own thread; start() at startup, stop() at shutdown."""

    def __init__(self, engine, write_lock, interval: float = 60.0):
        self.engine = engine
        self.write_lock = write_lock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sweeps = 0                 # rounds done, shown on /healthz: the task is alive
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hailong-background", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict:
        return {"running": bool(self._thread and self._thread.is_alive()), "sweeps": self.sweeps,
                "error": self.last_error}

    def _run(self) -> None:
        try:
            workdays.prepare()      # the holidays due dates are counted with, before any batch needs them
        except Exception:   # noqa: BLE001 - computed again when a case needs them
            log.warning("holiday calendar not prepared", exc_info=True)
        try:
            folded = catch_up(self.engine, self.write_lock)
            if folded:
                log.info("roll-up caught up with %d ratings", folded)
        except Exception:   # noqa: BLE001 - logged; ingest folds what arrives anyway
            log.warning("roll-up catch-up at start failed", exc_info=True)
        while True:
            try:
                sweep(self.engine, self.write_lock)
                self.last_error = None
            except Exception as exc:   # noqa: BLE001 - logged, tried again next round
                self.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
                log.warning("background sweep (silent kiosks, overdue cases) failed", exc_info=True)
            self.sweeps += 1
            if self._stop.wait(self.interval):
                return
