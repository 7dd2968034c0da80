"""Plain SQL on a test's town database, whichever engine it is on (SQLite path or PostgreSQL URL).

Tests look behind the server's back (what is stored) and tamper with it
(a rewritten row, a dropped table) the same way on both engines:
``rows(db, "SELECT level FROM ratings WHERE kiosk_id = :k", k="K1")``.
Parameters are SQLAlchemy's ``:name`` style. Each call opens and closes its
own connection (NullPool), so nothing is held between calls.
"""
from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from sync.server.core.db import db_url

_engines: dict[str, object] = {}


def engine(db):
    """A SQLAlchemy engine on ``db`` (a town.db path or a URL), no pool."""
    url = db_url(str(db))
    if url not in _engines:
        _engines[url] = create_engine(url, poolclass=NullPool)
    return _engines[url]


def shown(db) -> str:
    """``db`` as the server and the command line print it (a URL without its password)."""
    from sync.server.commands import shown as cli_shown
    return cli_shown(str(db))


def is_postgresql(db) -> bool:
    return db_url(str(db)).startswith("postgresql")


def rows(db, sql: str, **params) -> list[dict]:
    """The rows of a query, as dicts."""
    with engine(db).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def scalar(db, sql: str, **params):
    """The first column of the first row (None when there is none)."""
    with engine(db).connect() as conn:
        return conn.execute(text(sql), params).scalar()


def execute(db, sql: str, **params) -> int:
    """Run one statement in its own committed transaction; the row count."""
    with engine(db).begin() as conn:
        return conn.execute(text(sql), params).rowcount


class Connection:
    """A sqlite3-like connection on either engine, for tests written against sqlite3.

    ``execute(sql, params)`` takes SQLite's ``?`` placeholders (rewritten to
    psycopg's ``%s`` on PostgreSQL) and returns a result with ``fetchone()`` /
    ``fetchall()``; ``with connect(db) as con:`` commits at the end (rolls back
    on an error) and closes.
    """

    def __init__(self, db):
        self._conn = engine(db).connect()
        self._pg = is_postgresql(db)

    def execute(self, sql: str, params=()):
        params = tuple(params)
        if self._pg and params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self._conn.exec_driver_sql(sql, params) if params else self._conn.exec_driver_sql(sql)

    def commit(self) -> None:
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self._conn.commit()
        else:
            self._conn.rollback()
        self._conn.close()


def connect(db) -> Connection:
    """sqlite3.connect's stand-in that also opens a PostgreSQL URL (see Connection)."""
    return Connection(db)


def table_names(db) -> list[str]:
    """The tables of the database (sqlite_master / information_schema, through SQLAlchemy)."""
    from sqlalchemy import inspect
    return inspect(engine(db)).get_table_names()
