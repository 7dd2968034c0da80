"""SQL building blocks every room shares: local calendar buckets, misuse, codes in lists.

One place for each rule, so that the roll-up (core/rollup.py), the
statistics (reports/stats.py) and the exports cut days and judge misuse
the same way. Portable SQL plus two small dialect-specific date functions
(SQLite, PostgreSQL).

Lists (reasons, flags) are JSON text arrays of codes: a code is matched as
``"code"`` with its quotes, so "thai_do" never matches "thai_do_x".
"""
from __future__ import annotations

from sqlalchemy import Table, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import String

from sync.protocol import MISUSE_FLAGS, UNCOUNTED_SERVER_FLAGS


class LocalBucket(FunctionElement):
    """The local (UTC+7) day / ISO-week Monday / month of a timestamp, as text.

    The column holds RFC 3339 text with its offset (town.db's
    ``corrected_at``): SQLite's date() converts it to UTC first, PostgreSQL
    casts it to timestamptz. One subclass per step, so that SQLAlchemy's
    statement cache tells them apart.
    """
    type = String()
    inherit_cache = True
    step = ""


class LocalDay(LocalBucket):
    inherit_cache = True
    step = "day"


class LocalWeek(LocalBucket):
    inherit_cache = True
    step = "week"


class LocalMonth(LocalBucket):
    inherit_cache = True
    step = "month"


BUCKETS = {"day": LocalDay, "week": LocalWeek, "month": LocalMonth}


@compiles(LocalBucket, "sqlite")
def _bucket_sqlite(element, compiler, **kw):
    col = compiler.process(list(element.clauses)[0], **kw)
    if element.step == "day":
        return f"date({col}, '+7 hours')"
    if element.step == "week":   # Monday of the week: next Sunday (or today) - 6 days
        return f"date({col}, '+7 hours', {_SQLITE_MONDAY})"
    return f"strftime('%Y-%m', {col}, '+7 hours')"


@compiles(LocalBucket, "postgresql")
def _bucket_pg(element, compiler, **kw):
    col = compiler.process(list(element.clauses)[0], **kw)
    local = f"(CAST({col} AS TIMESTAMPTZ) AT TIME ZONE 'Asia/Ho_Chi_Minh')"
    if element.step == "day":
        return f"to_char({local}, 'YYYY-MM-DD')"
    if element.step == "week":
        return f"to_char(date_trunc('week', {local}), 'YYYY-MM-DD')"
    return f"to_char({local}, 'YYYY-MM')"


class WeekOfDay(FunctionElement):
    """Monday (YYYY-MM-DD) of the ISO week of a YYYY-MM-DD text (the roll-up's day column)."""
    type = String()
    inherit_cache = True


#: SQLite date() modifiers that take a day to the Monday of its week (the week starts on Monday).
_SQLITE_MONDAY = "'weekday 0', '-6 days'"


@compiles(WeekOfDay, "sqlite")
def _week_sqlite(element, compiler, **kw):
    return f"date({compiler.process(list(element.clauses)[0], **kw)}, {_SQLITE_MONDAY})"


@compiles(WeekOfDay, "postgresql")
def _week_pg(element, compiler, **kw):
    col = compiler.process(list(element.clauses)[0], **kw)
    return f"to_char(date_trunc('week', CAST({col} AS DATE)), 'YYYY-MM-DD')"


def dialect_insert(conn):
    """The ``insert`` of the connection's dialect: the one that writes ``ON CONFLICT`` (``on_conflict_do_nothing``,
    ``on_conflict_do_update``), the same words on SQLite and PostgreSQL."""
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:   # pragma: no cover - the two databases the server supports
        raise RuntimeError(f"INSERT … ON CONFLICT not written for {name}")
    return insert


def contains_code(col, code: str) -> ColumnElement:
    """The JSON list in ``col`` holds ``code``."""
    return col.like(f'%"{code}"%')


def misuse_expr(ratings: Table) -> ColumnElement:
    """True when the rating is shown but not counted: a misuse flag of the kiosk (rapid_repeat)
    or, when the table has them, a server flag that keeps it out (duplicate_receipt)."""
    flags = ratings.c.flags
    signed = and_(flags.is_not(None), or_(*[contains_code(flags, f) for f in sorted(MISUSE_FLAGS)]))
    if "server_flags" not in ratings.c:
        return signed
    found = ratings.c.server_flags
    return or_(signed, and_(found.is_not(None), found != "[]",
                            or_(*[contains_code(found, f) for f in sorted(UNCOUNTED_SERVER_FLAGS)])))


def satisfied_expr(ratings: Table, surveys: dict[str, dict]) -> ColumnElement:
    """True when the rating's level is in its own survey's ``satisfied`` set (misuse not judged here)."""
    parts = []
    for sid, doc in sorted(surveys.items()):
        levels = sorted(doc.get("satisfied") or ())
        if levels:
            parts.append(and_(ratings.c.survey == sid, ratings.c.level.in_(levels)))
    return or_(*parts) if parts else and_(ratings.c.level != ratings.c.level)


def json_object(text) -> dict:
    """A JSON-object column (``params`` of alerts, cases, case events) read back: ``{}`` when empty or not an object.

    Rows written before a column existed hold '{}', a hand-edited row may hold anything: a page must
    still render, so what is not a JSON object reads as an empty one.
    """
    import json
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
