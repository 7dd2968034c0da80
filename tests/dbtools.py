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
