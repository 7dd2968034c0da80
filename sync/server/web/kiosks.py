"""Kiosk health (last contact, clock, quarantine), enrolling a kiosk, its offline bundle, revoking one.

Enrol and revoke are the operations ``hailong admin enrol-kiosk`` and
``revoke-kiosk`` run (core/admin_ops.py); the token and key of a new kiosk
are shown once, never stored in the clear.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from sync.server.core import admin_ops, db, kiosk_bundle, notify, settings, web_chain
from sync.server.core import alerts as alert_rules
from sync.server.core.clock import parse_stored
from sync.server.web.base import (
    checked_form,
    error_page,
    local_time,
    open_alert_count,
    render,
    require_user,
    tr,
    user_scope,
)

router = APIRouter(include_in_schema=False)


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


def _hours_since(value: str | None, now: datetime) -> float | None:
    at = parse_stored(value)
    return None if at is None else (now - at).total_seconds() / 3600


# What the health summary of a heartbeat (api/kiosks.KioskHealth) must show to be a problem: an
# unattended kiosk that will stop soon (disk), that lost its last safe copy (backup), whose clock
# dates receipts wrongly (NTP), or that overheats in a closed cabinet (a Pi throttles at 80-85 °C).
DISK_LOW_MB = 500
BACKUP_OLD_HOURS = 48
HOT_C = 80.0


def stored_health(value) -> dict:
    """The kiosk's last health summary (kiosks.health, JSON); {} when it never sent one."""
    try:
        health = json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}
    return health if isinstance(health, dict) else {}


def health_problems(health: dict, now: datetime) -> list[str]:
    """The health summary's problems: unsynced, disk_low, backup_old, hot."""
    problems = []
    if health.get("clock_synced") is False:
        problems.append("unsynced")
    if isinstance(health.get("disk_free_mb"), int) and health["disk_free_mb"] < DISK_LOW_MB:
        problems.append("disk_low")
    if health:   # a kiosk that reports health and has no backup, or none in two days
        age = _hours_since(health.get("last_backup"), now)
        if age is None or age >= BACKUP_OLD_HOURS:
            problems.append("backup_old")
    if isinstance(health.get("temperature_c"), (int, float)) and health["temperature_c"] >= HOT_C:
        problems.append("hot")
    return problems


def _size(mb: float, _, decimal: str) -> str:
    if mb >= 1024:
        return _("{n} GB", n=f"{mb / 1024:.1f}".replace(".", decimal))
    return _("{n} MB", n=f"{mb:.1f}".replace(".", decimal) if mb < 10 else str(round(mb)))


def _uptime(seconds: int, _) -> str:
    if seconds < 3600:
        return _("{n} phút", n=seconds // 60)
    if seconds < 48 * 3600:
        return _("{n} giờ", n=seconds // 3600)
    return _("{n} ngày", n=seconds // 86400)


def health_words(health: dict, _, lang: str) -> list[str]:
    """One kiosk's health summary in the reader's words, the known parts only."""
    decimal = "," if lang == "vi" else "."
    words = []
    if isinstance(health.get("disk_free_mb"), int):
        words.append(_("Đĩa trống {size}", size=_size(health["disk_free_mb"], _, decimal)))
    if isinstance(health.get("db_bytes"), int):
        words.append(_("kiosk.db {size}", size=_size(health["db_bytes"] / 2**20, _, decimal)))
    if health:
        words.append(_("Sao lưu gần nhất {at}", at=local_time(health["last_backup"]))
                     if health.get("last_backup") and parse_stored(health["last_backup"]) else
                     _("Chưa có bản sao lưu"))
    if isinstance(health.get("uptime_s"), int):
        words.append(_("Chạy liên tục {d}", d=_uptime(health["uptime_s"], _)))
    if isinstance(health.get("temperature_c"), (int, float)):
        words.append(f"{health['temperature_c']:.0f} °C")
    if health.get("taps_outside_hours"):
        words.append(_("{n} lần chạm ngoài giờ làm việc", n=health["taps_outside_hours"]))
    return words


def kiosk_health(k: dict, now: datetime, silent_hours: float, skew_threshold: float) -> dict:
    """What the kiosks page says of one kiosk: ``age_h`` (hours since its last contact, None: never),
    ``never`` (it never made contact yet), ``problems`` (revoked, silent, skew, quarantined).

    The same rule as the silent sweep (core/alerts.sweep_silent): the silent hours count from the
    last contact or, for a kiosk that never made contact, from its enrolment, so a kiosk enrolled a
    minute ago is "Chưa kết nối lần nào", not "Im lặng quá lâu".
    """
    age_h = _hours_since(k["last_seen"], now)
    never = age_h is None
    since = age_h if not never else _hours_since(k["enrolled_at"], now)
    problems = []
    if k["revoked"]:
        problems.append("revoked")
    elif since is not None and since >= silent_hours:
        problems.append("silent")
    if k["clock_skew"] is not None and abs(k["clock_skew"]) >= skew_threshold:
        problems.append("skew")
    if k["quarantined"]:
        problems.append("quarantined")
    health = stored_health(k.get("health"))
    if not k["revoked"]:
        problems += health_problems(health, now)
    return {"age_h": age_h, "never": never, "problems": problems, "health": health}


@router.get("/admin/kiosks")
def kiosks_page(request: Request):
    return _kiosks_page(request, require_user(request))


def _kiosks_page(request: Request, user: dict, status: int = 200, error: str | None = None,
                 typed: dict | None = None, hooks_typed: dict | None = None, bundle_typed: dict | None = None,
                 bundle_id: str | None = None, public_typed: dict | None = None):
    """The kiosks page; after a refused enrolment, the message above the form and what was typed in it."""
    scope = user_scope(request)
    with request.app.state.reader.connect() as conn:
        rows = conn.execute(select(db.kiosks).where(scope.kiosks(), db.kiosks.c.id.not_like("WEB-%"))
                            .order_by(db.kiosks.c.unit_code, db.kiosks.c.id)).mappings().all()
        phone = {u: n for u, n in web_chain.phone_count(conn).items() if scope.allows(u)}
        rule = alert_rules.rules(conn)
        units = conn.execute(select(db.units.c.code, db.units.c.name).where(scope.units())
                             .order_by(db.units.c.code)).all()
        outbox = notify.outbox_state(conn)
        hooks = {code: url for code, url in notify.webhooks(conn).items() if scope.allows(code)}
        public_urls = {code: url for code, url in settings.public_base_urls(conn).items() if scope.allows(code)}
    now = datetime.now(timezone.utc)
    skew = request.app.state.options.get("skew_threshold", 600)
    kiosks = [{**dict(k), **kiosk_health(k, now, float(rule["kiosk_silent_hours"]), skew)} for k in rows]
    ask = request.query_params.get("revoke")
    confirm = next((k for k in kiosks if k["id"] == ask and not k["revoked"]), None)
    # "Tệp cài đặt": the bundle form of one kiosk of this user's scope, its unit's desks to choose from
    wanted = bundle_id or request.query_params.get("bundle")
    bundle_for = next((k for k in kiosks if k["id"] == wanted and not k["revoked"]), None)
    bundle_desks = []
    if bundle_for is not None and user["role"] == "admin":
        with request.app.state.reader.connect() as conn:
            bundle_desks = conn.execute(select(db.desks.c.id, db.desks.c.name)
                                        .where(db.desks.c.unit_code == bundle_for["unit_code"])
                                        .order_by(db.desks.c.id)).all()
    return render(request, "kiosks.html", status=status, error=error, typed=typed or {},
                  user=user, kiosks=kiosks, fmt_time=local_time, ago=_ago, health_words=health_words,
                  units=units, confirm=confirm if user["role"] == "admin" else None,
                  bundle_for=bundle_for if user["role"] == "admin" else None, bundle_desks=bundle_desks,
                  bundle_typed=bundle_typed or {}, server_url=str(request.base_url).rstrip("/"),
                  revoked=next((k["id"] for k in kiosks if k["id"] == request.query_params.get("revoked")
                                and k["revoked"]), None), open_alerts=open_alert_count(request),
                  silent_hours=rule["kiosk_silent_hours"], outbox=outbox, notifier=request.app.state.notifier.status(),
                  max_attempts=notify.MAX_ATTEMPTS, webhooks=hooks, hooks_typed=hooks_typed,
                  hooks_saved=request.query_params.get("webhooks") == "saved",
                  webhook_host=notify.url_host, phone=phone, public_urls=public_urls, public_typed=public_typed,
                  public_saved=request.query_params.get("public_url") == "saved", public_max=settings.PUBLIC_URL_MAX)


@router.post("/admin/kiosks/webhooks")
async def kiosk_webhooks(request: Request):
    """Each unit's webhook URL (empty: none); a URL that is not http(s) refuses the form, as typed."""
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    with request.app.state.reader.connect() as conn:    # a commune's admin: their unit's webhook only
        codes = list(conn.execute(select(db.units.c.code).where(user_scope(request).units())
                                  .order_by(db.units.c.code)).scalars())
    typed = {code: str(form.get(f"webhook:{code}", "") or "").strip() for code in codes}
    bad = []
    for code, url in typed.items():
        if url:
            try:
                notify.valid_webhook(url)
            except notify.BadAddress:
                bad.append(code)
    if bad:
        return _kiosks_page(request, user, 422, hooks_typed={"typed": typed, "bad": bad, "error": _(
            "Địa chỉ webhook phải bắt đầu bằng http:// hoặc https:// và có tên máy (đơn vị: {units}).",
            units=", ".join(bad))})
    with request.app.state.write_lock, request.app.state.engine.begin() as conn:
        for code, url in typed.items():
            notify.set_webhook(conn, code, url)
    return RedirectResponse("/admin/kiosks?webhooks=saved#notify", status_code=303)


@router.post("/admin/kiosks/public-url")
async def kiosk_public_urls(request: Request):
    """Each unit's public base URL (the phone rating page; empty: none, receipts print HL1.…); a URL a
    receipt cannot carry refuses the form, as typed. A commune's admin: their unit's only."""
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    with request.app.state.reader.connect() as conn:
        codes = list(conn.execute(select(db.units.c.code).where(user_scope(request).units())
                                  .order_by(db.units.c.code)).scalars())
    typed = {code: str(form.get(f"public_url:{code}", "") or "").strip() for code in codes}
    bad = []
    for code, url in typed.items():
        if url:
            try:
                settings.valid_public_url(url)
            except settings.BadPublicURL:
                bad.append(code)
    if bad:
        return _kiosks_page(request, user, 422, public_typed={"typed": typed, "bad": bad, "error": _(
            "Địa chỉ trang đánh giá phải bắt đầu bằng http:// hoặc https://, có tên máy, không có dấu cách, "
            "phần ?… hay #…, nhiều nhất {most} ký tự (đơn vị: {units}).",
            most=settings.PUBLIC_URL_MAX, units=", ".join(bad))})
    with request.app.state.write_lock, request.app.state.engine.begin() as conn:
        for code, url in typed.items():
            settings.set_public_base_url(conn, code, url or None)
    return RedirectResponse("/admin/kiosks?public_url=saved#phone-page", status_code=303)


@router.post("/admin/kiosks/enrol")
async def kiosk_enrol(request: Request):
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    kiosk_id, unit_code = form.get("kiosk_id", "").strip(), form.get("unit_code", "").strip()
    user_scope(request).check(unit_code, "enrol a kiosk in another unit")
    error, enrolled = None, None
    if not admin_ops.IDENT.match(kiosk_id):
        error = _("Mã ki-ốt chỉ gồm 1–64 chữ cái không dấu, chữ số, dấu chấm, gạch dưới hoặc gạch ngang.")
    else:
        try:
            # render() reads the database: never call it inside this write transaction
            with request.app.state.engine.begin() as conn:
                enrolled = admin_ops.enrol_kiosk(conn, kiosk_id, unit_code, require_unit=True)
        except admin_ops.Missing:
            error = _("Không có đơn vị mã {code}.", code=unit_code)
        except admin_ops.Exists:
            error = _("Ki-ốt {kiosk} đã được đăng ký. Hãy đặt mã khác.", kiosk=kiosk_id)
        except admin_ops.AdminError as exc:          # e.g. a unit code no kiosk config can carry
            error = str(exc)
    if error:
        # the form again, as typed, with the message (issue 10: a refused form loses nothing)
        return _kiosks_page(request, user, 422, error=error, typed={"kiosk_id": kiosk_id, "unit_code": unit_code})
    server_url = str(request.base_url).rstrip("/")
    response = render(request, "kiosk_enrolled.html", kiosk=enrolled, unit_code=unit_code,
                      server_url=server_url, open_alerts=open_alert_count(request))
    response.headers["Cache-Control"] = "no-store"      # the token is shown this once
    return response


@router.post("/admin/kiosks/{kiosk_id}/revoke")
async def kiosk_revoke(request: Request, kiosk_id: str):
    require_user(request, "admin")
    await checked_form(request)
    _ = tr(request)
    try:
        with request.app.state.engine.begin() as conn:
            if not user_scope(request).allows_kiosk(conn, kiosk_id):   # another unit's: not theirs to see
                raise admin_ops.AdminError(f"no kiosk {kiosk_id}")
            admin_ops.revoke_kiosk(conn, kiosk_id)
    except admin_ops.AdminError:
        return error_page(request, 404, _("Không có ki-ốt {kiosk}.", kiosk=kiosk_id), back="/admin/kiosks")
    return RedirectResponse(f"/admin/kiosks?revoked={kiosk_id}", status_code=303)


@router.post("/admin/kiosks/{kiosk_id}/bundle")
async def kiosk_bundle_download(request: Request, kiosk_id: str):
    """The kiosk's offline bundle (core/kiosk_bundle.py): a page with the passphrase, shown once, and the file.

    The file is in the page itself (a ``data:`` link with ``download``), so nothing is kept on the server and
    any of several server processes can answer. Making it gives the kiosk a new token, as the form says.
    """
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    desk_id = str(form.get("desk_id", "") or "").strip() or None
    server_url = str(form.get("server_url", "") or "").strip()
    error = None
    try:
        with request.app.state.engine.begin() as conn:     # render() reads: never inside this transaction
            if not user_scope(request).allows_kiosk(conn, kiosk_id):   # another unit's: not theirs to see
                raise admin_ops.Missing("kiosk", kiosk_id)
            made = kiosk_bundle.make_bundle(conn, kiosk_id, desk_id=desk_id, server_url=server_url,
                                            media_dir=request.app.state.options["media_dir"])
    except admin_ops.Missing as exc:
        if exc.what == "kiosk":
            return error_page(request, 404, _("Không có ki-ốt {kiosk}.", kiosk=kiosk_id), back="/admin/kiosks")
        error = _("Đơn vị của ki-ốt không có quầy {desk}.", desk=desk_id)
    except kiosk_bundle.Revoked:
        return error_page(request, 404, _("Không có ki-ốt {kiosk}.", kiosk=kiosk_id), back="/admin/kiosks")
    except kiosk_bundle.BadServerURL:
        error = _("Địa chỉ máy chủ phải bắt đầu bằng http:// hoặc https://, ví dụ https://hailong.xa-abc.gov.vn.")
    except admin_ops.AdminError:     # the unit has no desks, or has several and none was chosen
        error = _("Chưa làm được tệp cài đặt: đơn vị của ki-ốt chưa có quầy nào, hoặc cần chọn quầy.")
    if error:
        return _kiosks_page(request, user, 422, bundle_id=kiosk_id,
                            bundle_typed={"desk_id": desk_id or "", "server_url": server_url, "error": error})
    response = render(request, "kiosk_bundle.html", made=made, filename=f"{kiosk_id}.hlk",
                      data=base64.b64encode(made.data).decode("ascii"), open_alerts=open_alert_count(request))
    response.headers["Cache-Control"] = "no-store"      # the passphrase is shown this once
    return response
