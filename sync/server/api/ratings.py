"""The admin API (admin or viewer API token): incremental pulls of ratings, alerts.

Cursor: the server's insertion order (an opaque decimal string). ``next`` is
the cursor after the last rating returned, or null when the page was empty
(caught up): a puller keeps the last non-null cursor for its next run.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, literal, select

from sync import protocol
from sync.server.api.auth import current_user
from sync.server.core.db import alerts, ratings

router = APIRouter(tags=["admin"])

MAX_LIMIT = 5000


class RatingsPage(BaseModel):
    ratings: list[dict] = Field(description="records as sent by the kiosks, plus received_at")
    next: str | None = Field(description="cursor to pass as `after` next time; null when caught up")


def parse_cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 18:
        raise HTTPException(400, "after: not a cursor returned by this server")
    return int(after)


_PAGE_COLUMNS = ("pk", "received_at", *protocol.RECORD_FIELDS)
_LIST_FIELDS = ("reasons", "flags")
_LIST_AT = tuple(i for i, k in enumerate(_PAGE_COLUMNS) if k in _LIST_FIELDS)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _page(rows: list[str], last_pk: int | None) -> bytes:
    """One record a line (still one JSON document): `hailong pull --format jsonl` copies the lines as they are."""
    if not rows:
        return b'{"ratings":[],"next":null}'
    return ('{"ratings":[\n' + ",\n".join(rows) + f'\n],"next":"{last_pk}"}}').encode("utf-8")


def page_sqlite(conn, start: int, limit: int) -> bytes:
    """The page's JSON with each record encoded by SQLite itself (``json_object``, in C).

    The hot path of `hailong pull`: pydantic (response_model) plus
    jsonable_encoder cost several times the SELECT, and even a plain
    ``json.dumps`` per row doubles it. ``response_model`` still documents the
    page in the OpenAPI schema.
    """
    args = []
    for k in (*protocol.RECORD_FIELDS, "received_at"):
        args += [literal(k), func.json(ratings.c[k]) if k in _LIST_FIELDS else ratings.c[k]]
    rows = conn.execute(select(ratings.c.pk, func.json_object(*args)).where(ratings.c.pk > start)
                        .order_by(ratings.c.pk).limit(limit)).all()
    return _page([r[1] for r in rows], rows[-1][0] if rows else None)


def page_portable(conn, start: int, limit: int) -> bytes:
    """The same page built in Python (databases other than SQLite)."""
    rows = conn.execute(select(*[ratings.c[k] for k in _PAGE_COLUMNS]).where(ratings.c.pk > start)
                        .order_by(ratings.c.pk).limit(limit)).all()
    out = []
    for row in rows:
        row = list(row)
        for i in _LIST_AT:
            row[i] = json.loads(row[i])
        rec = dict(zip(protocol.RECORD_FIELDS, row[2:]))
        rec["received_at"] = row[1]
        out.append(_dumps(rec))
    return _page(out, rows[-1][0] if rows else None)


@router.get(protocol.PATH_RATINGS, response_model=RatingsPage, summary="Ratings after a cursor, oldest first")
def list_ratings(request: Request, after: str | None = Query(None, max_length=18),
                 limit: int = Query(1000, ge=1, le=MAX_LIMIT), user: dict = Depends(current_user)):
    start = parse_cursor(after)
    # the read-only engine (SQLite): a pull must not hold the write lock kiosks wait on
    engine = request.app.state.reader
    build = page_sqlite if engine.dialect.name == "sqlite" else page_portable
    with engine.connect() as conn:
        body = build(conn, start, limit)
    return Response(body, media_type="application/json")


@router.get("/api/v1/alerts", summary="Alerts (open ones by default)")
def list_alerts(request: Request, include_resolved: bool = False, kiosk_id: str | None = Query(None, max_length=64),
                user: dict = Depends(current_user)):
    query = select(alerts).order_by(alerts.c.id)
    if not include_resolved:
        query = query.where(alerts.c.resolved_at.is_(None))
    if kiosk_id:
        query = query.where(alerts.c.kiosk_id == kiosk_id)
    with request.app.state.reader.connect() as conn:
        return {"alerts": [dict(r) for r in conn.execute(query).mappings()]}
