"""The town server's FastAPI app factory.

Every route is included here, visibly: the kiosk API (api/kiosks.py), the
admin API (api/ratings.py, api/reports.py) and the admin pages, one router
per page group (web/signin.py, dashboard.py, alerts.py, kiosks.py,
roster.py, office.py); ``web.base.setup`` adds what the pages share
(sessions, /static, the sign-in redirect).

Errors: every error reply under ``/api/`` (and to a client that asks for
JSON only) is JSON ``{"detail": "<message>"}``; anything else (a browser on
an unknown or mistyped address, a wrong method) gets an HTML page in the
session's language with a link back to the dashboard (:func:`_error_reply`).
A client that gives up in the middle of sending its body (a kiosk on a slow
link) is one line in the log, not a traceback.

``/docs`` (Swagger UI) and ``/redoc`` work offline: their JavaScript and CSS
are served from ``/static-docs``, the copy the ``fastapi-offline`` package
ships (FastAPI's "self-hosting JavaScript and CSS for docs").
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sync.filemodes import exposed, private_dir
from sync.server.api import cases as api_cases
from sync.server.api import kiosks as api_kiosks
from sync.server.api import log as api_log
from sync.server.api import ratings as api_ratings
from sync.server.api import reports as api_reports
from sync.server.core import notify, tasks, tlog_store
from sync.server.core.db import FifoLock, db_url, make_engine, make_reader, migrate
from sync.server.core.health import RETRY_AFTER, DbHealth
from sync.server.core.settings import ensure_receipt_key
from sync.server.core.signing import ensure_signing_key
from sync.server.web import alerts as web_alerts
from sync.server.web import base as web_base
from sync.server.web import case_letters as web_case_letters
from sync.server.web import cases as web_cases
from sync.server.web import dashboard as web_dashboard
from sync.server.web import evidence as web_evidence
from sync.server.web import kiosks as web_kiosks
from sync.server.web import office as web_office
from sync.server.web import phone as web_phone
from sync.server.web import roster as web_roster
from sync.server.web import scores as web_scores
from sync.server.web import signin as web_signin
from sync.server.web import survey_report as web_survey_report
from sync.server.web import surveys as web_surveys

log = logging.getLogger("hailong.server")

#: Swagger UI's and ReDoc's JavaScript and CSS, as the fastapi-offline package ships them
#: (no CDN: the town network may have no internet).
DOCS_STATIC = "/static-docs"

DEFAULTS = {
    "max_body_bytes": 8 * 1024 * 1024,  # decompressed, per batch
    "max_batch": 5000,                  # ratings per batch
    "skew_threshold": 600,              # seconds of kiosk clock error before times are corrected
    "sweep_seconds": 60.0,              # how often the background task looks for silent kiosks
    "smtp": None,                       # smtp://[user:password@]host:port: where alert e-mails go (none: no e-mail)
    "public_url": None,                 # the server's address in the mails' links (default http://127.0.0.1:8080)
    "notify_seconds": 60.0,             # the sender's periodic round (it is also woken by every commit)
    "notify_retry_seconds": 30.0,       # the first retry's wait; doubled each time, capped at an hour
}


def default_media_dir(db: str) -> Path:
    """Officer photos live beside town.db (``media/``), or in ./media for a database URL."""
    url = db_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):]).parent / "media"
    return Path("media").resolve()


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _docs_assets() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:          # pragma: no cover - a server installed without it: no /docs
        return None
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def wants_json(request: Request) -> bool:
    """An API client: a path under /api/ (the kiosks' and the admin API), or a client that asks for
    JSON and not HTML. Everyone else is a person with a browser."""
    if request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error_words(request: Request, status: int, _) -> tuple[str, str]:
    """(heading, message) of an HTML error page, in words a commune's admin reads."""
    if status == 404:
        return _("Không tìm thấy trang"), _("Không có trang nào ở địa chỉ {path}. Có thể địa chỉ gõ sai "
                                             "hoặc trang đã được chuyển đi.", path=request.url.path)
    if status == 405:
        return _("Không thực hiện được"), _("Địa chỉ {path} không nhận yêu cầu kiểu {method}.",
                                             path=request.url.path, method=request.method)
    if status >= 500:
        return _("Lỗi máy chủ"), _("Máy chủ gặp lỗi khi xử lý yêu cầu này. Hãy thử lại sau ít phút; "
                                    "nếu vẫn lỗi, báo cho người phụ trách kỹ thuật.")
    return _("Không thực hiện được"), _("Yêu cầu này không thực hiện được (mã lỗi {status}).", status=status)


def _error_reply(request: Request, status: int, detail: str, headers=None, message: str | None = None):
    """The reply to an error: JSON ``{"detail"}`` for an API client, else an HTML page
    (``message``, or the status's words) with a link back to the dashboard."""
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    # the 500 handler runs outside the session middleware: no session there, Vietnamese then
    has_session = "session" in request.scope
    try:
        lang = web_base.session_lang(request) if has_session else "vi"
        _ = web_base.translator(lang)
        heading, words = _error_words(request, status, _)
        ctx = {"heading": heading, "code": status, "message": message or words}
        if has_session:
            if web_base.signed_in_user(request):
                ctx["open_alerts"] = web_base.open_alert_count(request)     # the menu's badge
            response = web_base.error_page(request, status, **ctx)
        else:
            response = web_base.templates.TemplateResponse(request, "error.html", {
                "_": _, "lang": lang, "csrf": "", "path": request.url.path, "qs": "", "user": None, **ctx},
                status_code=status)
    except Exception:            # the page itself failed (the database is gone...): plain words
        log.warning("error page for %s %s failed; plain text instead", request.method, request.url.path,
                    exc_info=True)
        response = Response(f"{status}: {detail}\n", status_code=status, media_type="text/plain; charset=utf-8")
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def create_app(db: str = "town.db", *, media_dir: str | Path | None = None, run_migrations: bool = True,
               **options) -> FastAPI:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    engine = make_engine(db)
    if run_migrations:
        migrate(engine)
    with engine.begin() as conn:
        ensure_receipt_key(conn)
        ensure_signing_key(conn)   # evidence packs are signed with it; pages only read it
        tlog_store.ensure_log(conn, options.get("public_url"))   # the public log's key and origin, made once
    # Watches the file the server was started on (deleted, replaced, read-only, corrupt):
    # batches get 503 and /healthz says so (core/health.py).
    health = DbHealth(engine)
    health.quick_check_later()
    if health.path:
        found = exposed(health.path)
        if found:   # one line
            log.warning("%s: others can read the server's secrets (session secret, kiosk keys)", "; ".join(found))
    media = Path(media_dir or default_media_dir(db))
    if not media.exists():
        private_dir(media)    # officer photos: 0700 like town.db's folder

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.background.start()
        app.state.notifier.start()
        try:
            yield
        finally:
            app.state.notifier.stop()
            app.state.background.stop()

    docs_assets = _docs_assets()
    app = FastAPI(title="hailong town server", version="1", lifespan=lifespan,
                  description="Sync protocol v1 (kiosks) and the admin API. See DESIGN.md.",
                  docs_url=None, redoc_url=None)   # /docs and /redoc below, from the server's own copy
    app.state.engine = engine          # writes: batches, heartbeats, admin operations
    app.state.reader = make_reader(engine)   # every GET reads here and never writes
    # SQLite has one writer: batches queue on this lock, in arrival order,
    # rather than on SQLite's busy handler (which sleeps and retries, unfairly).
    app.state.write_lock = FifoLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    app.state.health = health
    app.state.options = {**DEFAULTS, **options, "media_dir": str(media)}
    app.state.background = tasks.Background(engine, app.state.write_lock, app.state.options["sweep_seconds"])
    opts = app.state.options
    # the outbox's sender (core/notify.py); the SMTP URL's password stays inside it, never in options
    app.state.notifier = notify.Notifier(
        engine, app.state.reader, app.state.write_lock, smtp=opts.pop("smtp"),
        base_url=opts["public_url"] or "http://127.0.0.1:8080", interval=opts["notify_seconds"],
        retry_base=opts["notify_retry_seconds"])
    app.include_router(api_kiosks.router)         # sync protocol v1: batches, config, photos, heartbeats
    app.include_router(api_ratings.router)        # admin API: ratings pull, alerts
    app.include_router(api_reports.router)        # admin API: the dashboard's figures
    app.include_router(api_cases.router)          # admin API: cases
    app.include_router(api_log.router)            # public: the log's checkpoint, key, proofs (no sign-in)
    web_base.setup(app)                           # the pages' sessions, /static, sign-in redirect
    app.include_router(web_signin.router)         # /login, /logout, /lang
    app.include_router(web_dashboard.router)      # /admin, officer pages, exports
    app.include_router(web_alerts.router)         # /admin/alerts
    app.include_router(web_kiosks.router)         # /admin/kiosks
    app.include_router(web_roster.router)         # /admin/roster, roster import, photos
    app.include_router(web_office.router)         # /admin/letters, report settings
    app.include_router(web_cases.router)          # /admin/cases, a case's page, letters from a case
    app.include_router(web_case_letters.router)   # /admin/cases/{id}/letter
    app.include_router(web_evidence.router)       # /admin/evidence: the evidence pack
    app.include_router(web_scores.router)         # /admin/scores: the yearly emulation score
    app.include_router(web_surveys.router)        # /admin/surveys: survey definitions, preview, results
    app.include_router(web_survey_report.router)  # /admin/surveys/{id}/report.docx: a campaign's Word report
    app.include_router(web_phone.router)          # /r/{receipt}: the citizen's phone rating page (public)

    if docs_assets is not None:
        _offline_docs(app, docs_assets)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return _error_reply(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        text = _validation_message(exc)
        return _error_reply(request, 422, text, message=text)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        # The client gave up before its body arrived (a kiosk on a slow link times out and
        # retries later): nothing was done, nobody is listening; one line, no traceback.
        log.warning("client %s disconnected before sending the whole body of %s %s; nothing done",
                    request.client.host if request.client else "?", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError):
        # The database unreachable or refusing writes (a PostgreSQL being restored, a standby, a
        # failover) is not a bug: 503 with Retry-After on every route, and /healthz says so. A
        # problem the health check already sees (town.db read-only, replaced…) explains the error:
        # it is not noted again, so /healthz is ok as soon as the file is (as for batches).
        health = app.state.health
        problem = health.problem() or health.classify(exc)
        if problem is None:
            log.exception("unhandled database error on %s %s", request.method, request.url.path)
            return _error_reply(request, 500, "internal server error")
        return _error_reply(request, 503, f"database unhealthy: {problem}; try again later",
                            {"Retry-After": str(RETRY_AFTER)})

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        # A bug, not the client's fault: say so plainly (the fuzz test hunts these).
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_reply(request, 500, "internal server error")

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        problem = app.state.health.problem()
        body = {"ok": problem is None, "database": problem or "ok", "background": app.state.background.status(),
                "notify": app.state.notifier.status()}   # the mail and webhook sender (password hidden)
        return JSONResponse(body, status_code=503 if problem else 200,
                            headers={"Retry-After": str(RETRY_AFTER)} if problem else None)

    return app


def _offline_docs(app: FastAPI, assets: Path) -> None:
    """/docs (Swagger UI) and /redoc with their JavaScript and CSS served from ``DOCS_STATIC``."""
    app.mount(DOCS_STATIC, StaticFiles(directory=str(assets)), name="static-docs")
    redirect = app.swagger_ui_oauth2_redirect_url

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request):
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API",
                                   oauth2_redirect_url=f"{root}{redirect}",
                                   swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/static/favicon.svg")

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect():
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request):
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}/static/favicon.svg", with_google_fonts=False)


#: The environment variable ``hailong server --workers N`` hands each uvicorn worker its options in (JSON).
WORKER_ENV = "HAILONG_SERVER_WORKER"


def worker_app() -> FastAPI:
    """The app of one uvicorn worker process (``hailong server --workers N``; uvicorn's factory=True).

    uvicorn starts N processes sharing one listening socket and each imports
    this factory: the database and options come from :data:`WORKER_ENV`,
    written by the command. The command already migrated the database and
    made the keys before forking, so a worker does not migrate again (N
    workers migrating at once would race). Exactly-once and background
    work once across the workers: core/leases.py.
    """
    import json
    import os
    spec = json.loads(os.environ[WORKER_ENV])
    return create_app(spec["db"], media_dir=spec.get("media_dir"), run_migrations=False, **spec["options"])
