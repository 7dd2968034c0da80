"""The admin's management actions on the pages: enrol and revoke kiosks, import a roster file.

Same router, sessions and rules as pages.py (imported by pages.install):
admin role for every POST, the session's CSRF token in every form, the work
done by admin_ops (the functions `hailong admin` runs) in one transaction.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from sync.server.core import admin_ops, db
from sync.server.web.base import (
    Forbidden,
    _lang,
    _open_alerts,
    checked_form,
    render,
    require_user,
    router,
    translator,
)

ROSTER_MAX_BYTES = 5 * 1024 * 1024
ROSTER_SUFFIXES = (".csv", ".xlsx", ".json")


# --- kiosks ---------------------------------------------------------------------------

@router.post("/admin/kiosks/enrol")
async def kiosk_enrol(request: Request):
    require_user(request, "admin")
    form = await checked_form(request)
    _ = translator(_lang(request))
    kiosk_id, unit_code = form.get("kiosk_id", "").strip(), form.get("unit_code", "").strip()
    error, enrolled = None, None
    if not admin_ops.IDENT.match(kiosk_id):
        error = _("Mã ki-ốt chỉ gồm 1–64 chữ cái không dấu, chữ số, dấu chấm, gạch dưới hoặc gạch ngang.")
    else:
        # render() reads the database: never call it inside this write transaction
        with request.app.state.engine.begin() as conn:
            if not conn.execute(select(db.units.c.code).where(db.units.c.code == unit_code)).first():
                error = _("Không có đơn vị mã {code}.", code=unit_code)
            elif conn.execute(select(db.kiosks.c.id).where(db.kiosks.c.id == kiosk_id)).first():
                error = _("Ki-ốt {kiosk} đã được đăng ký. Hãy đặt mã khác.", kiosk=kiosk_id)
            else:
                enrolled = admin_ops.enrol_kiosk(conn, kiosk_id, unit_code)
    if error:
        return render(request, "error.html", status=422, message=error, back="/admin/kiosks#enrol")
    server_url = str(request.base_url).rstrip("/")
    response = render(request, "kiosk_enrolled.html", kiosk=enrolled, unit_code=unit_code,
                      server_url=server_url, open_alerts=_open_alerts(request))
    response.headers["Cache-Control"] = "no-store"      # the token is shown this once
    return response


@router.post("/admin/kiosks/{kiosk_id}/revoke")
async def kiosk_revoke(request: Request, kiosk_id: str):
    require_user(request, "admin")
    await checked_form(request)
    _ = translator(_lang(request))
    try:
        with request.app.state.engine.begin() as conn:
            admin_ops.revoke_kiosk(conn, kiosk_id)
    except admin_ops.AdminError:
        return render(request, "error.html", status=404, message=_("Không có ki-ốt {kiosk}.", kiosk=kiosk_id),
                      back="/admin/kiosks")
    return RedirectResponse(f"/admin/kiosks?revoked={kiosk_id}", status_code=303)


# --- roster file ------------------------------------------------------------------------

async def _checked_upload(request: Request, limit: int):
    """(form, upload) of a multipart POST once its CSRF token matches the session's (else Forbidden)."""
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        length = 0
    if length > limit + 64 * 1024:
        return None, None                                  # too big: not even parsed
    form = await request.form(max_files=1, max_fields=10)
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
        raise Forbidden()
    upload = form.get("file")
    return form, (upload if hasattr(upload, "read") else None)


def _safe_name(filename: str | None) -> str:
    name = unicodedata.normalize("NFC", Path(filename or "").name)
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "-", stem).strip(".-")[:80] or "danh-muc"
    return stem + suffix


def _photos(conn) -> dict[str, tuple[str, str]]:
    o = db.officers.c
    return {r.id: (r.photo, r.photo_sha256) for r in conn.execute(
        select(o.id, o.photo, o.photo_sha256).where(o.photo.is_not(None)))}


def _keep_photos(conn, before: dict[str, tuple[str, str]]) -> None:
    """Give back the photos import_roster cleared: a file uploaded here names none (photos come one by one)."""
    o = db.officers.c
    for officer_id, (photo, digest) in before.items():
        conn.execute(db.officers.update().where(o.id == officer_id, o.photo.is_(None))
                     .values(photo=photo, photo_sha256=digest))


@router.post("/admin/import-roster")
async def roster_import(request: Request):
    require_user(request, "admin")
    _ = translator(_lang(request))
    too_big = _("Tệp lớn quá: tối đa {mb} MB.", mb=ROSTER_MAX_BYTES // (1024 * 1024))
    form, upload = await _checked_upload(request, ROSTER_MAX_BYTES)
    if form is None:
        return render(request, "error.html", status=413, message=too_big, back="/admin/roster#import")
    if upload is None or not upload.filename:
        return render(request, "error.html", status=422, message=_("Chọn một tệp danh mục."),
                      back="/admin/roster#import")
    name = _safe_name(upload.filename)
    if Path(name).suffix not in ROSTER_SUFFIXES:
        return render(request, "error.html", status=422,
                      message=_("Tệp {name}: chỉ nhận tệp .csv, .xlsx hoặc .json.", name=name),
                      back="/admin/roster#import")
    data = await upload.read(ROSTER_MAX_BYTES + 1)
    if len(data) > ROSTER_MAX_BYTES:
        return render(request, "error.html", status=413, message=too_big, back="/admin/roster#import")
    error, counts = None, None
    with tempfile.TemporaryDirectory(prefix="hailong-roster-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            rows = admin_ops.read_roster(path)
            if any(isinstance(o, dict) and o.get("photo") for o in rows.get("officers") or []):
                error = _("Tệp {name} có cột ảnh (photo), mà ảnh không gửi kèm được qua trang này: hãy bỏ cột ảnh, hoặc nhập bằng lệnh hailong admin import-roster trên máy chủ.",  # noqa: E501
                          name=name)
            else:
                # render() reads the database: never call it inside this write transaction
                with request.app.state.engine.begin() as conn:
                    photos = _photos(conn)
                    counts = admin_ops.import_roster(conn, path, request.app.state.options["media_dir"])
                    _keep_photos(conn, photos)
        except admin_ops.AdminError as exc:
            detail = str(exc).replace(str(path), name).replace(tmp + "/", "")
            error = _("Không nhập được tệp danh mục, chưa có gì thay đổi: {detail}", detail=detail)
    if error:
        return render(request, "error.html", status=422, message=error, back="/admin/roster#import")
    query = "&".join(f"{k}={counts[k]}" for k in ("units", "desks", "officers", "procedures"))
    return RedirectResponse(f"/admin/roster?imported=1&{query}#import", status_code=303)


# --- officer photos ---------------------------------------------------------------------

PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_FORMATS = {"PNG": ".png", "JPEG": ".jpg"}


def _image_suffix(data: bytes) -> str | None:
    """'.png' or '.jpg' when Pillow reads the bytes as a whole PNG or JPEG image, else None."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            if image.width * image.height > 40_000_000:      # a small file that unpacks huge
                return None
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()                                   # verify() misses a truncated JPEG
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return PHOTO_FORMATS.get(fmt)


@router.post("/admin/officers/{officer_id}/photo")
async def officer_photo(request: Request, officer_id: str):
    require_user(request, "admin")
    _ = translator(_lang(request))
    back = "/admin/roster#officers"
    too_big = _("Ảnh lớn quá: tối đa {mb} MB.", mb=PHOTO_MAX_BYTES // (1024 * 1024))
    form, upload = await _checked_upload(request, PHOTO_MAX_BYTES)
    if form is None:
        return render(request, "error.html", status=413, message=too_big, back=back)
    if upload is None or not upload.filename:
        return render(request, "error.html", status=422, message=_("Chọn một tệp ảnh."), back=back)
    data = await upload.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        return render(request, "error.html", status=413, message=too_big, back=back)
    suffix = _image_suffix(data)
    if suffix is None:
        return render(request, "error.html", status=422, back=back, message=_(
            "Tệp {name} không phải ảnh PNG hoặc JPEG đọc được.", name=_safe_name(upload.filename)))
    if not admin_ops.IDENT.match(officer_id):
        return render(request, "error.html", status=422, back=back, message=_(
            "Mã cán bộ {code} có ký tự không dùng được trong tên tệp: hãy đổi mã cán bộ.", code=officer_id))
    media = Path(request.app.state.options["media_dir"])
    media.mkdir(parents=True, exist_ok=True)
    name = f"{officer_id}{suffix}"               # the name import_roster gives a photo
    found = False
    with tempfile.NamedTemporaryFile(dir=media, prefix=".upload-", delete=False) as tmp:
        tmp.write(data)
    try:
        # render() reads the database: never call it inside this write transaction
        with request.app.state.engine.begin() as conn:
            old = conn.execute(select(db.officers.c.photo).where(db.officers.c.id == officer_id)).first()
            found = old is not None
            if found:
                conn.execute(db.officers.update().where(db.officers.c.id == officer_id).values(
                    photo=name, photo_sha256=hashlib.sha256(data).hexdigest()))
                os.replace(tmp.name, media / name)       # a failure here rolls the update back
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    if not found:
        return render(request, "error.html", status=404, back=back,
                      message=_("Không có cán bộ mã {code}.", code=officer_id))
    if old.photo and old.photo != name and "/" not in old.photo:
        (media / old.photo).unlink(missing_ok=True)     # e.g. the .jpg a new .png replaces
    return RedirectResponse(f"/admin/roster?photo={officer_id}#officers", status_code=303)
