"""The kiosk-facing API of sync protocol v1: batches, config, photos, heartbeat."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from sync import protocol
from sync.server.api.auth import current_kiosk, own_kiosk
from sync.server.core import alerts as alert_rules
from sync.server.core import cases, ingest
from sync.server.core.clock import iso, utcnow
from sync.server.core.db import kiosks, officers, ratings
from sync.server.core.health import RETRY_AFTER, Unhealthy
from sync.server.core.settings import etag_of, kiosk_config
from sync.server.core.storing import store_batch

MAX_SEQ = ingest.MAX_SEQ
PATH_PHOTO = "/api/v1/photos/{officer_id}"

router = APIRouter(tags=["kiosk"])
log = logging.getLogger("hailong.server")

RECORD_SCHEMA = protocol.record_json_schema()   # the limits protocol.check_record enforces
BATCH_SCHEMA = {
    "type": "object", "required": ["kiosk_id", "sent_at", "ratings"], "additionalProperties": False,
    "properties": {"kiosk_id": RECORD_SCHEMA["properties"]["kiosk_id"], "sent_at": {"type": "string", "format": "date-time"},
                   "ratings": {"type": "array", "items": RECORD_SCHEMA}},
}
_ERR = {"application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}}


class Result(BaseModel):
    id: str
    status: str = Field(description="accepted | duplicate | rejected")
    error: str | None


class BatchReply(BaseModel):
    acked_through: int = Field(description="highest seq such that the server holds every seq 1..it")
    results: list[Result]


@router.post(
    protocol.PATH_BATCH, response_model=BatchReply,
    summary="Send a batch of sealed ratings (gzip allowed)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}},
        "responses": {str(c): {"description": d, "content": _ERR} for c, d in (
            (400, "bad JSON, gzip or Idempotency-Key"), (401, "unknown token"),
            (403, "revoked kiosk or another kiosk's token"), (413, "body or batch too large"),
            (415, "unsupported Content-Encoding"), (422, "malformed batch: nothing stored"),
            (503, "database unhealthy (deleted, replaced, read-only or corrupt): nothing acknowledged, "
                  "send again after Retry-After"))},
    },
)
async def post_batch(request: Request, kiosk: dict = Depends(current_kiosk),
                     idempotency_key: str = Header(..., description="the batch's UUID; same key for a retry")):
    try:
        key = str(uuid.UUID(idempotency_key))
    except ValueError:
        raise HTTPException(400, "Idempotency-Key: must be a UUID") from None
    started = time.perf_counter()
    opts = request.app.state.options
    raw = bytearray()
    try:
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > opts["max_body_bytes"]:
                raise HTTPException(413, f"body larger than {opts['max_body_bytes']} bytes")
    except ClientDisconnect:
        # A kiosk on a slow link gave up (its timeout) and will send the batch again: nothing
        # was stored, nobody is listening for a reply; one line in the log, no traceback.
        log.warning("kiosk %s disconnected after %d bytes of its batch; nothing stored, it will send again",
                    kiosk["id"], len(raw))
        return Response(status_code=400)
    response = await run_in_threadpool(_apply, request.app, bytes(raw),
                                       request.headers.get("content-encoding"), kiosk, key)
    # Time spent on the server, queueing for the writer included (see benchmarks/sync_many_kiosks.py).
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _apply(app, raw: bytes, encoding: str | None, kiosk: dict, key: str):
    opts = app.state.options
    try:
        data = ingest.decode_body(raw, encoding, opts["max_body_bytes"])
        batch = ingest.parse_batch(data, opts["max_batch"])
        ingest.check_seals(batch, kiosk.get("key_hex"))   # outside the writer's lock
        health = app.state.health
        with app.state.write_lock:
            health.check()   # the file the server was started on, writable and sound
            reply = store_batch(app.state.engine, health, kiosk["id"], batch, key,
                                skew_threshold=app.state.options["skew_threshold"])
            # With SQLite a deleted or replaced file still takes the commit through the open
            # descriptor: acknowledge only if the path is still the file the commit went to.
            health.check()
        return JSONResponse(reply)   # already the reply's shape: skip response_model validation
    except Unhealthy as exc:
        return JSONResponse({"detail": f"database unhealthy: {exc.problem}; nothing of this batch is "
                                       "acknowledged, send it again later"},
                            status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
    except ingest.BatchError as exc:
        content = {"detail": exc.detail}
        if exc.errors:
            content["errors"] = exc.errors[:100]
        return JSONResponse(content, status_code=exc.status)


@router.get(protocol.PATH_CONFIG, summary="The kiosk's roster, survey and receipt key (ETag)",
            responses={304: {"description": "not modified since If-None-Match"}})
def get_config(kiosk_id: str, request: Request, response: Response, kiosk: dict = Depends(current_kiosk),
               if_none_match: str | None = Header(None)):
    own_kiosk(kiosk_id, kiosk)
    # A path, resolved by the agent against its configured server URL (works behind a reverse proxy).
    photo_url = PATH_PHOTO
    with request.app.state.reader.connect() as conn:
        document = kiosk_config(conn, kiosk, photo_url)
    etag = etag_of(document)
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return document


@router.get(PATH_PHOTO, name="get_photo", summary="An officer's photo (kiosk token)",
            response_class=FileResponse)
def get_photo(officer_id: str, request: Request, kiosk: dict = Depends(current_kiosk)):
    with request.app.state.reader.connect() as conn:
        name = conn.execute(select(officers.c.photo).where(officers.c.id == officer_id)).scalar()
    if not name:
        raise HTTPException(404, f"no photo for officer {officer_id}")
    path = Path(request.app.state.options["media_dir"]) / name
    if not path.is_file():
        raise HTTPException(404, f"photo file of officer {officer_id} is missing on the server")
    return FileResponse(path)


class KioskHealth(BaseModel):
    """What an unattended kiosk says of itself (issue 14); every field may be null (unknown on that
    machine). Shown on the kiosks page; stored as the kiosk's last word, not kept as history."""
    model_config = ConfigDict(extra="ignore")   # a newer kiosk may say more: ignored, not refused

    disk_free_mb: int | None = Field(None, ge=0, le=10**9, description="free space where kiosk.db lives, MB")
    db_bytes: int | None = Field(None, ge=0, le=10**15, description="kiosk.db and its WAL, bytes")
    last_backup: str | None = Field(None, max_length=40, description="the newest checked backup, RFC 3339",
                                    json_schema_extra={"format": "date-time"})
    uptime_s: int | None = Field(None, ge=0, le=10**10, description="seconds since the app started")
    temperature_c: float | None = Field(None, ge=-60, le=200, description="CPU temperature (a Pi), °C")
    clock_synced: bool | None = Field(None, description="the system clock is NTP-synchronised")
    taps_outside_hours: int | None = Field(None, ge=0, le=MAX_SEQ,
                                           description="taps ignored outside the opening hours, in all")

    @field_validator("last_backup")
    @classmethod
    def _backup_time(cls, value: str | None) -> str | None:
        if value is not None and datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("needs an offset, e.g. +07:00")
        return value


class Heartbeat(BaseModel):
    last_seq: int = Field(ge=0, le=MAX_SEQ, description="highest seq in kiosk.db")
    pending: int = Field(ge=0, le=MAX_SEQ, description="ratings not yet acknowledged")
    quarantined: int = Field(0, ge=0, le=MAX_SEQ, description="ratings the server rejected, kept on the kiosk")
    kiosk_time: str = Field(description="the kiosk's clock, RFC 3339 with offset",
                            json_schema_extra={"format": "date-time"})
    version: str = Field("", max_length=64)
    printer: str = Field("", max_length=200, description="printer state, e.g. ok, no_paper, offline, none")
    scanner: str = Field("", max_length=200, description="scanner state, e.g. ok, offline, none")
    last_hash: str | None = Field(None, pattern="^[0-9a-f]{64}$",
                                  description="hash of the kiosk's last seq (its chain tail), when it has one")
    health: KioskHealth | None = Field(None, description="the kiosk's health summary (kiosks of 0.7 on)")

    @field_validator("kiosk_time")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parsed = datetime.fromisoformat(value)  # ValueError -> 422 naming the field
        if parsed.tzinfo is None:
            raise ValueError("needs an offset, e.g. +07:00")
        if not 1970 <= parsed.year <= 9000:
            raise ValueError("year out of range")
        return value


class ChainTail(BaseModel):
    seq: int = Field(description="the highest seq of this kiosk the server holds")
    hash: str = Field(description="that rating's hash")


class HeartbeatReply(BaseModel):
    server_time: str
    acked_through: int
    clock_skew: float = Field(description="seconds, server time − kiosk time")
    chain_tail: ChainTail | None = Field(
        None, description="the last seq and hash the server holds of this kiosk (null: none yet); a kiosk "
                          "whose own chain is behind it lost or replaced kiosk.db and recovers from it "
                          "(`hailong kiosk init --recover`)")


def chain_tail(conn, kiosk_id: str) -> dict | None:
    """{"seq", "hash"} of the highest seq the server holds of ``kiosk_id``; None when it holds none."""
    row = conn.execute(select(ratings.c.seq, ratings.c.hash).where(ratings.c.kiosk_id == kiosk_id)
                       .order_by(ratings.c.seq.desc()).limit(1)).first()
    return {"seq": row.seq, "hash": row.hash} if row else None


@router.post(protocol.PATH_HEARTBEAT, response_model=HeartbeatReply, summary="Kiosk health")
def post_heartbeat(kiosk_id: str, beat: Heartbeat, request: Request, kiosk: dict = Depends(current_kiosk)):
    own_kiosk(kiosk_id, kiosk)
    now = utcnow()
    skew = (now - datetime.fromisoformat(beat.kiosk_time)).total_seconds()
    with request.app.state.engine.begin() as conn:
        before = conn.execute(select(kiosks.c.last_seq).where(kiosks.c.id == kiosk_id)).scalar()
        conn.execute(kiosks.update().where(kiosks.c.id == kiosk_id).values(
            last_seen=iso(now), last_seq=beat.last_seq, pending=beat.pending,
            quarantined=beat.quarantined, kiosk_time=beat.kiosk_time, version=beat.version,
            printer_state=beat.printer, scanner_state=beat.scanner, clock_skew=skew,
            health=beat.health.model_dump_json() if beat.health is not None else None))
        alert_rules.heard_from(conn, kiosk_id, now)
        through = conn.execute(select(kiosks.c.acked_through).where(kiosks.c.id == kiosk_id)).scalar()
        tail = chain_tail(conn, kiosk_id)
        lost = alert_rules.kiosk_reset(kiosk_id, beat.last_seq, beat.last_hash, tail, through, before, now)
        if lost is not None:
            cases.raise_alerts(conn, [lost], now)   # and its tampering case
    return {"server_time": iso(now), "acked_through": through, "clock_skew": skew, "chain_tail": tail}
