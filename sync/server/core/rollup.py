"""Daily roll-up of the ratings: what lets a year's dashboard answer in under a second.

Scanning millions of ratings takes SQLite seconds however it is indexed
(benchmarks/dashboard_5m.py: ~1 s just to count a year of 5 M rows, ~30 s
to group them). Ratings are immutable and arrive in ``pk`` order, so the
server keeps per local day (and per month) × unit × desk × officer ×
procedure × survey the counts the statistics need — total, misuse, valid
ratings per level, satisfied (by each rating's own survey), on time and late
(the signed flags of a rating from a dated receipt), ratings with a comment,
valid ratings per
reason, and valid answers per question and value — and folds in new ratings
incrementally (from the last pk folded) when ingest stores them. A year is
then a few hundred thousand small rows at most instead of millions of wide
ones.

The survey is part of every key (migration 0007): a dashboard filtered by
survey, and the figures of each survey and each of its questions
(reports/survey_results.py), read the same small tables.

The tables are this module's own (created if missing, rebuilt from the
ratings if dropped): nothing in them is not derivable from ``ratings``.

Concurrency: the fold runs in one write transaction that also moves the
cursor, so two requests never fold the same ratings twice (SQLite serialises
writers; on PostgreSQL the cursor row is locked FOR UPDATE). On PostgreSQL
new ratings are inserted under one lock (core/leases.py ratings_lock), so they
commit in pk order and the fold's pk cursor never passes a row that commits
late.
"""
from __future__ import annotations

import json

from sqlalchemy import Column, Integer, String, Table, and_, bindparam, func, select

from sync.protocol import LATE_FLAG, ON_TIME_FLAG
from sync.server.core import db
from sync.server.core.sql import LocalDay, contains_code, dialect_insert, misuse_expr

LEVELS = range(11)          # columns l0..l10: any survey's levels (protocol: 1 … scale ≤ 10; 0 from 0.1)
metadata = db.metadata         # the tables are created by Alembic (migration 0002)
#: "at" is the local day (YYYY-MM-DD) in the day tables, the month (YYYY-MM) in the month tables
KEY = ("at", "unit_code", "desk_id", "officer_id", "procedure_code", "survey")
#: the width of each key column (migration 0007 creates the tables with the same)
KEY_TYPES = {"at": 10, "unit_code": 200, "desk_id": 200, "officer_id": 200, "procedure_code": 200, "survey": 64}


def _key_columns() -> list[Column]:
    # procedure_code is "" when the rating had none; survey is the id the rating answered
    return [Column(k, String(KEY_TYPES[k]), primary_key=True) for k in KEY]


def _counts_table(name: str) -> Table:
    return Table(
        name, metadata,
        *_key_columns(),
        Column("total", Integer, nullable=False),
        Column("misuse", Integer, nullable=False),
        *[Column(f"l{lv}", Integer, nullable=False, default=0) for lv in LEVELS],
        # valid ratings whose level is in their own survey's satisfied set (migration 0003)
        Column("satisfied", Integer, nullable=False, default=0),
        # valid ratings flagged on_time / late (from a receipt with the appointment date; migration 0007)
        Column("on_time", Integer, nullable=False, default=0),
        Column("late", Integer, nullable=False, default=0),
        # ratings with a comment, misuse included (they are shown): the dashboard's "all n comments"
        Column("comments", Integer, nullable=False, default=0),
    )


def _reasons_table(name: str) -> Table:
    return Table(
        name, metadata,
        *_key_columns(),
        Column("code", String(100), primary_key=True),
        Column("n", Integer, nullable=False),
        # of those n, the ratings satisfied on their own survey (praise, not complaint; migration 0005)
        Column("satisfied", Integer, nullable=False, default=0),
    )


def _answers_table(name: str) -> Table:
    """Valid ratings per question and answer: value 1 … scale, 0 when the question was skipped (null)."""
    return Table(
        name, metadata,
        *_key_columns(),
        Column("question", String(64), primary_key=True),
        Column("value", Integer, primary_key=True),
        Column("n", Integer, nullable=False),
    )


rollup_day = _counts_table("rollup_day")
rollup_reason_day = _reasons_table("rollup_reason_day")
rollup_answer_day = _answers_table("rollup_answer_day")
rollup_month = _counts_table("rollup_month")
rollup_reason_month = _reasons_table("rollup_reason_month")
rollup_answer_month = _answers_table("rollup_answer_month")
TABLES = (rollup_day, rollup_reason_day, rollup_answer_day, rollup_month, rollup_reason_month, rollup_answer_month)
COUNTS = ["total", "misuse", "satisfied", "on_time", "late", "comments", *[f"l{lv}" for lv in LEVELS]]

cursor_table = Table(
    "rollup_cursor", metadata,
    Column("name", String(40), primary_key=True),
    Column("pk", Integer, nullable=False),
)


_UPSERTS: dict[tuple[str, str], object] = {}


def _upsert(conn, table: Table, rows: list[dict], keys: list[str], add: list[str]) -> None:
    """Insert rows, or add their counts to the row already there (SQLite and PostgreSQL).

    One statement per table and dialect, built once and run as an
    executemany: ingest calls this for every batch, and compiling a fresh
    multi-row INSERT … ON CONFLICT each time cost more than the batch's insert.
    """
    if not rows:
        return
    name = conn.dialect.name
    stmt = _UPSERTS.get((name, table.name))
    if stmt is None:
        stmt = dialect_insert(conn)(table)
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: table.c[c] + stmt.excluded[c] for c in add})
        _UPSERTS[(name, table.name)] = stmt
    conn.execute(stmt, rows)


CHUNK = 50_000   # ratings per write transaction: caps how long a fold holds the write lock (~2 s)
#: answer values kept: 1 … 10 (a question's scale), 0 for a skipped question (null)
ANSWER_VALUES = range(11)


def _new_groups():
    """The ratings of a pk range grouped by key, level, misuse, on time / late, and the reasons'
    and answers' JSON text.

    Few distinct groups (the fold pivots them in Python); built once with
    bound pk limits, so that each batch's fold costs the query, not its
    construction and compilation.
    """
    r = db.ratings
    day = LocalDay(r.c.corrected_at).label("day")
    proc = func.coalesce(r.c.procedure_code, "").label("procedure_code")
    bad = misuse_expr(r).label("bad")
    on_time = contains_code(r.c.flags, ON_TIME_FLAG).label("on_time")
    late = contains_code(r.c.flags, LATE_FLAG).label("late")
    said = and_(r.c.comment.is_not(None), r.c.comment != "").label("said")
    groups = [day, r.c.unit_code, r.c.desk_id, r.c.officer_id, proc, r.c.survey, r.c.level, bad, on_time, late,
              said, r.c.reasons, r.c.answers]
    return (select(*groups, func.count().label("n"))
            .where(r.c.pk > bindparam("lo"), r.c.pk <= bindparam("hi")).group_by(*groups))


_NEW_GROUPS = _new_groups()
#: a cursor's pk (``name``), read or locked, and moved (``b_name``, ``pk``): built once, as _NEW_GROUPS
#: (every batch runs them, for the fold's cursor and the alert rules', core/alerts.py)
CURSOR_PK = select(cursor_table.c.pk).where(cursor_table.c.name == bindparam("name"))
CURSOR_PK_LOCKED = CURSOR_PK.with_for_update()
CURSOR_MOVED = cursor_table.update().where(cursor_table.c.name == bindparam("b_name"))
_TOP = select(func.max(db.ratings.c.pk))


def made_cursor(conn, name: str, start: int) -> int:
    """A cursor found missing: made at ``start`` unless another transaction made it, then read locked.

    The first fold (and the alert rules' first look) of a new town: two
    server processes starting at once both find no row. Each makes it "if
    missing" (INSERT … ON CONFLICT DO NOTHING: the second waits for the
    first's commit, then does nothing) and reads it again, locked, so
    neither fails on the other's row (a unique violation, before) and both
    go on from the same pk.
    """
    conn.execute(dialect_insert(conn)(cursor_table).on_conflict_do_nothing(index_elements=["name"]),
                 {"name": name, "pk": start})
    return conn.execute(CURSOR_PK_LOCKED, {"name": name}).scalar()


def _satisfied_sets(conn, surveys: dict | None) -> dict[str, frozenset]:
    if surveys is None:
        from sync.server.core.settings import known_surveys
        surveys = known_surveys(conn)
    return {sid: frozenset(doc.get("satisfied") or ()) for sid, doc in surveys.items()}


def fold(engine, reasons: list[str]) -> int:
    """Fold the ratings not yet rolled up, in transactions of its own; returns how many.

    ``reasons``: the reason codes to count (the survey's; a code added later
    counts from its first fold on — rebuild() recounts everything). A long
    backlog (the first fold of an existing town.db) goes in chunks, so
    ingest waits at most one chunk for the write lock. The caller holds the
    server's write lock (see create_app), as ingest does.
    """
    done = 0
    while True:
        with engine.begin() as conn:
            n = fold_in(conn, reasons, limit=CHUNK)
        if n is None:
            return done
        done += n


def _answers(text: str | None, cache: dict) -> tuple[tuple[str, int], ...]:
    """(question, value) of a rating's answers JSON: 0 for null; anything else off the protocol skipped."""
    found = cache.get(text)
    if found is None:
        try:
            doc = json.loads(text or "{}")
        except ValueError:
            doc = {}
        pairs = []
        for code, value in (doc.items() if isinstance(doc, dict) else ()):
            if not isinstance(code, str) or not 0 < len(code) <= 64:
                continue
            if value is None:
                pairs.append((code, 0))
            elif isinstance(value, int) and not isinstance(value, bool) and value in ANSWER_VALUES:
                pairs.append((code, value))
        found = cache[text] = tuple(pairs)
    return found


def _to_month(grouped: dict[tuple, object]) -> dict[tuple, object]:
    """Day keys → month keys ("YYYY-MM-DD" → "YYYY-MM"), counts added (dicts of counts, lists or ints)."""
    months: dict[tuple, object] = {}
    for key, value in grouped.items():
        mkey = (key[0][:7],) + key[1:]
        have = months.get(mkey)
        if have is None:
            months[mkey] = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
        elif isinstance(value, dict):
            for c, n in value.items():
                have[c] += n
        elif isinstance(value, list):
            for i, n in enumerate(value):
                have[i] += n
        else:
            months[mkey] = have + value
    return months


def fold_in(conn, reasons: list[str], limit: int | None = CHUNK, surveys: dict | None = None) -> int | None:
    """Fold, inside the caller's write transaction, the ratings after the cursor (at most ``limit``).

    Ingest calls it in the same transaction as the batch it stores, so the
    roll-up is never behind what was acknowledged and no read ever has to
    fold. Returns how many ratings were folded, None when there was nothing.
    At most ``limit`` ratings (one chunk) per call: after an upgrade that
    emptied the roll-up (migration 0007) a batch never folds a whole
    town.db in its transaction — the server's background catch-up
    (core/tasks.py) folds the backlog chunk by chunk.

    ``surveys``: id → survey document (the server's known_surveys; read
    here when None): each rating counts as satisfied by its own survey's
    ``satisfied`` set, whatever the town's default scale. A survey the
    server does not know (never stored: ingest refuses it) counts none.
    """
    cur = conn.execute(CURSOR_PK_LOCKED, {"name": "ratings"}).scalar()
    if cur is None:
        cur = made_cursor(conn, "ratings", 0)
    top = conn.execute(_TOP).scalar() or 0
    if top <= cur:
        return None
    if limit is not None:
        top = min(top, cur + limit)
    wanted = set(reasons)
    satisfied = _satisfied_sets(conn, surveys)
    days: dict[tuple, dict] = {}
    counted: dict[tuple, list[int]] = {}      # key + code → [n, satisfied]
    answered: dict[tuple, int] = {}           # key + question + value → n
    parsed: dict = {}
    width = len(KEY)
    for row in conn.execute(_NEW_GROUPS, {"lo": cur, "hi": top}):
        key = tuple(row[:width])
        agg = days.setdefault(key, dict.fromkeys(COUNTS, 0))
        agg["total"] += row.n
        if row.said:
            agg["comments"] += row.n
        if row.bad:
            agg["misuse"] += row.n
            continue
        if row.level in LEVELS:
            agg[f"l{row.level}"] += row.n
        pleased = row.level in satisfied.get(row.survey, ())
        if pleased:
            agg["satisfied"] += row.n
        if row.on_time:
            agg["on_time"] += row.n
        elif row.late:
            agg["late"] += row.n
        for code in set(json.loads(row.reasons or "[]")) & wanted:
            pair = counted.setdefault(key + (code,), [0, 0])
            pair[0] += row.n
            pair[1] += row.n if pleased else 0
        for pair in _answers(row.answers, parsed):
            akey = key + pair
            answered[akey] = answered.get(akey, 0) + row.n
    for table, reasons_table, answers_table, grouped, counts, answers in (
            (rollup_day, rollup_reason_day, rollup_answer_day, days, counted, answered),
            (rollup_month, rollup_reason_month, rollup_answer_month,
             _to_month(days), _to_month(counted), _to_month(answered))):
        _upsert(conn, table, [dict(zip(KEY, key), **agg) for key, agg in grouped.items()], list(KEY), COUNTS)
        _upsert(conn, reasons_table, [dict(zip((*KEY, "code"), key), n=n, satisfied=pleased)
                                      for key, (n, pleased) in counts.items()],
                [*KEY, "code"], ["n", "satisfied"])
        _upsert(conn, answers_table, [dict(zip((*KEY, "question", "value"), key), n=n)
                                      for key, n in answers.items()],
                [*KEY, "question", "value"], ["n"])
    conn.execute(CURSOR_MOVED, {"b_name": "ratings", "pk": top})
    return sum(agg["total"] for agg in days.values())


def rebuild(engine, reasons: list[str]) -> int:
    """Drop the roll-up and fold every rating again.

    The alert rules' cursor (core/alerts.CURSOR) stays: the ratings they have looked at raise
    no alert again (a harassment rating would otherwise count twice, a resolved alert reopen)."""
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(table.delete())
        conn.execute(cursor_table.delete().where(cursor_table.c.name != "alerts"))
    return fold(engine, reasons)
