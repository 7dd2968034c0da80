"""What every admin page shares: sessions, CSRF, language, rendering, and the page helpers.

The pages are server-rendered Jinja2 in Vietnamese (English through the
``hailong_server`` catalogue), no JavaScript needed, every asset served from
``/static`` (the town network may have no internet). Charts are SVG drawn by
matplotlib on the server.

Security: a signed session cookie (Starlette's SessionMiddleware,
itsdangerous) holds only the username, the user's session stamp, the
language and the CSRF token; the user's role and stamp are read from the
database on every request, so signing out, a new password, a role change or
removing a user ends every session of that user at once, copies of the
cookie included (core/admin_ops.session_stamp). Every POST form carries the
session's CSRF token (:func:`checked_form`, :func:`checked_upload`). Roles:
``admin`` manages, ``viewer`` reads (and exports). Bearer tokens (kiosk or
admin API) are not a session: the pages ignore them.

Reads and writes: a GET reads through ``app.state.reader`` only (read-only
on SQLite) and never writes; a POST parses its form, calls one operation of
core/admin_ops.py (the functions ``hailong admin`` runs) inside
``app.state.engine.begin()``, and renders or redirects after the commit.

This module holds no routes: each page group is a module of its own
(signin, dashboard, alerts, kiosks, roster, office) with its own ``router``,
included by ``sync.server.app.create_app``, which also calls :func:`setup`
(session middleware, ``/static``, the sign-in and forbidden handlers).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from starlette.middleware.sessions import SessionMiddleware

from assets import LOCALE
from sync.protocol import SCALES, nfc
from sync.server.core import admin_ops, db
from sync.server.core import alerts as alert_rules
from sync.server.core import cases as case_rules
from sync.server.core.scope import EVERY_UNIT, OutOfScope, Scope
from sync.server.core.settings import get_setting, known_surveys, set_setting, survey
from sync.server.reports import periods, report_docx
from sync.server.reports.stats import DIMENSIONS, Filter, town_stats
from sync.server.web.signin_limit import SignInLimiter

HERE = Path(__file__).resolve().parent
LOCALE_DIR = LOCALE
SESSION_HOURS = 8

templates = Jinja2Templates(directory=str(HERE / "templates"))


# --- language ---------------------------------------------------------------------

@lru_cache(maxsize=4)
def _catalogue(lang: str) -> dict[str, str]:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "hailong_server.po"
    if lang == "vi" or not po.exists():
        return {}
    from babel.messages.pofile import read_po
    with po.open("rb") as fh:
        cat = read_po(fh)
    return {nfc(m.id): nfc(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def translator(lang: str):
    """``_(text, **kw)`` for a language: the catalogue's text (or the Vietnamese), formatted."""
    cat = _catalogue(lang)

    def _(text: str, **kw) -> str:
        out = cat.get(text, text)
        return out.format(**kw) if kw else out
    return _


def session_lang(request: Request) -> str:
    """The language of this session: "vi" (default) or "en"."""
    return request.session.get("lang", "vi")


def tr(request: Request):
    """The translator of this session's language."""
    return translator(session_lang(request))


# --- sessions, users, CSRF ----------------------------------------------------------

class SignInRequired(Exception):
    """No signed-in user: the handler in :func:`setup` redirects to /login."""


class Forbidden(Exception):
    """Not an admin, or a POST without the session's CSRF token: a 403 page."""


def signed_in_user(request: Request) -> dict | None:
    """{username, role} of the session's user, read from the database now; None when signed out.

    The session holds the user's session stamp (core/admin_ops.session_stamp)
    as it was at sign-in: once the user signs out anywhere, changes password
    or role, or is removed (and perhaps created again), the stamp differs and
    the cookie opens nothing, a copy of it included.
    """
    name, stamp = request.session.get("user"), request.session.get("stamp")
    if not name or not isinstance(name, str) or not stamp or not isinstance(stamp, str):
        return None
    with request.app.state.reader.connect() as conn:
        row = conn.execute(select(db.users.c.username, db.users.c.role, db.users.c.unit_code)
                           .where(db.users.c.username == name)).mappings().first()
        now = admin_ops.session_stamp(conn, name) if row else None
    if row is None or now is None or not hmac.compare_digest(now, stamp):
        return None
    return dict(row)


def require_user(request: Request, role: str | None = None) -> dict:
    """The signed-in user (else SignInRequired); with role="admin", an admin (else Forbidden).

    The user is kept on ``request.state`` so that the page's helpers (filters, badges, names)
    apply the user's unit (core/scope.py) without reading the user again."""
    user = signed_in_user(request)
    if user is None:
        request.session.pop("user", None)
        raise SignInRequired()
    if role == "admin" and user["role"] != "admin":
        raise Forbidden()
    request.state.user = user
    return user


def user_scope(request: Request) -> Scope:
    """The units the signed-in user sees (core/scope.py holds the rule); every unit when no user
    was asked for yet (the sign-in page)."""
    return Scope.of(getattr(request.state, "user", None))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def _csrf_ok(request: Request, form) -> None:
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
        raise Forbidden()


async def checked_form(request: Request) -> dict:
    """The POSTed form (NFC text), once its CSRF token matches the session's (else Forbidden)."""
    form = await request.form()
    _csrf_ok(request, form)
    return {k: nfc(str(v)) for k, v in form.items()}


async def checked_upload(request: Request, limit: int):
    """(form, upload) of a multipart POST once its CSRF token matches the session's (else Forbidden).

    (None, None) when the body is over ``limit`` (not even parsed); upload is
    None when the form has no file named ``file``.
    """
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        length = 0
    if length > limit + 64 * 1024:
        return None, None
    form = await request.form(max_files=1, max_fields=10)
    _csrf_ok(request, form)
    upload = form.get("file")
    return form, (upload if hasattr(upload, "read") else None)


def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    """A template with what every page needs: _, lang, csrf, path, qs, user."""
    lang = session_lang(request)
    ctx.setdefault("user", signed_in_user(request))
    if ctx["user"] and "overdue_cases" not in ctx:
        ctx["overdue_cases"] = overdue_case_count(request)
    return templates.TemplateResponse(request, name, {
        "_": translator(lang), "lang": lang, "csrf": csrf_token(request),
        "path": request.url.path, "qs": request.url.query, **ctx}, status_code=status)


def error_page(request: Request, status: int, message: str, **ctx) -> HTMLResponse:
    return render(request, "error.html", status=status, message=message, **ctx)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site, else /admin."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin"


# --- the data the pages share (reads only) -----------------------------------------------

def names(conn, scope: Scope = EVERY_UNIT) -> dict[str, dict[str, str]]:
    """dimension -> code -> name, for units, desks, officers and procedures (of ``scope``'s units)."""
    return {
        "unit": dict(conn.execute(select(db.units.c.code, db.units.c.name).where(scope.units())).all()),
        "desk": dict(conn.execute(select(db.desks.c.id, db.desks.c.name).where(scope.desks())).all()),
        "officer": dict(conn.execute(select(db.officers.c.id, db.officers.c.name).where(scope.officers())).all()),
        "procedure": dict(conn.execute(select(db.procedures.c.code, db.procedures.c.name)).all()),
    }


def stats_context(request: Request):
    """(stats, names, survey) of this server: the statistics read through the reader; the names
    of the user's units."""
    with request.app.state.reader.connect() as conn:
        found = names(conn, user_scope(request))
        sv = survey(conn)
    return town_stats(request.app.state.reader), found, sv


def period_choices(today: date, _) -> list[tuple[str, str]]:
    """Recent months, quarters, halves and years, newest first, for the period picker."""
    out = []
    for y in (today.year, today.year - 1):
        if y == today.year:
            out += [(periods.month(y, m).key, periods.month(y, m).label(_)) for m in range(today.month, 0, -1)]
        out += [(periods.quarter(y, q).key, periods.quarter(y, q).label(_)) for q in (4, 3, 2, 1)
                if periods.quarter(y, q).first_day <= today]
        out += [(periods.half(y, h).key, periods.half(y, h).label(_)) for h in (2, 1)
                if periods.half(y, h).first_day <= today]
        out.append((periods.year(y).key, periods.year(y).label(_)))
    return out


def filter_from_query(request: Request) -> tuple[Filter, str | None]:
    """The filter in the query string; a bad one gives the current quarter and a message."""
    q = request.query_params
    error = None
    try:
        if q.get("from") and q.get("to"):
            period = periods.parse(f"{q['from']}..{q['to']}")
        elif q.get("period"):
            period = periods.parse(q["period"])
        else:
            period = periods.containing("quarter", periods.today_vn())
    except periods.PeriodError as exc:
        error = str(exc)
        period = periods.containing("quarter", periods.today_vn())
    values = {d: (nfc(q[d]) if q.get(d) else None) for d in DIMENSIONS}
    scope = user_scope(request)
    if values["unit"]:                          # a commune's user: their unit, always
        scope.check(values["unit"], "see another unit's figures")
    values["unit"] = values["unit"] if scope.every_unit else scope.unit
    if q.get("survey"):   # the survey the ratings answered (issue 12): one the server knows
        with request.app.state.reader.connect() as conn:
            known = known_surveys(conn)
        values["survey"] = nfc(q["survey"]) if nfc(q["survey"]) in known else None
        if values["survey"] is None:
            error = error or tr(request)("Không có phiếu khảo sát mã {code}.", code=nfc(q["survey"])[:64])
    return Filter(period, **values), error


def filter_query(flt: Filter, **extra) -> str:
    """The query string of a filter (links that keep it: exports, officer pages)."""
    params = {"period": flt.period.key}
    params.update({d: getattr(flt, d) for d in DIMENSIONS if getattr(flt, d)})
    if flt.survey:
        params["survey"] = flt.survey
    params.update({k: v for k, v in extra.items() if v})
    return urlencode(params)


def alert_rule_values(request: Request) -> dict:
    with request.app.state.reader.connect() as conn:
        return alert_rules.rules(conn)


def overdue_case_count(request: Request) -> int:
    """How many cases are overdue (the menu's badge on every page); 0 when it cannot be read, so
    that a page renders whatever happens to the count."""
    try:
        with request.app.state.reader.connect() as conn:
            return case_rules.count_overdue(conn, scope=user_scope(request))
    except Exception:   # noqa: BLE001 - a badge never breaks a page (an old town.db, a locked file)
        return 0


def open_alert_count(request: Request) -> int:
    """How many alerts are open (the menu's badge)."""
    with request.app.state.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.alerts)
                            .where(db.alerts.c.resolved_at.is_(None), user_scope(request).alerts())).scalar() or 0


def scale_labels(scale: int, lang: str) -> dict[int, str]:
    return {lv: (en if lang == "en" else vi) for lv, vi, en, _s in SCALES[scale]}


def local_time(value: str | None) -> str:
    """A stored time as an admin reads it: dd/mm/yyyy HH:MM in Vietnam's time; "—" for none."""
    if not value:
        return "—"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(periods.VN_TZ).strftime("%d/%m/%Y %H:%M")


#: The Word report's issuer, as the roster page's form shows it: (setting field, Vietnamese label).
ISSUER_FIELDS = [("parent", "Cơ quan chủ quản"), ("body", "Cơ quan ban hành"),
                 ("body_full", "Tên cơ quan (viết thường)"), ("place", "Địa danh"),
                 ("symbol", "Ký hiệu văn bản"), ("signer_on_behalf", "Thẩm quyền ký (TM., KT.)"),
                 ("signer_title", "Chức vụ người ký"), ("signer_name", "Họ tên người ký")]


def report_issuer(conn) -> report_docx.Issuer:
    """Who issues the Word report and the letters (the ``report_issuer`` setting over the defaults)."""
    saved = get_setting(conn, "report_issuer", {}) or {}
    return report_docx.Issuer(**{k: v for k, v in saved.items() if k in report_docx.Issuer.__dataclass_fields__})


# --- hardening: headers on every response, Secure cookies over HTTPS ------------------------

#: The pages run no inline script and no inline style: everything comes from /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin")]
#: FastAPI's own API docs (Swagger UI, ReDoc; their files served by the server, app.py) start with
#: one inline script: allowed there by the script's hash, nowhere else. ReDoc styles itself with
#: inline <style> and runs its search in a blob: worker: allowed on /redoc only.
DOCS_PATHS = ("/docs", "/redoc")


def _docs_csp(html: bytes, path: str = "/docs") -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m).digest()).decode() + "'"
        for m in re.findall(rb"<script>(.*?)</script>", html, re.S))
    redoc = path == "/redoc"
    style = "'self' 'unsafe-inline'" if redoc else "'self'"
    worker = " worker-src 'self' blob:;" if redoc else ""
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src {style}; img-src 'self' data:;{worker} "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class Hardening:
    """ASGI middleware: CSP, X-Frame-Options, nosniff and Referrer-Policy on every response, and the
    ``Secure`` attribute on every cookie when the request came over HTTPS.

    "Over HTTPS" is the request's scheme: https when uvicorn serves TLS itself,
    or when a trusted reverse proxy (uvicorn's ``--forwarded-allow-ips``,
    ``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default) says ``X-Forwarded-Proto:
    https``; see docs/admin-side.md.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        https = scope.get("scheme") == "https"
        docs = scope.get("path", "") in DOCS_PATHS
        held: dict = {}

        def harden(message, csp: str) -> None:
            headers = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() not in (b"content-security-policy", *(h for h, _ in SECURITY_HEADERS))]
            if https:
                headers = [(k, v + b"; secure") if k.lower() == b"set-cookie" and b"secure" not in v.lower()
                           else (k, v) for k, v in headers]
            headers += [(b"content-security-policy", csp.encode()), *SECURITY_HEADERS]
            message["headers"] = headers

        async def wrapped(message):
            if message["type"] == "http.response.start":
                if docs:            # the CSP needs the page's inline script: hold the start until the body
                    held["start"] = message
                    return
                harden(message, CSP)
            elif message["type"] == "http.response.body" and docs and "start" in held:
                if message.get("more_body"):
                    held.setdefault("body", []).append(message.get("body", b""))
                    return
                body = b"".join(held.pop("body", [])) + message.get("body", b"")
                start = held.pop("start")
                harden(start, _docs_csp(body, scope.get("path", "")))
                await send(start)
                message = {**message, "body": body}
            await send(message)

        await self.app(scope, receive, wrapped)


_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')


def csp_safe_svg(svg: str) -> str:
    """An inline SVG (matplotlib's) without style: its ``style="a: b"`` become presentation attributes
    (``a="b"``) and its ``<style>`` element goes (its defaults set on the root), so the
    Content-Security-Policy's ``style-src 'self'`` leaves the chart as drawn."""
    def attrs(m):
        out = []
        for part in m[1].split(";"):
            name, sep, value = part.partition(":")
            name, value = name.strip(), value.strip()
            if sep and re.fullmatch(r"[a-z-]{1,40}", name) and '"' not in value:
                out.append(f' {name}="{value}"')
        return "".join(out)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = _STYLE_ATTR.sub(attrs, svg)
    return svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)


# --- wiring: what create_app calls besides including the routers ---------------------------

def _session_secret(engine) -> str:
    with engine.begin() as conn:
        secret = get_setting(conn, "session_secret")
        if not secret:
            secret = secrets.token_urlsafe(48)
            set_setting(conn, "session_secret", secret)
    return secret


def setup(app: FastAPI) -> None:
    """The pages' session middleware, static files, sign-in limiter and error handlers (no routes)."""
    app.state.signin_limiter = SignInLimiter()
    app.add_middleware(SessionMiddleware, secret_key=_session_secret(app.state.engine),
                       session_cookie="hailong_session", max_age=SESSION_HOURS * 3600,
                       same_site="strict", https_only=False)   # Secure over HTTPS: Hardening
    app.add_middleware(Hardening)    # outside the sessions: it sees their Set-Cookie
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/admin"
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(OutOfScope)
    async def _out_of_scope(request: Request, exc: OutOfScope):
        _ = tr(request)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": f"this user sees unit {exc.unit} only ({exc})"}, status_code=403)
        with request.app.state.reader.connect() as conn:
            name = conn.execute(select(db.units.c.name).where(db.units.c.code == exc.unit)).scalar()
        unit = f"{name} ({exc.unit})" if name else exc.unit
        if exc.every_unit_only:
            message = _("Việc này chỉ người dùng cấp tỉnh (xem mọi đơn vị) làm được: tài khoản của bạn "
                        "thuộc đơn vị {unit}.", unit=unit)
        else:
            message = _("Tài khoản của bạn chỉ xem và quản lý được đơn vị {unit}.", unit=unit)
        return error_page(request, 403, message)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        _ = tr(request)
        return error_page(request, 403, _("Bạn không có quyền làm việc này (cần quyền quản trị, "
                                           "hoặc trang đã hết hạn: hãy tải lại trang)."))
