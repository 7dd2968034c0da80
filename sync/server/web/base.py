"""The admin's web pages: sign-in, dashboard, officer, alerts, kiosk health, exports.

Server-rendered Jinja2 in Vietnamese (English through the
``hailong_server`` catalogue), no JavaScript needed, every asset served from
``/static`` (the town network may have no internet). Charts are SVG drawn by
matplotlib on the server.

Security: a signed session cookie (Starlette's SessionMiddleware,
itsdangerous) holds only the username, the language and the CSRF token; the
user's role is read from the database on every request, so removing a user
or changing a role takes effect at once. Every POST form carries the
session's CSRF token. Roles: ``admin`` manages (acknowledges alerts),
``viewer`` reads (and exports). Bearer tokens (kiosk or admin API) are not
a session: the pages ignore them.

``install(app)`` is the one call create_app makes.
"""
from __future__ import annotations

import hmac
import math
import secrets
import tempfile
import unicodedata
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import func, select
from starlette.middleware.sessions import SessionMiddleware

from assets import LOCALE
from sync.protocol import DEFAULT_REASONS, SCALES
from sync.server.api.auth import current_user
from sync.server.core import alerts as alert_rules
from sync.server.core import db
from sync.server.core.security import check_password, hash_password
from sync.server.core.settings import get_setting, set_setting, survey
from sync.server.reports import charts, exports, periods, report_docx
from sync.server.reports.stats import DIMENSIONS, Filter, Stats
from sync.server.web.signin_limit import SignInLimiter

HERE = Path(__file__).resolve().parent
LOCALE_DIR = LOCALE
SESSION_HOURS = 8
_DUMMY_HASH = hash_password(secrets.token_hex(8))   # same work for unknown users

router = APIRouter(include_in_schema=False)       # the HTML pages
api_router = APIRouter(tags=["admin"])             # the same figures as JSON, in the OpenAPI document
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
    return {unicodedata.normalize("NFC", m.id): unicodedata.normalize("NFC", m.string)
            for m in cat if m.id and m.string and not m.fuzzy}


def translator(lang: str):
    cat = _catalogue(lang)

    def _(text: str, **kw) -> str:
        out = cat.get(text, text)
        return out.format(**kw) if kw else out
    return _


# --- sessions, users, CSRF ----------------------------------------------------------

class SignInRequired(Exception):
    pass


class Forbidden(Exception):
    pass


def _user(request: Request) -> dict | None:
    name = request.session.get("user")
    if not name:
        return None
    with request.app.state.read_engine.connect() as conn:
        row = conn.execute(select(db.users.c.username, db.users.c.role)
                           .where(db.users.c.username == name)).mappings().first()
    return dict(row) if row else None


def require_user(request: Request, role: str | None = None) -> dict:
    user = _user(request)
    if user is None:
        request.session.pop("user", None)
        raise SignInRequired()
    if role == "admin" and user["role"] != "admin":
        raise Forbidden()
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> dict:
    """The POSTed form, once its CSRF token matches the session's (else Forbidden)."""
    form = await request.form()
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
        raise Forbidden()
    return {k: unicodedata.normalize("NFC", str(v)) for k, v in form.items()}


def _lang(request: Request) -> str:
    return request.session.get("lang", "vi")


def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    lang = _lang(request)
    ctx.setdefault("user", _user(request))
    return templates.TemplateResponse(request, name, {
        "_": translator(lang), "lang": lang, "csrf": csrf_token(request),
        "path": request.url.path, "qs": request.url.query, **ctx}, status_code=status)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin"


# --- the data every page needs ---------------------------------------------------------

def _names(conn) -> dict[str, dict[str, str]]:
    return {
        "unit": dict(conn.execute(select(db.units.c.code, db.units.c.name)).all()),
        "desk": dict(conn.execute(select(db.desks.c.id, db.desks.c.name)).all()),
        "officer": dict(conn.execute(select(db.officers.c.id, db.officers.c.name)).all()),
        "procedure": dict(conn.execute(select(db.procedures.c.code, db.procedures.c.name)).all()),
    }


def _context(request: Request):
    """(stats, names, survey) for this server."""
    engine = request.app.state.engine
    with request.app.state.read_engine.connect() as conn:
        names = _names(conn)
        sv = survey(conn)
    reasons = {c: DEFAULT_REASONS.get(c, (c, c)) for c in sv["reasons"]}
    return Stats(engine, db.ratings, "corrected_at", scale=sv["scale"], reasons=reasons, rollup=True,
                 read_engine=request.app.state.read_engine), names, sv


def _period_choices(today: date, tr) -> list[tuple[str, str]]:
    """Recent months, quarters, halves and years, newest first, for the period picker."""
    out = []
    for y in (today.year, today.year - 1):
        if y == today.year:
            out += [(periods.month(y, m).key, periods.month(y, m).label(tr)) for m in range(today.month, 0, -1)]
        out += [(periods.quarter(y, q).key, periods.quarter(y, q).label(tr)) for q in (4, 3, 2, 1)
                if periods.quarter(y, q).first_day <= today]
        out += [(periods.half(y, h).key, periods.half(y, h).label(tr)) for h in (2, 1)
                if periods.half(y, h).first_day <= today]
        out.append((periods.year(y).key, periods.year(y).label(tr)))
    return out


def _filter(request: Request) -> tuple[Filter, str | None]:
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
    values = {d: (unicodedata.normalize("NFC", q[d]) if q.get(d) else None) for d in DIMENSIONS}
    return Filter(period, **values), error


def _filter_query(flt: Filter, **extra) -> str:
    params = {"period": flt.period.key}
    params.update({d: getattr(flt, d) for d in DIMENSIONS if getattr(flt, d)})
    params.update({k: v for k, v in extra.items() if v})
    return urlencode(params)


def _step(period: periods.Period) -> str:
    return "day" if period.days <= 62 else ("week" if period.days <= 190 else "month")


def _low_below(request: Request) -> float:
    with request.app.state.read_engine.connect() as conn:
        return float(alert_rules.rules(conn)["officer_rate_below"])


def _open_alerts(request: Request) -> int:
    with request.app.state.read_engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.alerts)
                            .where(db.alerts.c.resolved_at.is_(None))).scalar() or 0


def _scale_labels(scale: int, lang: str) -> dict[int, str]:
    return {lv: (en if lang == "en" else vi) for lv, vi, en, _s in SCALES[scale]}


# --- routes -----------------------------------------------------------------------------

@router.get("/")
def home():
    return RedirectResponse("/admin", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/admin"):
    return render(request, "login.html", next=_safe_next(next), error=None, user=None)


@router.post("/login")
async def login(request: Request):
    form = await checked_form(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    limiter, ip = request.app.state.signin_limiter, request.client.host if request.client else None
    wait = limiter.retry_after(username, ip)
    if wait:   # refused before the password is looked at, the same for every username
        _ = translator(_lang(request))
        response = render(request, "login.html", status=429, next=_safe_next(form.get("next")), user=None,
                          error=_("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                                  minutes=max(1, math.ceil(wait / 60))))
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    with request.app.state.read_engine.connect() as conn:
        row = conn.execute(select(db.users).where(db.users.c.username == username)).mappings().first()
    ok = check_password(password, row["password_hash"] if row else _DUMMY_HASH) and row is not None
    if not ok:
        limiter.failed(username, ip)
        _ = translator(_lang(request))
        return render(request, "login.html", status=401, next=_safe_next(form.get("next")), user=None,
                      error=_("Sai tên đăng nhập hoặc mật khẩu."))
    limiter.succeeded(username)
    lang = _lang(request)
    request.session.clear()               # a fresh session: no fixation
    request.session.update({"user": row["username"], "lang": lang,
                            "since": datetime.now(timezone.utc).isoformat()})
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


@router.post("/logout")
async def logout(request: Request):
    await checked_form(request)
    lang = _lang(request)
    request.session.clear()
    request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}")
def set_language(request: Request, code: str, next: str = "/admin"):
    if code in ("vi", "en"):
        request.session["lang"] = code
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/admin")
def dashboard(request: Request):
    user = require_user(request)
    stats, names, _sv = _context(request)
    flt, error = _filter(request)
    return _render_figures(request, "dashboard.html", stats, flt, comments=15, user=user, error=error,
                           names=names)


@router.get("/admin/officers/{officer_id}")
def officer_page(request: Request, officer_id: str):
    user = require_user(request)
    stats, names, _sv = _context(request)
    flt, error = _filter(request)
    flt.officer = officer_id
    with request.app.state.read_engine.connect() as conn:
        officer = conn.execute(select(db.officers).where(db.officers.c.id == officer_id)).mappings().first()
    if officer is None and officer_id not in names["officer"]:
        _ = translator(_lang(request))
        return render(request, "error.html", status=404, user=user,
                      message=_("Không có cán bộ mã {code}.", code=officer_id))
    return _render_figures(request, "officer.html", stats, flt, comments=30, user=user, error=error,
                           names=names, officer=dict(officer) if officer else {"id": officer_id, "name": officer_id})


def _render_figures(request: Request, template: str, stats, flt, comments: int, **ctx) -> HTMLResponse:
    """A page of figures for ``flt`` (the dashboard, an officer): figures, trend chart, labels."""
    step = _step(flt.period)
    dash = stats.dashboard(flt, step, comments=comments)
    lang = _lang(request)
    _ = translator(lang)
    return render(request, template, flt=flt, dash=dash, step=step,
                  choices=_period_choices(periods.today_vn(), _),
                  chart=Markup(charts.trend_svg(dash.trend, labels=(_("Tỷ lệ hài lòng (%)"), _("Số đánh giá hợp lệ"),
                                                                    _("Chưa có đánh giá trong kỳ")))),
                  levels=_scale_labels(stats.scale, lang),
                  reason_labels={c: (en if lang == "en" else vi) for c, (vi, en) in stats.reasons.items()},
                  filter_qs=_filter_query(flt), open_alerts=_open_alerts(request),
                  low_below=_low_below(request), **ctx)


@router.get("/admin/alerts")
def alerts_page(request: Request, show: str = "open"):
    user = require_user(request)
    stats, names, sv = _context(request)
    a = db.alerts
    with request.app.state.read_engine.connect() as conn:
        open_rows = conn.execute(select(a).where(a.c.resolved_at.is_(None)).order_by(a.c.id.desc())).mappings().all()
        done_rows = conn.execute(select(a).where(a.c.resolved_at.is_not(None))
                                 .order_by(a.c.resolved_at.desc()).limit(200)).mappings().all()
        rule = alert_rules.rules(conn)
    return render(request, "alerts.html", user=user, open_rows=open_rows, done_rows=done_rows, rule=rule,
                  kinds=alert_rules.KIND_LABELS, open_alerts=len(open_rows), fmt_time=_local_time)


@router.post("/admin/alerts/{alert_id}/ack")
async def acknowledge(request: Request, alert_id: int):
    user = require_user(request, "admin")
    form = await checked_form(request)
    note = form.get("note", "").strip()[:1000]
    a = db.alerts
    with request.app.state.engine.begin() as conn:
        found = conn.execute(a.update().where(a.c.id == alert_id, a.c.resolved_at.is_(None)).values(
            resolved_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            acked_by=user["username"], note=note or None)).rowcount
    if not found:
        _ = translator(_lang(request))
        return render(request, "error.html", status=404, user=user,
                      message=_("Cảnh báo này không còn mở (đã được xử lý hoặc không tồn tại)."))
    return RedirectResponse("/admin/alerts", status_code=303)


@router.post("/admin/alerts/rules")
async def save_rules(request: Request):
    require_user(request, "admin")
    form = await checked_form(request)
    try:
        new = {"officer_rate_below": float(form["officer_rate_below"].replace(",", ".")),
               "officer_min_ratings": int(form["officer_min_ratings"]),
               "kiosk_silent_hours": float(form["kiosk_silent_hours"].replace(",", "."))}
        if not (0 <= new["officer_rate_below"] <= 100 and new["officer_min_ratings"] >= 1
                and new["kiosk_silent_hours"] > 0):
            raise ValueError
    except (KeyError, ValueError):
        _ = translator(_lang(request))
        return render(request, "error.html", status=422,
                      message=_("Ngưỡng không hợp lệ: tỷ lệ từ 0 đến 100, số đánh giá tối thiểu từ 1, "
                                "số giờ lớn hơn 0."))
    with request.app.state.engine.begin() as conn:
        set_setting(conn, "alert_rules", new)
    return RedirectResponse("/admin/alerts", status_code=303)


def _local_time(value: str | None) -> str:
    if not value:
        return "—"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(periods.VN_TZ).strftime("%d/%m/%Y %H:%M")


def _ago(hours: float | None, _) -> str:
    """How long ago, in the unit an admin reads at a glance."""
    if hours is None:
        return _("chưa liên lạc lần nào")
    minutes = int(hours * 60)
    if minutes < 2:
        return _("vừa xong")
    if minutes < 120:
        return _("{n} phút trước", n=minutes)
    if hours < 48:
        return _("{n} giờ trước", n=int(hours))
    return _("{n} ngày trước", n=int(hours // 24))


@router.get("/admin/kiosks")
def kiosks_page(request: Request):
    user = require_user(request)
    with request.app.state.read_engine.connect() as conn:
        rows = conn.execute(select(db.kiosks).order_by(db.kiosks.c.unit_code, db.kiosks.c.id)).mappings().all()
        rule = alert_rules.rules(conn)
    now = datetime.now(timezone.utc)
    kiosks = []
    for k in rows:
        seen = k["last_seen"]
        age_h = None
        if seen:
            try:
                at = datetime.fromisoformat(seen)
                age_h = (now - (at if at.tzinfo else at.replace(tzinfo=timezone.utc))).total_seconds() / 3600
            except ValueError:
                pass
        problems = []
        if k["revoked"]:
            problems.append("revoked")
        elif age_h is None or age_h >= rule["kiosk_silent_hours"]:
            problems.append("silent")
        if k["clock_skew"] is not None and abs(k["clock_skew"]) >= request.app.state.options.get("skew_threshold", 600):
            problems.append("skew")
        if k["quarantined"]:
            problems.append("quarantined")
        kiosks.append({**dict(k), "age_h": age_h, "problems": problems})
    with request.app.state.read_engine.connect() as conn:
        units = conn.execute(select(db.units.c.code, db.units.c.name).order_by(db.units.c.code)).all()
    ask = request.query_params.get("revoke")
    confirm = next((k for k in kiosks if k["id"] == ask and not k["revoked"]), None)
    return render(request, "kiosks.html", user=user, kiosks=kiosks, fmt_time=_local_time, ago=_ago,
                  units=units, confirm=confirm if user["role"] == "admin" else None,
                  revoked=next((k["id"] for k in kiosks if k["id"] == request.query_params.get("revoked")
                                and k["revoked"]), None), open_alerts=_open_alerts(request))


@router.get("/admin/export")
def export(request: Request, fmt: str = "csv"):
    require_user(request)
    flt, error = _filter(request)
    if error or fmt not in ("csv", "xlsx", "docx"):
        _ = translator(_lang(request))
        return render(request, "error.html", status=422,
                      message=error or _("Định dạng xuất không hợp lệ: chọn csv, xlsx hoặc docx."))
    stats, names, sv = _context(request)
    base = f"hailong-{flt.period.key.replace('..', '_')}"
    if fmt == "docx":
        data = report_docx.gather(stats, flt, names)
        with request.app.state.read_engine.connect() as conn:
            issuer = _issuer(conn)
        body = report_docx.report(data, issuer, periods.today_vn())
        return Response(body, media_type="application/vnd.openxmlformats-officedocument."
                        "wordprocessingml.document",
                        headers={"Content-Disposition": f'attachment; filename="{base}-bao-cao.docx"'})
    # a year of a busy town is hundreds of MB: spill to disk, not to memory
    buf = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    exports.export(request.app.state.read_engine, flt, fmt, buf, scale=sv["scale"])
    media = ("text/csv; charset=utf-8" if fmt == "csv"
             else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    buf.seek(0)

    def chunks():
        with buf:
            yield from iter(lambda: buf.read(256 * 1024), b"")
    return StreamingResponse(chunks(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{base}.{fmt}"'})


# --- the same figures for scripts (admin API token) ---------------------------------------

def _figures_json(f) -> dict:
    return {"key": f.key, "total": f.total, "misuse": f.misuse, "valid": f.valid,
            "satisfied": f.satisfied, "rate": f.rate, "levels": {str(k): v for k, v in f.levels.items()}}


@api_router.get("/api/v1/reports/dashboard",
                summary="Satisfaction figures for a period (admin or viewer API token)")
def report_api(request: Request, period: str | None = None, unit: str | None = None, desk: str | None = None,
               officer: str | None = None, procedure: str | None = None, step: str | None = None,
               user: dict = Depends(current_user)):
    """period: 2026 | 2026-11 | 2026-Q4 | 2026-H2 | 2026-11-01..2026-11-28 (default: this quarter).

    rate = satisfied ÷ valid × 100, one decimal; misuse-flagged ratings are in
    total and misuse but not in valid, levels or reasons.
    """
    try:
        p = periods.parse(period) if period else periods.containing("quarter", periods.today_vn())
    except periods.PeriodError as exc:
        raise HTTPException(422, str(exc)) from None
    step = step or _step(p)
    if step not in ("day", "week", "month"):
        raise HTTPException(422, "step: must be day, week or month")
    stats, _names, _sv = _context(request)
    flt = Filter(p, unit=unit, desk=desk, officer=officer, procedure=procedure)
    dash = stats.dashboard(flt, step, comments=0)
    return {"period": {"key": p.key, "label": p.label(), "start": p.start.isoformat(), "end": p.end.isoformat()},
            "overall": _figures_json(dash.overall),
            "by": {d: [_figures_json(f) for f in rows] for d, rows in dash.by.items()},
            "trend": {"step": step, "points": [_figures_json(f) for f in dash.trend]},
            "reasons": dash.reasons}


# --- report issuer (settings) ------------------------------------------------------------

def _issuer(conn) -> report_docx.Issuer:
    saved = get_setting(conn, "report_issuer", {}) or {}
    return report_docx.Issuer(**{k: v for k, v in saved.items() if k in report_docx.Issuer.__dataclass_fields__})


# --- wiring ------------------------------------------------------------------------------

def _session_secret(engine) -> str:
    with engine.begin() as conn:
        secret = get_setting(conn, "session_secret")
        if not secret:
            secret = secrets.token_urlsafe(48)
            set_setting(conn, "session_secret", secret)
    return secret


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the session middleware on the app."""
    app.state.read_engine = app.state.reader
    app.state.signin_limiter = SignInLimiter()
    app.add_middleware(SessionMiddleware, secret_key=_session_secret(app.state.engine),
                       session_cookie="hailong_session", max_age=SESSION_HOURS * 3600,
                       same_site="strict", https_only=False)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    from sync.server.web import manage as pages_manage  # noqa: F401  (adds kiosk enrol/revoke and roster import to router)
    from sync.server.web import office as pages_office  # noqa: F401  (adds the roster and letter pages to router)
    app.include_router(router)
    app.include_router(api_router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/admin"
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        _ = translator(_lang(request))
        return render(request, "error.html", status=403,
                      message=_("Bạn không có quyền làm việc này (cần quyền quản trị, "
                                "hoặc trang đã hết hạn: hãy tải lại trang)."))
