"""The admin API (admin or viewer API token): incremental pulls of ratings, alerts.

Cursor: the server's insertion order (an opaque decimal string). ``next`` is
the cursor after the last rating returned, or null when the page was empty
(caught up): a puller keeps the last non-null cursor for its next run.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from sync import protocol
from sync.server.auth import current_user
from sync.server.db import alerts, ratings

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


def record_of(row) -> dict:
    rec = {k: row[k] for k in protocol.RECORD_FIELDS}
    rec["reasons"] = json.loads(rec["reasons"])
    rec["flags"] = json.loads(rec["flags"])
    rec["received_at"] = row["received_at"]
    return rec


@router.get(protocol.PATH_RATINGS, response_model=RatingsPage, summary="Ratings after a cursor, oldest first")
def list_ratings(request: Request, after: str | None = Query(None, max_length=18),
                 limit: int = Query(1000, ge=1, le=MAX_LIMIT), user: dict = Depends(current_user)):
    start = parse_cursor(after)
    cols = [ratings.c.pk, ratings.c.received_at, *[ratings.c[k] for k in protocol.RECORD_FIELDS]]
    with request.app.state.engine.connect() as conn:
        rows = conn.execute(select(*cols).where(ratings.c.pk > start).order_by(ratings.c.pk).limit(limit)).mappings().all()
    return {"ratings": [record_of(r) for r in rows], "next": str(rows[-1]["pk"]) if rows else None}


@router.get("/api/v1/alerts", summary="Alerts (open ones by default)")
def list_alerts(request: Request, include_resolved: bool = False, kiosk_id: str | None = Query(None, max_length=64),
                user: dict = Depends(current_user)):
    query = select(alerts).order_by(alerts.c.id)
    if not include_resolved:
        query = query.where(alerts.c.resolved_at.is_(None))
    if kiosk_id:
        query = query.where(alerts.c.kiosk_id == kiosk_id)
    with request.app.state.engine.connect() as conn:
        return {"alerts": [dict(r) for r in conn.execute(query).mappings()]}
