"""Is the database the server was started on still there, writable and sound?

The server acknowledges only what it has durably stored in the database it
was started on (DESIGN.md). With SQLite that can silently stop being true:
a town.db deleted or replaced under the running server still takes writes
through the open file descriptors (into an inode nobody will ever open
again); a read-only or corrupt file fails in ways a request handler might
not tell from a bug. :class:`DbHealth` watches for each:

* **identity**: ``(st_dev, st_ino)`` of the file, recorded at start; the
  path gone → "deleted", another inode → "replaced". Checked before a
  batch's commit *and after it*, before the 200: a commit that went to a
  file that is no longer the path's is answered 503 (the kiosk resends;
  ingest is idempotent by id).
* **writable**: ``os.access(W_OK)`` (a read-only mount, ``chattr +i``, a
  file the process may not write) or a mode without the owner's write bit
  (``chmod 0400``, which root would otherwise write through) → "read-only".
* **sound**: the 100-byte header starts with SQLite's magic; ``PRAGMA
  quick_check`` at start (in a thread: it reads every page) and after an
  error; SQLITE_CORRUPT / NOTADB errors → "corrupt" until a restart.
  READONLY / IOERR / CANTOPEN / FULL errors → unhealthy for
  :data:`ERROR_HOLD` seconds, then the next batch tries again.

PostgreSQL (any URL but a SQLite file) skips the file checks; connection
errors answer 503 the same way.

Each check is a couple of ``stat`` calls and one 100-byte read, so it runs
on every batch and on every ``/healthz``. A change of state is logged once.
"""
from __future__ import annotations

import logging
import os
import stat
import threading
import time

from sqlalchemy import exc as sa_exc

log = logging.getLogger("hailong.server")

SQLITE_MAGIC = b"SQLite format 3\x00"
ERROR_HOLD = 5.0   # seconds a non-fatal database error keeps the server unhealthy
RETRY_AFTER = 15   # seconds, the Retry-After of a 503 for an unhealthy database

# SQLite primary result codes (sqlite3.h)
SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 8, 10, 11, 13, 14, 26
FATAL_CODES = {SQLITE_CORRUPT: "corrupt", SQLITE_NOTADB: "corrupt (not a database)"}
UNHEALTHY_CODES = {SQLITE_READONLY: "read-only", SQLITE_IOERR: "I/O error", SQLITE_FULL: "disk full",
                   SQLITE_CANTOPEN: "cannot be opened", **FATAL_CODES}


class Unhealthy(Exception):
    """The database cannot be trusted with a write right now: answer 503."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


def sqlite_path(engine) -> str | None:
    """The file of a SQLite engine, or None (PostgreSQL, :memory:)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


#: PostgreSQL's SQLSTATEs of a database that takes no write: read_only_sql_transaction, and a hot
#: standby's "cannot execute … in a read-only transaction" comes as the same code
READ_ONLY_SQLSTATES = {"25006"}


class DbHealth:
    """One per app: ``check()`` before and after a batch's commit, ``problem()`` for /healthz."""

    def __init__(self, engine):
        self.engine = engine
        self.path = sqlite_path(engine)
        self.identity: tuple[int, int] | None = None
        self._fatal: str | None = None                 # corrupt: until a restart
        self._error: tuple[str, float] | None = None   # a non-fatal error, with when it happened
        self._reported: str | None = None
        self._lock = threading.Lock()
        self._fd: int | None = None
        if self.path:
            st = os.stat(self.path)
            self.identity = (st.st_dev, st.st_ino)
            # Read the header through ONE descriptor kept open for the process's life: closing
            # any descriptor of a file drops every POSIX lock this process holds on it, SQLite's
            # included ("How To Corrupt An SQLite Database File", 2.2) — an open()/close() per
            # check made the server's own connections fail with "disk I/O error".
            self._fd = os.open(self.path, os.O_RDONLY)

    # -- checks -----------------------------------------------------------

    def _file_problem(self) -> str | None:
        if not self.path:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return f"{self.path} was deleted under the running server"
        except OSError as exc:
            return f"{self.path} cannot be examined ({exc.strerror})"
        if (st.st_dev, st.st_ino) != self.identity:
            return f"{self.path} was replaced by another file under the running server"
        if not st.st_mode & stat.S_IWUSR or not os.access(self.path, os.W_OK):
            return f"{self.path} is read-only"
        try:
            header = os.pread(self._fd, 100, 0)   # same inode as the path (checked just above)
        except OSError as exc:
            return f"{self.path} cannot be read ({exc.strerror})"
        if header and not header.startswith(SQLITE_MAGIC[:len(header)]):
            return f"{self.path} is corrupt (not a SQLite header)"
        return None

    def problem(self) -> str | None:
        """What is wrong with the database now, or None."""
        found = self._fatal or self._file_problem()
        if found is None and self._error is not None:
            message, at = self._error
            if time.monotonic() - at < ERROR_HOLD:
                found = message
            else:
                self._error = None
        self._report(found)
        return found

    def check(self) -> None:
        """Raise :class:`Unhealthy` when the database cannot be trusted with a write."""
        found = self.problem()
        if found is not None:
            raise Unhealthy(found)

    # -- errors -----------------------------------------------------------

    def classify(self, error: BaseException) -> str | None:
        """A database error that means "database unhealthy" (not a bug) → what is wrong; else None.

        Notes it, so that batches get 503 and /healthz says so; a corrupt
        database stays unhealthy until a restart; a SQLite error is followed
        by a ``quick_check`` (in a thread).
        """
        orig = getattr(error, "orig", error)
        if self.path:
            code = getattr(orig, "sqlite_errorcode", None)
            if code is None:
                return None
            what = UNHEALTHY_CODES.get(code & 0xFF)
            if what is None:
                return None
            message = f"{self.path}: {what} ({orig})"
            if code & 0xFF in FATAL_CODES:
                self._fatal = message
            else:
                self._error = (message, time.monotonic())
            self.quick_check_later()
        else:
            first_line = str(orig).splitlines()[0] if str(orig) else orig.__class__.__name__
            if getattr(orig, "sqlstate", None) in READ_ONLY_SQLSTATES:
                message = f"database is read-only ({first_line})"     # a hot standby, read-only set by a DBA
            elif isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)):
                message = f"database unreachable ({first_line})"
            else:
                return None
            self._error = (message, time.monotonic())
        self._report(message)
        return message

    def quick_check(self) -> str | None:
        """``PRAGMA quick_check`` on a fresh connection; marks the database corrupt if it is."""
        if not self.path:
            return None
        import sqlite3
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            try:
                rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            rows = [f"{exc.__class__.__name__}: {exc}"]
        if rows == ["ok"]:
            return None
        self._fatal = f"{self.path} is corrupt (quick_check: {'; '.join(rows)[:300]})"
        self._report(self._fatal)
        return self._fatal

    def quick_check_later(self) -> threading.Thread | None:
        if not self.path:
            return None
        thread = threading.Thread(target=self._quick_check_logged, name="hailong-quick-check", daemon=True)
        thread.start()
        return thread

    def _quick_check_logged(self) -> None:
        try:
            self.quick_check()
        except Exception:   # noqa: BLE001 - a health probe never takes the server down
            log.warning("quick_check of %s failed", self.path, exc_info=True)

    # -- the log ----------------------------------------------------------

    def _report(self, found: str | None) -> None:
        with self._lock:
            if found == self._reported:
                return
            before, self._reported = self._reported, found
        if found is not None:
            log.error("DATABASE UNHEALTHY: %s. Batches are refused (503) and nothing is acknowledged "
                      "until the server runs on a sound database again.", found)
        elif before is not None:
            log.warning("database healthy again (was: %s)", before)
