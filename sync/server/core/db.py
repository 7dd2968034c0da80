"""town.db: the town server's tables (SQLAlchemy Core) and how to open them.

SQLite by default (WAL, synchronous=FULL: an acknowledged batch survives a
power cut, since the kiosk forgets nothing but stops resending it), or any
SQLAlchemy URL such as ``postgresql+psycopg://…``. The SQL stays portable:
no SQLite-only statements outside ``_sqlite_pragmas``.

The schema is created and upgraded by Alembic (sync/server/migrations),
run from code by :func:`migrate`; the tables below must match the latest
migration.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    true,
)
from sqlalchemy.engine import Engine

from sync.filemodes import create_private, private_sqlite

metadata = MetaData()

kiosks = Table(
    "kiosks", metadata,
    Column("id", String(64), primary_key=True),
    Column("unit_code", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("key_hex", String(64), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("enrolled_at", String(40), nullable=False),
    Column("last_seen", String(40)),
    Column("acked_through", Integer, nullable=False, default=0),
    Column("last_seq", Integer),          # as reported by the kiosk's heartbeat
    Column("pending", Integer),
    Column("quarantined", Integer),
    Column("kiosk_time", String(40)),
    Column("version", String(64)),
    Column("printer_state", String(200)),
    Column("scanner_state", String(200)),
    Column("clock_skew", Float),          # seconds, server time − kiosk time (last batch or heartbeat)
    Column("health", Text),               # JSON: the last heartbeat's health summary (api/kiosks.KioskHealth)
)

ratings = Table(
    "ratings", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),  # the admin API's cursor
    Column("id", String(36), nullable=False, unique=True),
    Column("kiosk_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("unit_code", String(200), nullable=False),
    Column("desk_id", String(200), nullable=False),
    Column("officer_id", String(200), nullable=False),
    Column("dossier_code", String(200)),
    Column("procedure_code", String(200)),
    Column("receipt_id", String(200)),
    Column("level", Integer, nullable=False),
    Column("reasons", Text, nullable=False),     # JSON list
    Column("comment", Text),
    Column("source", String(20), nullable=False),
    Column("flags", Text, nullable=False),       # JSON list
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("sig", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("batch_key", String(36)),
    Column("skew_seconds", Float),
    Column("corrected_at", String(40), nullable=False),  # created_at, or + skew when the clock was off
    # protocol v2 (migration 0003): the survey the rating answered and its other answers (a v1
    # record: hl3 and {}), the protocol version it came in (1: sent without survey and answers,
    # and returned so by the admin pull), and what the server found beside the signed flags
    Column("survey", String(64), nullable=False, server_default="hl3"),
    Column("answers", Text, nullable=False, server_default="{}"),       # JSON object
    Column("wire_version", Integer, nullable=False, server_default="1"),
    Column("server_flags", Text, nullable=False, server_default="[]"),  # JSON list
    UniqueConstraint("kiosk_id", "seq", name="uq_ratings_kiosk_seq"),
)
Index("ix_ratings_corrected_at", ratings.c.corrected_at)
Index("ix_ratings_officer", ratings.c.officer_id)
Index("ix_ratings_receipt", ratings.c.receipt_id)
Index("ix_ratings_survey", ratings.c.survey, ratings.c.corrected_at)   # one survey's own ratings (0007)

batches = Table(
    "batches", metadata,
    Column("kiosk_id", String(64), primary_key=True),
    Column("idempotency_key", String(36), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("sent_at", String(40)),
    Column("skew_seconds", Float),
    Column("count", Integer, nullable=False),
    Column("response", Text, nullable=False),    # the JSON reply, replayed for the same key
)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),  # gap, chain, signature, conflict, clock_skew
    Column("kiosk_id", String(64)),
    Column("seq_from", Integer),
    Column("seq_to", Integer),
    Column("rating_id", String(36)),
    Column("message", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("resolved_at", String(40)),
    Column("acked_by", String(100)),
    Column("note", Text),
    # what the alert is about (an officer or a kiosk) and the local month of its cause
    Column("subject", String(200)),
    Column("month", String(7)),
    Column("count", Integer, nullable=False, default=1),   # how many causes this one alert stands for
    Column("happened_at", String(40)),   # when the (first) cause happened: rating time, last contact
    Column("last_at", String(40)),       # when the latest cause happened
    # set while the alert is open: one open alert per cause (kind|subject|month); NULL once resolved
    Column("open_key", String(300)),
    # what a page needs to word the alert in the reader's language (JSON object; '{}' before 0004)
    Column("params", Text, nullable=False, server_default="{}"),
    UniqueConstraint("open_key", name="uq_alerts_open_key"),
)
Index("ix_alerts_open", alerts.c.kiosk_id, alerts.c.resolved_at)

users = Table(
    "users", metadata,
    Column("username", String(100), primary_key=True),
    Column("role", String(20), nullable=False),  # admin | viewer
    Column("password_hash", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("email", String(200)),        # told of its unit's new alerts and cases (migration 0006)
    Column("unit_code", String(64)),     # sees and manages this unit only; NULL: every unit
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(100), ForeignKey("users.username"), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

units = Table(
    "units", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address", String(300)),
)

desks = Table(
    "desks", metadata,
    Column("id", String(64), primary_key=True),
    Column("unit_code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
)

officers = Table(
    "officers", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("title", String(200)),
    Column("desk_id", String(64)),
    Column("photo", String(300)),       # file name in the server's media folder
    Column("photo_sha256", String(64)),
    Column("pin_hash", String(200)),
    # False once the officer left: kept in history and reports, left out of the kiosk's roster
    Column("active", Boolean, nullable=False, server_default=true()),
)

procedures = Table(
    "procedures", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("letter", String(40)),
)

settings = Table(
    "settings", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),    # JSON
)


# --- issue 11 (migration 0006): cases, their causes and log, letters issued, the outbox ---

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),     # nhung_nhieu, low_rate, tampering, silent, manual
    Column("officer_id", String(200)),
    Column("kiosk_id", String(64)),
    Column("unit_code", String(200)),
    Column("month", String(7)),                     # local month of the cause, when it has one
    Column("title", Text, nullable=False),          # Vietnamese, with the ids (as alerts.message)
    Column("status", String(20), nullable=False, server_default="open"),  # open|in_progress|resolved|closed
    Column("owner", String(100)),                   # a username
    Column("opened_at", String(40), nullable=False),
    Column("opened_by", String(100)),               # NULL: opened by a rule
    Column("due_date", String(10), nullable=False),  # local date YYYY-MM-DD
    Column("found_cause", Text),
    Column("outcome", Text),
    Column("resolved_at", String(40)),
    Column("closed_at", String(40)),
    Column("closed_by", String(100)),
    Column("reopened", Integer, nullable=False, server_default="0"),   # times reopened
    Column("watch_month", String(7)),               # after closing: the month whose rate may reopen it
    Column("open_key", String(300)),                # one case per cause while not closed; NULL once closed
    Column("params", Text, nullable=False, server_default="{}"),       # JSON: what pages word it from
    UniqueConstraint("open_key", name="uq_cases_open_key"),
)
Index("ix_cases_status_due", cases.c.status, cases.c.due_date)
Index("ix_cases_officer", cases.c.officer_id)

case_links = Table(
    "case_links", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("alert_id", Integer),
    Column("rating_id", String(36)),
    Column("linked_at", String(40), nullable=False),
    UniqueConstraint("case_id", "alert_id", name="uq_case_links_alert"),
    UniqueConstraint("case_id", "rating_id", name="uq_case_links_rating"),
)
Index("ix_case_links_case", case_links.c.case_id)
Index("ix_case_links_alert", case_links.c.alert_id)

case_events = Table(
    "case_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("at", String(40), nullable=False),
    Column("by", String(100)),                      # NULL: the system (a rule, the overdue sweep)
    Column("kind", String(30), nullable=False),     # opened, assigned, status, action, closed, reopened, letter, overdue, note
    Column("action", String(40)),                   # for kind=action: nhac_nho, kiem_diem, chan_chinh, doi_vi_tri, xin_loi, de_xuat_xu_ly, other
    Column("text", Text),
    Column("params", Text, nullable=False, server_default="{}"),
)
Index("ix_case_events_case", case_events.c.case_id)

letters_issued = Table(
    "letters_issued", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),     # apology, thanks, congratulation, condolence
    Column("case_id", Integer),
    Column("officer_id", String(200)),
    Column("unit_code", String(200)),
    Column("dossier_code", String(200)),
    Column("procedure_code", String(200)),
    Column("issued_at", String(40), nullable=False),
    Column("issued_by", String(100)),
    Column("sent_at", String(40)),                  # when the desk marked it sent
    Column("sha256", String(64)),                   # of the .docx produced (the name typed is never kept)
    Column("note", Text),
)
Index("ix_letters_issued_case", letters_issued.c.case_id)

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(10), nullable=False),  # email | webhook
    Column("target", String(500), nullable=False),  # address or URL
    Column("source", String(100), nullable=False),  # case:12, alert:40, digest:2026-12-02 …
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),           # text of the mail, or the webhook's JSON
    Column("created_at", String(40), nullable=False),
    Column("next_try_at", String(40), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", String(40)),
    Column("last_error", Text),
    UniqueConstraint("channel", "target", "source", name="uq_notifications_once"),
)
Index("ix_notifications_pending", notifications.c.sent_at, notifications.c.next_try_at)


# --- issue 15 (migration 0009): the public log (core/tlog_store.py, docs/public-log.md) ---

#: leaf ``idx`` of the RFC 9162 tree is the rating of ``rating_pk``: given in pk (= commit) order, in the
#: batch's own transaction; the leaf hash is computed from ``ratings.hash``, never stored
log_leaves = Table(
    "log_leaves", metadata,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("rating_pk", Integer, nullable=False, unique=True),
)

#: the node cache: MTH of the complete subtree ``[idx * 2**level, (idx + 1) * 2**level)``, hex, for
#: level >= tlog_store.CHUNK_LEVEL only (below, nodes are computed from the leaves)
log_nodes = Table(
    "log_nodes", metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
)

#: every checkpoint signed, kept: the signed note as served, its root (hex) and when it was signed
log_checkpoints = Table(
    "log_checkpoints", metadata,
    Column("tree_size", Integer, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("signed_at", String(40), nullable=False),
    Column("note", Text, nullable=False),
)

def db_url(db: str) -> str:
    """``--db`` value → SQLAlchemy URL: a URL as is, anything else a SQLite path.

    ``postgresql://`` and ``postgres://`` (what DESIGN.md and libpq write) mean
    psycopg 3, the driver hailong installs; SQLAlchemy alone would pick psycopg2.
    """
    db = str(db)
    for plain in ("postgresql://", "postgres://"):
        if db.startswith(plain):
            return "postgresql+psycopg://" + db[len(plain):]
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None   # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE: take the write lock up front, so two writers queue on
        # busy_timeout instead of failing when a read turns into a write.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _postgresql_text(engine: Engine) -> None:
    """PostgreSQL's text cannot hold NUL (U+0000): a NUL in a parameter is sent as U+FFFD.

    SQLite stores a NUL like any character, PostgreSQL refuses the whole
    statement (a 500 for a query string ``?subject=%00``). Records never hold
    one (protocol.py refuses control characters); what can is hostile input —
    a filter, a form — for which U+FFFD is what the pages show of a control
    character anyway, and which matches nothing stored.
    """
    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _no_nul(conn, cursor, statement, parameters, context, executemany):
        if executemany and isinstance(parameters, (list, tuple)):
            return statement, [_without_nul(p) for p in parameters]
        return statement, _without_nul(parameters)


def _without_nul(params):
    """A statement's parameters (a dict, a tuple or a list) with each NUL of a string as U+FFFD."""
    def clean(value):
        return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value
    if isinstance(params, dict):
        return {k: clean(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return type(params)(clean(v) for v in params)
    return params


def make_engine(db: str) -> Engine:
    url = db_url(db)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=16)
        _sqlite_pragmas(engine)
        if path and path != ":memory:":
            # town.db holds the session secret and kiosks' keys: created 0600 in a 0700
            # folder when new (SQLite gives -wal and -shm the file's mode).
            create_private(path)
            with engine.connect():
                private_sqlite(path)   # -wal/-shm left by a looser run follow a private file
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)
    if engine.dialect.name == "postgresql":
        _postgresql_text(engine)
    return engine


def make_reader(engine: Engine) -> Engine:
    """An engine that only reads, for every GET (pages, reports, pulls, config, auth).

    town.db's engine opens every transaction with BEGIN IMMEDIATE, i.e. takes
    the single write lock even to read; readers must not make kiosks'
    batches wait. WAL lets these plain readers run beside the
    writer; query_only makes sure they never write.
    """
    if engine.dialect.name == "postgresql":
        # every transaction of the reader is READ ONLY: a GET that tried to write fails loudly
        reader = create_engine(engine.url, pool_pre_ping=True, pool_size=8, max_overflow=16,
                               connect_args={"options": "-c default_transaction_read_only=on"})
        _postgresql_text(reader)
        return reader
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 30},
                           pool_size=8, max_overflow=16)

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=1")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
    return reader


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (no-op when current)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_INSERT_SQL: dict[tuple, tuple[str, tuple | None]] = {}


def _insert_sql(dialect, table: Table, columns: tuple) -> tuple[str, tuple | None]:
    """The INSERT of these columns as the dialect writes it, and the order of its positional parameters
    (None: named). Compiled once per table and columns: compiling it took ~0.7 ms, a batch of one
    rating's largest single cost after its commit."""
    key = (dialect.name, dialect.paramstyle, table, columns)
    found = _INSERT_SQL.get(key)
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        positional = dialect.paramstyle in ("qmark", "format", "numeric")
        found = _INSERT_SQL[key] = (str(compiled), tuple(compiled.positiontup) if positional else None)
    return found


def bulk_insert(conn, table: Table, rows: list[dict]) -> None:
    """executemany straight on the DB-API cursor (a COPY on PostgreSQL): the ingest's hot path.

    SQLAlchemy's own executemany spends more time preparing 500 parameter
    dicts than SQLite spends inserting them; the statement is still compiled
    by SQLAlchemy for the connection's dialect, so it stays portable.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and _copy_rows(conn, table, rows):
        return
    sql, order = _insert_sql(conn.dialect, table, tuple(rows[0]))
    params = [tuple(row[k] for k in order) for row in rows] if order is not None else rows
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        # raised straight from the driver: wrapped as SQLAlchemy would (OperationalError, IntegrityError…),
        # so that the callers' rules (retry, 503 when the database is unhealthy) see it
        from sqlalchemy.exc import DBAPIError
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _copy_rows(conn, table: Table, rows: list[dict]) -> bool:
    """The rows by one ``COPY … FROM STDIN`` in the connection's transaction (psycopg 3); False: no COPY here.

    One round trip and one statement for the batch instead of one INSERT
    per row in a pipeline (bulk_insert's executemany: ~55 % of a batch's
    time on PostgreSQL, py-spy). The same rows, the same defaults for the
    columns left out, the same errors (a unique violation is a 23505 the
    callers run again, core/leases.py), wrapped as SQLAlchemy would.
    """
    cursor = conn.connection.driver_connection.cursor()
    if not hasattr(cursor, "copy"):
        cursor.close()
        return False
    cols = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in cols)}) FROM STDIN"
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in cols))
    except conn.dialect.loaded_dbapi.Error as exc:
        from sqlalchemy.exc import DBAPIError
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from exc
    finally:
        cursor.close()
    return True


class FifoLock:
    """A lock handed to waiters in arrival order (threading.Lock is not fair).

    SQLite has one writer; with 50 kiosks sending at once, first come first
    served keeps the slowest batch's wait near one round of the queue.
    """

    def __init__(self):
        import collections
        import threading
        self._guard = threading.Lock()
        self._waiters = collections.deque()
        self._held = False
        self._event = threading.Event

    def __enter__(self):
        with self._guard:
            if not self._held:
                self._held = True
                return self
            turn = self._event()
            self._waiters.append(turn)
        turn.wait()
        return self

    def __exit__(self, *exc):
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()   # handed over: stays held
            else:
                self._held = False
