"""The evidence page (/admin/evidence, admins only): choose a period, download its signed evidence pack.

The GET only reads (the server's signing key exists from the start:
create_app makes it), so it shows the public key an inspector pins
(``hailong verify-pack PACK.zip --key …``). The download is a POST under the
session's CSRF token: a pack holds citizens' comments, and a link must not
make one. The pack is written by reports/evidence_pack.py through the
read-only engine (one snapshot, no write lock), into a private temporary
folder, and sent from there; the folder goes once the answer is sent.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from sync import evidence as pack_format
from sync.server.core import tlog_store
from sync.server.core.signing import public_key_hex, signing_key
from sync.server.reports import periods
from sync.server.reports.evidence_pack import write_pack
from sync.server.reports.report_docx import slug
from sync.server.web.base import (
    checked_form,
    period_choices,
    render,
    report_issuer,
    require_user,
    tr,
    user_scope,
)

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: dict, chosen: str, status: int = 200, error: str | None = None):
    _ = tr(request)
    today = periods.today_vn()
    choices = period_choices(today, _)
    with request.app.state.reader.connect() as conn:
        key = signing_key(conn)
    hex_key = public_key_hex(key) if key else None
    return render(request, "evidence.html", status=status, user=user, choices=choices, chosen=chosen,
                  listed=chosen in dict(choices), error=error, key_hex=hex_key,
                  key_shown=pack_format.key_text(hex_key) if hex_key else None)


@router.get("/admin/evidence")
def evidence_page(request: Request):
    user = require_user(request, "admin")
    wanted = request.query_params.get("period") or ""
    try:
        chosen = periods.parse(wanted).key if wanted else periods.containing("quarter", periods.today_vn()).key
    except periods.PeriodError as exc:
        return _page(request, user, periods.containing("quarter", periods.today_vn()).key, 422, str(exc))
    return _page(request, user, chosen)


def _sign_log(app) -> None:
    """The public log's checkpoint signed first, so the pack's holds every rating so far; a database that
    cannot be written now (read-only, full) leaves the last one: the pack is still whole."""
    try:
        with app.state.write_lock, app.state.engine.begin() as conn:
            tlog_store.sign_now(conn)
    except SQLAlchemyError:
        pass


@router.post("/admin/evidence")
async def evidence_download(request: Request):
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    try:
        period = periods.parse(form.get("period", ""))
    except periods.PeriodError as exc:
        return _page(request, user, periods.containing("quarter", periods.today_vn()).key, 422, str(exc))
    reader = request.app.state.reader
    with reader.connect() as conn:
        key = signing_key(conn)
        issuer = report_issuer(conn)
    if key is None:     # create_app makes it; a town.db swapped under a running server has none
        return _page(request, user, period.key, 503, _("Máy chủ chưa có khóa ký: hãy khởi động lại máy chủ."))
    folder = Path(tempfile.mkdtemp(prefix="hailong-pack-"))     # 0700
    unit = user_scope(request).unit
    name = f"hoso-kiem-chung-{period.key.replace('..', '_')}{'-' + slug(unit) if unit else ''}.zip"
    try:
        await run_in_threadpool(_sign_log, request.app)
        await run_in_threadpool(write_pack, reader, period, folder / name, key, issuer,
                                scope=user_scope(request))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(folder / name, media_type="application/zip", filename=name,
                        headers={"Cache-Control": "no-store"},
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
