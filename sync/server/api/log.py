"""The public log (DESIGN.md "The public log"; docs/public-log.md): public, no sign-in, reads only.

``GET /api/v1/log/checkpoint`` the newest signed checkpoint (text/plain,
C2SP tlog-checkpoint), ``/key`` the verifier key, ``/proof?receipt=`` an
inclusion proof of a receipt's rating, ``/leaf?index=`` the same by leaf
index (what ``hailong audit`` spot-checks), ``/consistency?from=&to=`` an
RFC 9162 consistency proof. Nothing here tells a rating's level. Every
route reads through ``app.state.reader``.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from sync.server.core import tlog_store

router = APIRouter(prefix="/api/v1/log", tags=["public log"])

_RECEIPT = re.compile(r"[0-9a-f]{16}")
_TEXT = {200: {"content": {"text/plain": {}}, "description": "text/plain"}}


class InclusionProof(BaseModel):
    index: int = Field(description="the leaf's index, in the order the server stored the ratings")
    tree_size: int = Field(description="the size of the signed checkpoint the proof is against")
    leaf_hash: str = Field(description="hex SHA-256(0x00 ‖ rating hash)")
    hashes: list[str] = Field(description="RFC 9162 inclusion path, hex, leaf side first")


class ConsistencyProof(BaseModel):
    hashes: list[str] = Field(description="RFC 9162 consistency proof from `from` to `to`, hex")


def _newest(conn) -> tlog_store.Signed:
    cp = tlog_store.latest(conn)
    if cp is None:
        raise HTTPException(404, "no signed checkpoint yet: the server holds no rating")
    return cp


@router.get("/checkpoint", response_class=PlainTextResponse, responses=_TEXT,
            summary="The newest signed checkpoint (C2SP tlog-checkpoint, Ed25519 signed note)")
def checkpoint(request: Request):
    with request.app.state.reader.connect() as conn:
        return PlainTextResponse(_newest(conn).note, headers={"Cache-Control": "no-cache"})


@router.get("/key", response_class=PlainTextResponse, responses=_TEXT,
            summary="The log's verifier key: name+keyid+base64(0x01 ‖ Ed25519 public key)")
def key(request: Request):
    with request.app.state.reader.connect() as conn:
        found = tlog_store.verifier_key(conn)
    if found is None:
        raise HTTPException(404, "the log has no key yet")
    return PlainTextResponse(found + "\n")


def _proof(request, get) -> dict:
    with request.app.state.reader.connect() as conn:
        try:
            return get(conn).answer()
        except tlog_store.NotInLog as exc:
            raise HTTPException(404, str(exc)) from None


@router.get("/proof", response_model=InclusionProof, summary="Inclusion proof of a receipt's rating")
def proof(request: Request, receipt: str = Query(..., description="the receipt_id, 16 hex digits")):
    if not _RECEIPT.fullmatch(receipt):
        raise HTTPException(422, "receipt: must be a receipt_id, 16 lowercase hex digits")
    return _proof(request, lambda conn: tlog_store.receipt_proof(conn, receipt))


@router.get("/leaf", response_model=InclusionProof, summary="Inclusion proof of the leaf at an index")
def leaf(request: Request, index: str = Query(..., description="leaf index, 0 … tree size − 1")):
    if not index.isdigit() or len(index) > 15:
        raise HTTPException(422, "index: must be a leaf index (a decimal number)")
    return _proof(request, lambda conn: tlog_store.proof_by_index(conn, int(index)))


@router.get("/consistency", response_model=ConsistencyProof,
            summary="Consistency proof between two tree sizes (RFC 9162 §2.1.4)")
def consistency(request: Request, from_: str = Query(..., alias="from", description="the older tree size, ≥ 1"),
                to: str = Query(..., description="the newer tree size, ≤ the newest checkpoint's")):
    sizes = []
    for name, value in (("from", from_), ("to", to)):
        if not value.isdigit() or len(value) > 15:
            raise HTTPException(422, f"{name}: must be a tree size (a decimal number)")
        sizes.append(int(value))
    first, second = sizes
    with request.app.state.reader.connect() as conn:
        newest = _newest(conn).tree_size
        if not 1 <= first <= second:
            raise HTTPException(422, "from: must be at least 1 and at most `to`")
        if second > newest:
            raise HTTPException(422, f"to: larger than the newest signed checkpoint ({newest})")
        return {"hashes": tlog_store.consistency(conn, first, second)}
