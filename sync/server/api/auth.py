"""Who is calling: a kiosk (kiosk token) or an admin API user (api_tokens)."""
from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from sync.server.core.db import api_tokens, kiosks, users
from sync.server.core.security import token_hash

bearer = HTTPBearer(auto_error=False, description="kiosk token (enrol-kiosk) or admin API token (create-token)")


def _token(creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is None or not creds.credentials:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer …)",
                            headers={"WWW-Authenticate": "Bearer"})
    return creds.credentials


def current_kiosk(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
    """The kiosks row of the calling kiosk; 401 unknown token, 403 revoked."""
    digest = token_hash(_token(creds))
    with request.app.state.reader.connect() as conn:
        row = conn.execute(select(kiosks).where(kiosks.c.token_hash == digest)).mappings().first()
    if row is None:
        raise HTTPException(401, "unknown kiosk token", headers={"WWW-Authenticate": "Bearer"})
    if row["revoked"]:
        raise HTTPException(403, f"kiosk {row['id']} is revoked")
    return dict(row)


def own_kiosk(kiosk_id: str, kiosk: dict) -> None:
    if kiosk_id != kiosk["id"]:
        raise HTTPException(403, "this token belongs to another kiosk")


def current_user(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
    """The user behind an admin API token; kiosk tokens get 403 here."""
    digest = token_hash(_token(creds))
    with request.app.state.reader.connect() as conn:
        row = conn.execute(
            select(users.c.username, users.c.role, users.c.unit_code, api_tokens.c.revoked)
            .join(api_tokens, api_tokens.c.username == users.c.username)
            .where(api_tokens.c.token_hash == digest)).mappings().first()
        if row is None:
            is_kiosk = conn.execute(select(kiosks.c.id).where(kiosks.c.token_hash == digest)).first()
            if is_kiosk is not None:
                raise HTTPException(403, "a kiosk token cannot use the admin API")
            raise HTTPException(401, "unknown API token", headers={"WWW-Authenticate": "Bearer"})
    if row["revoked"]:
        raise HTTPException(401, "this API token was revoked", headers={"WWW-Authenticate": "Bearer"})
    return dict(row)

