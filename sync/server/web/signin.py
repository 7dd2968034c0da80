"""Signing in and out, and the language of the pages.

Failed sign-ins are counted per username and per address
(web/signin_limit.py): too many and the form answers 429 before the
password is looked at. A successful sign-in starts a fresh session (no
fixation) that keeps only the language of the old one, and holds the user's
session stamp (core/admin_ops.session_stamp). Signing out ends every
session of the user on the server, not only this browser's cookie.
"""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from sync.server.core import admin_ops, db
from sync.server.core.security import check_password, hash_password
from sync.server.web.base import checked_form, render, safe_next, session_lang, signed_in_user, tr

router = APIRouter(include_in_schema=False)

_DUMMY_HASH = hash_password(secrets.token_hex(8))   # same work for unknown users


@router.get("/")
def home():
    return RedirectResponse("/admin", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/admin"):
    return render(request, "login.html", next=safe_next(next), error=None, user=None)


@router.post("/login")
async def login(request: Request):
    form = await checked_form(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    limiter, ip = request.app.state.signin_limiter, request.client.host if request.client else None
    wait = limiter.retry_after(username, ip)
    if wait:   # refused before the password is looked at, the same for every username
        _ = tr(request)
        response = render(request, "login.html", status=429, next=safe_next(form.get("next")), user=None,
                          error=_("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                                  minutes=max(1, math.ceil(wait / 60))))
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    with request.app.state.reader.connect() as conn:
        row = conn.execute(select(db.users).where(db.users.c.username == username)).mappings().first()
    ok = check_password(password, row["password_hash"] if row else _DUMMY_HASH) and row is not None
    if not ok:
        limiter.failed(username, ip)
        _ = tr(request)
        return render(request, "login.html", status=401, next=safe_next(form.get("next")), user=None,
                      error=_("Sai tên đăng nhập hoặc mật khẩu."))
    limiter.succeeded(username)
    with request.app.state.reader.connect() as conn:
        stamp = admin_ops.session_stamp(conn, row["username"])
    lang = session_lang(request)
    request.session.clear()               # a fresh session: no fixation
    request.session.update({"user": row["username"], "stamp": stamp, "lang": lang,
                            "since": datetime.now(timezone.utc).isoformat()})
    return RedirectResponse(safe_next(form.get("next")), status_code=303)


@router.post("/logout")
async def logout(request: Request):
    await checked_form(request)
    user = signed_in_user(request)
    if user is not None:   # every session of this user ends, a copied cookie too
        with request.app.state.engine.begin() as conn:
            admin_ops.end_sessions(conn, user["username"])
    lang = session_lang(request)
    request.session.clear()
    request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}")
def set_language(request: Request, code: str, next: str = "/admin"):
    """Only the session cookie changes (no database write)."""
    if code in ("vi", "en"):
        request.session["lang"] = code
    return RedirectResponse(safe_next(next), status_code=303)
