"""The admin API (admin or viewer API token): incremental pulls of ratings, alerts.

Cursor: the server's insertion order (an opaque decimal string). ``next`` is
the cursor after the last rating returned, or null when the page was empty
(caught up): a puller keeps the last non-null cursor for its next run.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import case, func, literal, select

from sync import protocol
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
