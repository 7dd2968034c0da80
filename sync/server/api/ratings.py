"""The admin API (admin or viewer API token): incremental pulls of ratings, alerts.

Cursor: the server's insertion order (an opaque decimal string). ``next`` is
the cursor after the last rating returned, or null when the page was empty
(caught up): a puller keeps the last non-null cursor for its next run.
"""
from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import case, func, literal, select

from sync import protocol
from sync.cells import csv_cell
from sync.server.api.auth import current_user
from sync.server.core.alerts import as_record
from sync.server.core.db import alerts, ratings
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.settings import known_surveys, survey
from sync.server.reports.exports import roster_names

router = APIRouter(tags=["admin"])

MAX_LIMIT = 5000
#: the admin API's names (hailong pull's words); added in 0.3
PATH_NAMES = "/api/v1/names"


class RatingsPage(BaseModel):
    ratings: list[dict] = Field(description="records as sent by the kiosks (a protocol v1 record without "
                                            "survey and answers), plus received_at and server_flags")
    next: str | None = Field(description="cursor to pass as `after` next time; null when caught up")


def parse_cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 18:
        raise HTTPException(400, "after: not a cursor returned by this server")
    return int(after)


_V1 = protocol.RECORD_FIELDS_V1
_PAGE_COLUMNS = ("pk", "received_at", "server_flags", "wire_version", *_V1, "survey", "answers")
_JSON_FIELDS = ("reasons", "flags", "answers", "server_flags")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _page(rows: list[str], last_pk: int | None) -> bytes:
    """One record a line (still one JSON document): `hailong pull --format jsonl` copies the lines as they are."""
    if not rows:
        return b'{"ratings":[],"next":null}'
    return ('{"ratings":[\n' + ",\n".join(rows) + f'\n],"next":"{last_pk}"}}').encode("utf-8")


def _object_args(fields) -> list:
    args = []
    for k in fields:
        args += [literal(k), func.json(ratings.c[k]) if k in _JSON_FIELDS else ratings.c[k]]
    return args


#: a v2 record as sent; a v1 record (wire_version 1) without survey and answers, so its hash verifies
_V2_OBJECT = func.json_object(*_object_args((*protocol.RECORD_FIELDS, "received_at", "server_flags")))
_V1_OBJECT = func.json_object(*_object_args((*_V1, "received_at", "server_flags")))


def page_sqlite(conn, start: int, limit: int, scope: Scope = EVERY_UNIT) -> bytes:
    """The page's JSON with each record encoded by SQLite itself (``json_object``, in C).

    The hot path of `hailong pull`: pydantic (response_model) plus
    jsonable_encoder cost several times the SELECT, and even a plain
    ``json.dumps`` per row doubles it. ``response_model`` still documents the
    page in the OpenAPI schema.
    """
    obj = case((ratings.c.wire_version == 1, _V1_OBJECT), else_=_V2_OBJECT)
    rows = conn.execute(select(ratings.c.pk, obj).where(ratings.c.pk > start, scope.ratings())
                        .order_by(ratings.c.pk).limit(limit)).all()
    return _page([r[1] for r in rows], rows[-1][0] if rows else None)


def page_portable(conn, start: int, limit: int, scope: Scope = EVERY_UNIT) -> bytes:
    """The same page built in Python (databases other than SQLite)."""
    rows = conn.execute(select(*[ratings.c[k] for k in _PAGE_COLUMNS]).where(ratings.c.pk > start, scope.ratings())
                        .order_by(ratings.c.pk).limit(limit)).all()
    out = []
    for row in rows:
        m = dict(zip(_PAGE_COLUMNS, row))
        rec = {k: m[k] for k in (_V1 if m["wire_version"] == 1 else protocol.RECORD_FIELDS)}
        for k in ("reasons", "flags", "answers"):
            if k in rec:
                rec[k] = json.loads(rec[k] or "{}")
        rec["received_at"] = m["received_at"]
        rec["server_flags"] = json.loads(m["server_flags"] or "[]")
        out.append(_dumps(rec))
    return _page(out, rows[-1][0] if rows else None)


@router.get(protocol.PATH_RATINGS, response_model=RatingsPage, summary="Ratings after a cursor, oldest first")
def list_ratings(request: Request, after: str | None = Query(None, max_length=18),
                 limit: int = Query(1000, ge=1, le=MAX_LIMIT), user: dict = Depends(current_user)):
    start = parse_cursor(after)
    # the read-only engine (SQLite): a pull must not hold the write lock kiosks wait on
    engine = request.app.state.reader
    build = page_sqlite if engine.dialect.name == "sqlite" else page_portable
    with engine.connect() as conn:      # a commune's token: its unit's ratings (core/scope.py)
        body = build(conn, start, limit, Scope.of(user))
    return Response(body, media_type="application/json")


# --- the same ratings as `hailong pull --format csv --raw` rows, streamed -------------------------------------

#: the streamed route (added in 0.4): an older server answers 404 and `hailong pull` pages the JSON route
PATH_RATINGS_CSV = "/api/v1/ratings.csv"
#: a streamed range may be long: nothing of it is held in memory
CSV_MAX_LIMIT = 1_000_000
CSV_DEFAULT_LIMIT = 100_000
#: the headers of a streamed range: the cursor after its last row (absent when empty) and its row count
NEXT_HEADER, COUNT_HEADER = "X-Hailong-Next", "X-Hailong-Count"
#: `hailong pull --raw`'s columns (sync/pull.py COLUMNS), in order
CSV_COLUMNS = (*protocol.RECORD_FIELDS, "received_at")
_CHUNK_ROWS = 2000
#: what sync/cells.clean_text replaces (PostgreSQL text never holds NUL nor a lone surrogate)
_CONTROLS = "".join(chr(c) for c in (*range(1, 9), 11, 12, *range(14, 32)))


def _sql_cell(expr: str) -> str:
    """sync/cells.csv_cell in SQL, then what makes COPY's CSV the csv module's (see :func:`_copy_chunks`).

    Controls → U+FFFD; a formula start behind an apostrophe; an empty string as NULL (COPY quotes an
    empty string, the csv module does not); a raw LF / CR inside a value as ``,\\x01`` / ``,\\x02``: the
    comma makes COPY quote the value as the csv module quotes one holding a line break, and the
    markers (controls, so never in a cleaned value) are turned back into LF / CR in the stream.

    Nearly every value holds no control and starts with no formula character: one regular
    expression (:data:`_NEEDS_RULE`) finds the few that need the rest; the whole rule on every cell
    (a sub-SELECT each) made the stream three times slower than the JSON pages on PostgreSQL.
    """
    clean = f"translate({expr}, '{_CONTROLS}', '{chr(0xFFFD) * len(_CONTROLS)}')"
    lead = "CASE WHEN left(v, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || v ELSE v END"
    slow = (f"(SELECT NULLIF(replace(replace({lead}, E'\\n', E',\\x01'), E'\\r', E',\\x02'), '') "
            f"FROM (SELECT {clean} AS v) c)")
    return f"CASE WHEN {expr} ~ '{_NEEDS_RULE}' THEN {slow} ELSE NULLIF({expr}, '') END"


#: a value sync/cells.csv_cell would change or COPY would quote apart (a control, a formula start)
_NEEDS_RULE = r"[\x01-\x1f]|^[-=+@]"
#: a name made of letters, digits, '_' and '.', first a letter or digit (JSON writes it as it is)
_PLAIN = r'"[A-Za-z0-9][A-Za-z0-9_.]*"'
#: a list of plain names as ingest stores it (json.dumps: ", " between): joined by one replace
_PLAIN_LIST = rf"^\[{_PLAIN}(, {_PLAIN})*\]$"


def _sql_list(col: str) -> str:
    joined = (f"(SELECT string_agg(e, '; ' ORDER BY o) FROM json_array_elements_text({col}::json) "
              f"WITH ORDINALITY AS t(e, o))")
    plain = f"""replace(substr({col}, 3, length({col}) - 4), '", "', '; ')"""
    return (f"CASE WHEN {col} = '[]' THEN NULL WHEN {col} ~ '{_PLAIN_LIST}' THEN {plain} "
            f"ELSE {_sql_cell(joined)} END")


#: answers as json.dumps(answers, ensure_ascii=False, sort_keys=True) writes them (keys by code point)
_SQL_ANSWERS = ("CASE WHEN wire_version = 1 OR answers = '{}' THEN NULL ELSE (SELECT '{' || string_agg("
                "to_json(key)::text || ': ' || value::text, ', ' ORDER BY key COLLATE \"C\") || '}' "
                "FROM json_each(answers::json)) END")


def _sql_column(col: str) -> str:
    if col in ("seq", "level"):
        return col
    if col in ("reasons", "flags"):
        return _sql_list(col)
    if col == "answers":
        return _SQL_ANSWERS
    # a row none of whose text cells needs the rule (:data:`_ROW_PLAIN`): the value as it is
    cell = f"CASE WHEN plain THEN {col} ELSE {_sql_cell(col)} END"
    return f"CASE WHEN wire_version = 1 THEN NULL ELSE {cell} END" if col == "survey" else cell


#: the text cells of a row (lists and answers have their own checks) joined by commas: a row whose
#: joined text holds no control, no field start that is a formula start, no empty string (``(^|,)``
#: then ``,`` or the end; a NULL is skipped by concat_ws) needs none of :func:`_sql_cell`'s rule, so
#: one regular expression a row instead of one a cell. A comma inside a value may only make it match
#: where no cell needs the rule (the cells then take the rule, which gives the same bytes); every
#: cell's start follows a comma or is the start, so it never misses one that does.
_TEXT_COLUMNS = [c for c in CSV_COLUMNS if c not in ("seq", "level", "reasons", "flags", "answers")]
_ROW_PLAIN = (f"NOT (concat_ws(',', {', '.join(_TEXT_COLUMNS)}) ~ '[\\x01-\\x1f]|(^|,)([-=+@,]|$)') AS plain")
_COPY_SELECT = ", ".join(_sql_column(c) for c in CSV_COLUMNS)
_LIST_AT = [CSV_COLUMNS.index(c) for c in ("reasons", "flags")]
_SURVEY_AT, _ANSWERS_AT = CSV_COLUMNS.index("survey"), CSV_COLUMNS.index("answers")


def csv_row(row) -> list:
    """One ratings row (CSV_COLUMNS then wire_version) as `hailong pull --raw` writes it (sync/pull.py _flat)."""
    out = list(row[:-1])
    for i in _LIST_AT:
        out[i] = "; ".join(json.loads(out[i])) if out[i] and out[i] != "[]" else ""
    if row[-1] == 1:     # a v1 record: sent back without survey and answers
        out[_SURVEY_AT] = out[_ANSWERS_AT] = None
    else:
        answers = json.loads(out[_ANSWERS_AT] or "{}")
        out[_ANSWERS_AT] = json.dumps(answers, ensure_ascii=False, sort_keys=True) if answers else None
    return [csv_cell(v) for v in out]


def csv_range(conn, start: int, limit: int, scope: Scope) -> tuple[int, int | None]:
    """(rows, last pk) of the range a streamed answer holds: the ``limit`` first of the scope after ``start``."""
    first = (select(ratings.c.pk).where(ratings.c.pk > start, scope.ratings())
             .order_by(ratings.c.pk).limit(limit).subquery())
    count, last = conn.execute(select(func.count(), func.max(first.c.pk))).one()
    return count, last


def _sqlite_chunks(conn, start: int, last: int, scope: Scope):
    """The range's rows through the csv module, a few thousand rows a chunk (SQLite, or any engine)."""
    query = (select(*[ratings.c[c] for c in CSV_COLUMNS], ratings.c.wire_version)
             .where(ratings.c.pk > start, ratings.c.pk <= last, scope.ratings()).order_by(ratings.c.pk))
    buf = io.StringIO()
    writer = csv.writer(buf)
    result = conn.execute(query)
    while True:
        rows = result.fetchmany(_CHUNK_ROWS)
        if not rows:
            return
        writer.writerows([csv_row(r) for r in rows])
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()


def _copy_chunks(conn, start: int, last: int, scope: Scope):
    """The range's rows from PostgreSQL's own CSV writer (``COPY … TO STDOUT``), passed through.

    COPY ends a row with LF, the csv module with CRLF: a value's own line breaks travel as markers
    (:func:`_sql_cell`), so every LF of the stream ends a row; the markers go back afterwards.
    """
    where = select(ratings.c.pk).where(ratings.c.pk > start, ratings.c.pk <= last, scope.ratings())
    cond = str(where.whereclause.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    # OFFSET 0: the sub-SELECT is not flattened, so ``plain`` is worked out once a row, not once a cell
    sql = (f"COPY (SELECT {_COPY_SELECT} FROM (SELECT *, {_ROW_PLAIN} FROM ratings WHERE {cond} ORDER BY pk "
           f"OFFSET 0) r ORDER BY pk) TO STDOUT (FORMAT csv)")
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        # no JIT: the many CASEs of the SELECT made PostgreSQL compile it for each range (about 0.6 s
        # of 100,000 rows' 1.4 s, more than the rows themselves took); the rest of the transaction only
        cur.execute("SET LOCAL jit = off")
    with raw.cursor() as cur, cur.copy(sql) as copy:
        parts, size = [], 0
        for block in copy:
            parts.append(block)
            size += len(block)
            if size >= 1 << 18:
                yield _crlf(b"".join(parts))
                parts, size = [], 0
        if parts:
            yield _crlf(b"".join(parts))


def _crlf(chunk: bytes) -> bytes:
    chunk = chunk.replace(b"\n", b"\r\n")
    if b"\x01" in chunk or b"\x02" in chunk:
        chunk = chunk.replace(b",\x01", b"\n").replace(b",\x02", b"\r")
    return chunk


def parse_limit(limit: str | None, default: int, most: int) -> int:
    if limit is None or limit == "":
        return default
    if not limit.isdigit() or len(limit) > 9 or not 1 <= int(limit) <= most:
        raise HTTPException(400, f"limit: a whole number from 1 to {most}")
    return int(limit)


@router.get(PATH_RATINGS_CSV, summary="Ratings after a cursor as `hailong pull --raw` CSV rows, streamed",
            response_class=StreamingResponse, responses={200: {
                "content": {"text/csv": {}},
                "description": "the rows (no header unless asked, no BOM; CRLF; cells as sync/cells.py writes "
                               f"them: never a formula) of columns {', '.join(CSV_COLUMNS)}; header {NEXT_HEADER}: "
                               f"the cursor after the last row (absent when none), {COUNT_HEADER}: how many rows"}})
def stream_ratings_csv(request: Request, after: str | None = Query(None, max_length=18),
                       limit: str | None = Query(None, max_length=12, description=(
                           f"rows, 1 to {CSV_MAX_LIMIT} (default {CSV_DEFAULT_LIMIT})")),
                       header: bool = Query(False, description="a first row of the column names"),
                       user: dict = Depends(current_user)):
    """The ratings the JSON route would give from ``after`` on, up to ``limit``, in one streamed answer.

    The range (its last pk, the next cursor) is read before the first byte is sent; the rows then
    are those of the range, in pk order: ratings commit in pk order (core/leases.ratings_lock), so
    the cursor keeps the JSON route's promise, never skipping a rating that commits late. A
    commune's token gets its unit's ratings (core/scope.py). Nothing of the answer is held in memory.
    """
    start = parse_cursor(after)
    most = parse_limit(limit, CSV_DEFAULT_LIMIT, CSV_MAX_LIMIT)
    scope = Scope.of(user)
    engine = request.app.state.reader
    postgresql = engine.dialect.name == "postgresql"
    conn = engine.connect()
    try:
        if postgresql:    # one snapshot for the range and its rows
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        count, last = csv_range(conn, start, most, scope)
    except BaseException:
        conn.close()
        raise
    heads = {COUNT_HEADER: str(count)}
    if last is not None:
        heads[NEXT_HEADER] = str(last)
    chunks = _copy_chunks if postgresql else _sqlite_chunks

    def body():
        try:
            if header:
                yield (",".join(CSV_COLUMNS) + "\r\n").encode("ascii")
            if last is not None:
                yield from chunks(conn, start, last, scope)
        finally:
            conn.close()
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=heads)


@router.get("/api/v1/alerts", summary="Alerts (open ones by default)")
def list_alerts(request: Request, include_resolved: bool = False, kiosk_id: str | None = Query(None, max_length=64),
                user: dict = Depends(current_user)):
    query = select(alerts).where(Scope.of(user).alerts()).order_by(alerts.c.id)
    if not include_resolved:
        query = query.where(alerts.c.resolved_at.is_(None))
    if kiosk_id:
        query = query.where(alerts.c.kiosk_id == kiosk_id)
    with request.app.state.reader.connect() as conn:
        # params: the kind's parameters as an object (what the pages word the alert from)
        return {"alerts": [as_record(r) for r in conn.execute(query).mappings()]}


@router.get(PATH_NAMES, summary="The words of a pull: names of units, desks, officers, procedures; reasons; surveys")
def list_names(request: Request, user: dict = Depends(current_user)):
    """What ``hailong pull`` needs to write the web export's words instead of codes.

    units/desks/officers/procedures: code → name (deactivated officers too: their ratings stay);
    reasons: code → [Vietnamese, English] of the town's survey; surveys: id → document (every
    survey a rating may have answered, for its level labels); scale: the town's default scale.
    """
    with request.app.state.reader.connect() as conn:
        town = survey(conn)
        return {**roster_names(conn, Scope.of(user)),
                "reasons": {c: list(protocol.DEFAULT_REASONS.get(c, (c, c))) for c in town.get("reasons") or []},
                "surveys": known_surveys(conn), "scale": town.get("scale", 3)}
