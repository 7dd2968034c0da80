"""The roster: units, desks, officers and procedures; a row at a time, a whole file, officer photos.

Every write is an operation of core/admin_ops.py (``save_roster_row``,
``import_roster`` as ``hailong admin import-roster`` runs it,
``set_officer_photo``) in one transaction; this module parses the form and
says what went wrong in the admin's language.
"""
from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select, true

from sync.protocol import LETTER_KINDS, PIN_DIGITS, nfc
from sync.server.core import admin_ops
from sync.server.web.base import (
    ISSUER_FIELDS,
    checked_form,
    checked_upload,
    error_page,
    open_alert_count,
    render,
    report_issuer,
    require_user,
    tr,
    user_scope,
)

router = APIRouter(include_in_schema=False)

#: Vietnamese labels of the roster lists' fields (what each list holds: admin_ops.ROSTER_LISTS)
LABELS = {
    "units": {"code": "Mã đơn vị", "name": "Tên đơn vị", "address": "Địa chỉ"},
    "desks": {"id": "Mã quầy", "unit_code": "Mã đơn vị", "name": "Tên quầy"},
    "officers": {"id": "Mã cán bộ", "name": "Họ và tên", "title": "Chức danh", "desk_id": "Mã quầy"},
    "procedures": {"code": "Mã thủ tục", "name": "Tên thủ tục", "letter": "Thư kèm theo"},
}
#: kind -> (table, key column, [(field, Vietnamese label, required)]), as the page shows them
ROSTER = {kind: (table, key, [(f, LABELS[kind][f], req) for f, req in fields])
          for kind, (table, key, fields) in admin_ops.ROSTER_LISTS.items()}

ROSTER_MAX_BYTES = 5 * 1024 * 1024
ROSTER_SUFFIXES = (".csv", ".xlsx", ".json")
PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_FORMATS = {"PNG": ".png", "JPEG": ".jpg"}


#: the fields chosen from a list (<select>), not typed: field -> the list it comes from
CHOICES = {"unit_code": "units", "desk_id": "desks", "letter": "letters"}


def _page(request: Request, user: dict, status: int = 200, errors: dict | None = None,
          typed: dict | None = None, bad: dict | None = None):
    """The roster page; after a refused form: ``errors`` (form -> message), ``typed`` (form -> the
    values typed, shown again), ``bad`` (form -> the fields named in the message)."""
    q = request.query_params
    scope = user_scope(request)
    mine = {"units": scope.units(), "desks": scope.desks(), "officers": scope.officers()}
    with request.app.state.reader.connect() as conn:
        lists = {kind: conn.execute(select(t).where(mine.get(kind, true())).order_by(t.c[key])).mappings().all()
                 for kind, (t, key, _f) in ROSTER.items()}
        issuer = report_issuer(conn)
    lang = request.session.get("lang", "vi")
    choices = {
        "units": [(u["code"], f"{u['name']} ({u['code']})") for u in lists["units"]],
        "desks": [(d["id"], f"{d['name']} ({d['id']})") for d in lists["desks"]],
        "letters": [(k, vi if lang == "vi" else en) for k, (vi, en) in LETTER_KINDS.items()],
    }
    shown = {"units": dict(choices["units"]), "desks": dict(choices["desks"]), "letters": dict(choices["letters"])}
    return render(request, "roster.html", status=status, user=user, lists=lists, roster=ROSTER, issuer=issuer,
                  issuer_fields=ISSUER_FIELDS, open_alerts=open_alert_count(request), choices=choices,
                  choice_of=CHOICES, shown=shown, pin_digits=PIN_DIGITS,
                  saved=q.get("saved"), imported=_imported(request), photo_saved=q.get("photo"),
                  pin_saved=q.get("pin"), left=q.get("left"), back=q.get("back"),
                  errors=errors or {}, typed=typed or {}, bad=bad or {})


@router.get("/admin/roster")
def roster_page(request: Request):
    user = require_user(request)
    return _page(request, user)


def _imported(request: Request) -> dict[str, int] | None:
    """The counts a roster import redirected with (roster_import)."""
    q = request.query_params
    if q.get("imported") != "1":
        return None
    return {k: int(q[k]) if q.get(k, "").isdigit() else 0 for k in ("units", "desks", "officers", "procedures")}


@router.post("/admin/roster/{kind}")
async def roster_save(request: Request, kind: str):
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    if kind not in ROSTER:
        return error_page(request, 404, _("Không có danh mục này."))
    labels = LABELS[kind]
    values = {f: form.get(f, "") for f in labels}
    error, fields = None, []
    try:
        # render() reads the database: never call it inside this write transaction
        with request.app.state.engine.begin() as conn:
            admin_ops.save_roster_row(conn, kind, values, scope=user_scope(request))
    except admin_ops.BadFields as exc:
        fields = exc.fields
        error = _("Thiếu hoặc quá dài: {fields}.", fields=", ".join(_(labels[f]) for f in exc.fields))
    except admin_ops.Missing as exc:
        field = {"unit": "unit_code", "desk": "desk_id", "letter": "letter"}[exc.what]
        fields = [field]
        said = {"unit": "{field}: không có đơn vị mã {code}.", "desk": "{field}: không có quầy mã {code}.",
                "letter": "{field}: không có loại thư {code}."}[exc.what]
        error = _(said, field=_(labels[field]), code=exc.code)
    if error:
        return _page(request, user, 422, errors={kind: error}, typed={kind: values}, bad={kind: fields})
    return RedirectResponse(f"/admin/roster?saved={kind}#{kind}", status_code=303)


# --- an officer's PIN, and an officer who left -------------------------------------------

def _own_officer(request: Request, conn, officer_id: str) -> None:
    """Another unit's officer is, to a commune's admin, no officer (NotFound: the page's 404)."""
    if not user_scope(request).allows_officer(conn, officer_id):
        raise admin_ops.NotFound(f"no officer {officer_id}")


@router.post("/admin/officers/{officer_id}/pin")
async def officer_pin(request: Request, officer_id: str):
    """Set or reset the officer's PIN (admin_ops.valid_pin's rule); the hash is never shown."""
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    pin = form.get("pin", "")
    try:
        with request.app.state.engine.begin() as conn:
            _own_officer(request, conn, officer_id)
            admin_ops.set_officer_pin(conn, officer_id, pin)
    except admin_ops.NotFound:
        return error_page(request, 404, _("Không có cán bộ mã {code}.", code=officer_id), back="/admin/roster#officers")
    except admin_ops.BadPin as exc:
        form_id = f"pin:{officer_id}"
        return _page(request, user, 422, errors={form_id: exc.say(_)}, typed={form_id: {"pin": pin}},
                     bad={form_id: ["pin"]})
    return RedirectResponse(f"/admin/roster?pin={officer_id}#officers", status_code=303)


@router.post("/admin/officers/{officer_id}/active")
async def officer_active(request: Request, officer_id: str):
    """Deactivate (``active=0``: an officer who left) or reactivate (``active=1``) an officer."""
    require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    active = form.get("active", "")
    if active not in ("0", "1"):
        return error_page(request, 422, _("Chọn cho nghỉ hoặc cho làm lại."), back="/admin/roster#officers")
    try:
        with request.app.state.engine.begin() as conn:
            _own_officer(request, conn, officer_id)
            admin_ops.set_officer_active(conn, officer_id, active == "1")
    except admin_ops.NotFound:
        return error_page(request, 404, _("Không có cán bộ mã {code}.", code=officer_id), back="/admin/roster#officers")
    what = "back" if active == "1" else "left"
    return RedirectResponse(f"/admin/roster?{what}={officer_id}#officers", status_code=303)


# --- roster file ------------------------------------------------------------------------

def _safe_name(filename: str | None) -> str:
    name = nfc(Path(filename or "").name)
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "-", stem).strip(".-")[:80] or "danh-muc"
    return stem + suffix


@router.post("/admin/import-roster")
async def roster_import(request: Request):
    require_user(request, "admin")
    _ = tr(request)
    back = "/admin/roster#import"
    too_big = _("Tệp lớn quá: tối đa {mb} MB.", mb=ROSTER_MAX_BYTES // (1024 * 1024))
    form, upload = await checked_upload(request, ROSTER_MAX_BYTES)
    if form is None:
        return error_page(request, 413, too_big, back=back)
    if upload is None or not upload.filename:
        return error_page(request, 422, _("Chọn một tệp danh mục."), back=back)
    name = _safe_name(upload.filename)
    if Path(name).suffix not in ROSTER_SUFFIXES:
        return error_page(request, 422, _("Tệp {name}: chỉ nhận tệp .csv, .xlsx hoặc .json.", name=name), back=back)
    data = await upload.read(ROSTER_MAX_BYTES + 1)
    if len(data) > ROSTER_MAX_BYTES:
        return error_page(request, 413, too_big, back=back)
    error, counts = None, None
    with tempfile.TemporaryDirectory(prefix="hailong-roster-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            # render() reads the database: never call it inside this write transaction
            with request.app.state.engine.begin() as conn:
                counts = admin_ops.import_roster(conn, path, request.app.state.options["media_dir"],
                                                 uploaded=True, scope=user_scope(request))
        except admin_ops.PhotosNotAllowed as exc:
            exc.params["name"] = name
            error = exc.say(_)
        except admin_ops.AdminError as exc:
            said = exc.say(_) if isinstance(exc, admin_ops.RosterError) else str(exc)
            detail = said.replace(str(path), name).replace(tmp + "/", "")
            error = _("Không nhập được tệp danh mục, chưa có gì thay đổi: {detail}", detail=detail)
    if error:
        return error_page(request, 422, error, back=back)
    query = "&".join(f"{k}={counts[k]}" for k in ("units", "desks", "officers", "procedures"))
    return RedirectResponse(f"/admin/roster?imported=1&{query}#import", status_code=303)


# --- officer photos ---------------------------------------------------------------------

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
    _ = tr(request)
    back = "/admin/roster#officers"
    too_big = _("Ảnh lớn quá: tối đa {mb} MB.", mb=PHOTO_MAX_BYTES // (1024 * 1024))
    form, upload = await checked_upload(request, PHOTO_MAX_BYTES)
    if form is None:
        return error_page(request, 413, too_big, back=back)
    if upload is None or not upload.filename:
        return error_page(request, 422, _("Chọn một tệp ảnh."), back=back)
    data = await upload.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        return error_page(request, 413, too_big, back=back)
    suffix = _image_suffix(data)
    if suffix is None:
        return error_page(request, 422, _("Tệp {name} không phải ảnh PNG hoặc JPEG đọc được.",
                                          name=_safe_name(upload.filename)), back=back)
    if not admin_ops.IDENT.match(officer_id):
        return error_page(request, 422, _("Mã cán bộ {code} có ký tự không dùng được trong tên tệp: hãy đổi mã cán bộ.",  # noqa: E501
                                          code=officer_id), back=back)
    try:
        # render() reads the database: never call it inside this write transaction
        with request.app.state.engine.begin() as conn:
            _own_officer(request, conn, officer_id)
            admin_ops.set_officer_photo(conn, officer_id, data, suffix, request.app.state.options["media_dir"])
    except admin_ops.NotFound:
        return error_page(request, 404, _("Không có cán bộ mã {code}.", code=officer_id), back=back)
    return RedirectResponse(f"/admin/roster?photo={officer_id}#officers", status_code=303)
