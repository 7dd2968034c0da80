"""The office pages: roster (units, desks, officers, procedures), the Word
report's issuer, and letters to citizens. Same router, sessions and rules as
pages.py (imported by pages.install)."""
from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sync.server.core import db
from sync.server.core.settings import set_setting
from sync.server.reports import periods, report_docx
from sync.server.web.base import (
    _context,
    _issuer,
    _lang,
    _open_alerts,
    checked_form,
    render,
    require_user,
    router,
    translator,
)

# --- roster and report settings -----------------------------------------------------

#: kind -> (table, key column, [(field, Vietnamese label, required)])
ROSTER = {
    "units": (db.units, "code", [("code", "Mã đơn vị", True), ("name", "Tên đơn vị", True),
                                 ("address", "Địa chỉ", False)]),
    "desks": (db.desks, "id", [("id", "Mã quầy", True), ("unit_code", "Mã đơn vị", True),
                               ("name", "Tên quầy", True)]),
    "officers": (db.officers, "id", [("id", "Mã cán bộ", True), ("name", "Họ và tên", True),
                                     ("title", "Chức danh", False), ("desk_id", "Mã quầy", False)]),
    "procedures": (db.procedures, "code", [("code", "Mã thủ tục", True), ("name", "Tên thủ tục", True),
                                           ("letter", "Thư kèm theo", False)]),
}
ISSUER_FIELDS = [("parent", "Cơ quan chủ quản"), ("body", "Cơ quan ban hành"),
                 ("body_full", "Tên cơ quan (viết thường)"), ("place", "Địa danh"),
                 ("symbol", "Ký hiệu văn bản"), ("signer_on_behalf", "Thẩm quyền ký (TM., KT.)"),
                 ("signer_title", "Chức vụ người ký"), ("signer_name", "Họ tên người ký")]


@router.get("/admin/roster")
def roster_page(request: Request):
    user = require_user(request)
    with request.app.state.read_engine.connect() as conn:
        lists = {kind: conn.execute(select(t).order_by(t.c[key])).mappings().all()
                 for kind, (t, key, _f) in ROSTER.items()}
        issuer = _issuer(conn)
    return render(request, "roster.html", user=user, lists=lists, roster=ROSTER, issuer=issuer,
                  issuer_fields=ISSUER_FIELDS, open_alerts=_open_alerts(request),
                  saved=request.query_params.get("saved"), imported=_imported(request),
                  photo_saved=request.query_params.get("photo"))


def _imported(request: Request) -> dict[str, int] | None:
    """The counts a roster import redirected with (pages_manage.roster_import)."""
    q = request.query_params
    if q.get("imported") != "1":
        return None
    return {k: int(q[k]) if q.get(k, "").isdigit() else 0 for k in ("units", "desks", "officers", "procedures")}


@router.post("/admin/roster/{kind}")
async def roster_save(request: Request, kind: str):
    require_user(request, "admin")
    form = await checked_form(request)
    _ = translator(_lang(request))
    if kind not in ROSTER:
        return render(request, "error.html", status=404, message=_("Không có danh mục này."))
    table, key, fields = ROSTER[kind]
    values = {f: form.get(f, "").strip() or None for f, _label, _req in fields}
    missing = [label for f, label, req in fields if req and not values[f]]
    too_long = [label for f, label, _r in fields if values[f] and len(values[f]) > 200]
    if missing or too_long:
        return render(request, "error.html", status=422,
                      message=_("Thiếu hoặc quá dài: {fields}.", fields=", ".join(_(x) for x in missing + too_long)))
    error = None
    # render() reads the database: never call it inside this write transaction
    with request.app.state.engine.begin() as conn:
        if kind == "desks" and not conn.execute(select(db.units.c.code).where(
                db.units.c.code == values["unit_code"])).first():
            error = _("Không có đơn vị mã {code}.", code=values["unit_code"])
        elif kind == "officers" and values["desk_id"] and not conn.execute(select(db.desks.c.id).where(
                db.desks.c.id == values["desk_id"])).first():
            error = _("Không có quầy mã {code}.", code=values["desk_id"])
        elif conn.execute(select(table.c[key]).where(table.c[key] == values[key])).first():
            conn.execute(table.update().where(table.c[key] == values[key]).values(**values))
        else:
            conn.execute(table.insert().values(**values))
    if error:
        return render(request, "error.html", status=422, message=error)
    return RedirectResponse(f"/admin/roster?saved={kind}#{kind}", status_code=303)


@router.post("/admin/settings/report")
async def report_settings(request: Request):
    require_user(request, "admin")
    form = await checked_form(request)
    new = {f: form.get(f, "").strip()[:200] for f, _label in ISSUER_FIELDS}
    with request.app.state.engine.begin() as conn:
        set_setting(conn, "report_issuer", new)
    return RedirectResponse("/admin/roster?saved=report#report", status_code=303)


# --- letters --------------------------------------------------------------------------

LETTER_KINDS = {"cam_on": "Thư cảm ơn", "xin_loi_hen_lai": "Thư xin lỗi và hẹn lại"}
LETTER_FIELDS = [("name", "Họ tên công dân"), ("dossier", "Mã hồ sơ"), ("procedure", "Thủ tục"),
                 ("officer", "Cán bộ phụ trách"), ("new_date", "Ngày hẹn mới (dd/mm/yyyy)")]


@router.get("/admin/letters")
def letters_page(request: Request):
    user = require_user(request)
    _s, names, _sv = _context(request)
    return render(request, "letters.html", user=user, kinds=LETTER_KINDS, fields=LETTER_FIELDS, names=names,
                  open_alerts=_open_alerts(request))


@router.post("/admin/letters")
async def letter_download(request: Request):
    require_user(request)
    form = await checked_form(request)
    _ = translator(_lang(request))
    kind = form.get("kind", "")
    values = {f: form.get(f, "").strip()[:200] for f, _label in LETTER_FIELDS}
    error = None
    if kind not in LETTER_KINDS:
        error = _("Chọn loại thư.")
    elif kind == "xin_loi_hen_lai":
        try:
            values["new_date"] = datetime.strptime(values["new_date"], "%d/%m/%Y").strftime("%d/%m/%Y")
        except ValueError:
            error = _("Ngày hẹn mới phải có dạng ngày/tháng/năm, ví dụ 05/12/2026.")
    if error:
        return render(request, "error.html", status=422, message=error)
    with request.app.state.read_engine.connect() as conn:
        issuer = _issuer(conn)
    body = report_docx.letter(kind, values, issuer, periods.today_vn())
    name = f"thu-{kind.replace('_', '-')}-{values['dossier'] or 'ho-so'}.docx"
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in name)
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
