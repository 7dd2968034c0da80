"""The town server's FastAPI app factory.

Every route is included here, visibly: the kiosk API (api/kiosks.py), the
admin API (api/ratings.py, api/reports.py) and the admin pages, one router
per page group (web/signin.py, dashboard.py, alerts.py, kiosks.py,
roster.py, office.py); ``web.base.setup`` adds what the pages share
(sessions, /static, the sign-in redirect). Every error reply of the API is
JSON ``{"detail": "<message>"}``.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.server.api import kiosks as api_kiosks
from sync.server.api import ratings as api_ratings
from sync.server.api import reports as api_reports
from sync.server.core import tasks
from sync.filemodes import exposed, private_dir
from sync.server.core.db import FifoLock, db_url, make_engine, make_reader, migrate
from sync.server.core.health import RETRY_AFTER, DbHealth
from sync.server.core.settings import ensure_receipt_key
from sync.server.web import alerts as web_alerts
from sync.server.web import base as web_base
from sync.server.web import dashboard as web_dashboard
from sync.server.web import kiosks as web_kiosks
from sync.server.web import office as web_office
from sync.server.web import roster as web_roster
from sync.server.web import signin as web_signin

log = logging.getLogger("hailong.server")

DEFAULTS = {
    "max_body_bytes": 8 * 1024 * 1024,  # decompressed, per batch
    "max_batch": 5000,                  # ratings per batch
    "skew_threshold": 600,              # seconds of kiosk clock error before times are corrected
    "sweep_seconds": 60.0,              # how often the background task looks for silent kiosks
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
        try:
            yield
        finally:
            app.state.background.stop()

    app = FastAPI(title="hailong town server", version="1", lifespan=lifespan,
                  description="Sync protocol v1 (kiosks) and the admin API. See DESIGN.md.")
    app.state.engine = engine          # writes: batches, heartbeats, admin operations
    app.state.reader = make_reader(engine)   # every GET reads here and never writes
    # SQLite has one writer: batches queue on this lock, in arrival order,
    # rather than on SQLite's busy handler (which sleeps and retries, unfairly).
    app.state.write_lock = FifoLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    app.state.health = health
    app.state.options = {**DEFAULTS, **options, "media_dir": str(media)}
    app.state.background = tasks.Background(engine, app.state.write_lock, app.state.options["sweep_seconds"])
    app.include_router(api_kiosks.router)         # sync protocol v1: batches, config, photos, heartbeats
    app.include_router(api_ratings.router)        # admin API: ratings pull, alerts
    app.include_router(api_reports.router)        # admin API: the dashboard's figures
    web_base.setup(app)                           # the pages' sessions, /static, sign-in redirect
    app.include_router(web_signin.router)         # /login, /logout, /lang
    app.include_router(web_dashboard.router)      # /admin, officer pages, exports
    app.include_router(web_alerts.router)         # /admin/alerts
    app.include_router(web_kiosks.router)         # /admin/kiosks
    app.include_router(web_roster.router)         # /admin/roster, roster import, photos
    app.include_router(web_office.router)         # /admin/letters, report settings

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        # A bug, not the client's fault: say so plainly (the fuzz test hunts these).
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        problem = app.state.health.problem()
        body = {"ok": problem is None, "database": problem or "ok", "background": app.state.background.status()}
        return JSONResponse(body, status_code=503 if problem else 200,
                            headers={"Retry-After": str(RETRY_AFTER)} if problem else None)

    return app
