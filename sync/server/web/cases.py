"""The cases pages: the list (filters, overdue first), one case (its causes, owner, due date,
status, log, actions, close, reopen), and opening one by hand.

Every rule is core/cases.py's; this module reads the query string and the
forms, names what is wrong in the reader's language and renders. Admins
change cases, viewers read them. A refused form comes back as typed, with
the missing fields named (status 422); a bad id or an unknown case is a
404 page; a hostile query string is ignored field by field, with a note.

List filters (query string): ``status`` (open, in_progress, resolved,
closed, overdue, active; default active), ``kind``, ``officer``, ``owner``
(a username, or "-" for unassigned), ``month`` (YYYY-MM), ``page`` (25 a page).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from sync.server.core import alerts as alert_rules
from sync.server.core import cases as case_rules
from sync.server.core import db
from sync.server.core.scope import Scope
from sync.server.web.base import (
    checked_form,
    error_page,
    local_time,
    render,
    require_user,
    session_lang,
    tr,
    user_scope,
)

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
LIST_STATUSES = ("active", "overdue", *case_rules.STATUSES, "all")
STATUS_FILTER_LABELS = {"active": "Chưa đóng", "overdue": "Quá hạn", "all": "Tất cả",
                        **case_rules.STATUS_LABELS}
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_CODE = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


def _first(q: dict, name: str) -> str:
    values = q.get(name) or [""]
    return values[0].strip()


def read_filters(query: str, _) -> tuple[dict, list[str]]:
    """The list's filters from a query string, and a note for each value that was ignored."""
    notes = []
    try:
        q = parse_qs(query or "", keep_blank_values=True, max_num_fields=50) if len(query or "") <= 4000 else {}
    except ValueError:
        q = {}
    status = _first(q, "status") or "active"
    if status not in LIST_STATUSES:
        notes.append(_("Trạng thái «{value}» không có: đang xem các vụ việc chưa đóng.", value=status[:40]))
        status = "active"
    kind = _first(q, "kind") or None
    if kind and kind not in case_rules.KIND_LABELS:
        notes.append(_("Loại vụ việc «{value}» không có: đã bỏ lọc theo loại.", value=kind[:40]))
        kind = None
    out = {"status": status, "kind": kind}
    for name, label in (("officer", "cán bộ"), ("owner", "người xử lý")):
        value = _first(q, name) or None
        if value and not _CODE.match(value):
            notes.append(_("Mã {what} không hợp lệ: đã bỏ lọc này.", what=_(label)))
            value = None
        out[name] = value
    month = _first(q, "month") or None
    if month and not _MONTH.match(month):
        notes.append(_("Tháng «{value}» không hợp lệ (dùng dạng 2026-11): đã bỏ lọc theo tháng.", value=month[:40]))
        month = None
    out["month"] = month
    raw = _first(q, "page") or "1"
    out["page"] = 1
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) >= 1:
        out["page"] = int(raw)
    else:
        notes.append(_("Số trang «{value}» không hợp lệ: đang xem trang 1.", value=raw[:40]))
    return out, notes


def list_url(flt: dict, page: int | None = None, **change) -> str:
    flt = {**flt, **change}
    params = {k: flt[k] for k in ("kind", "officer", "owner", "month") if flt.get(k)}
    if flt.get("status", "active") != "active":
        params["status"] = flt["status"]
    if page and page > 1:
        params["page"] = page
    return "/admin/cases" + (f"?{urlencode(params)}" if params else "")


class Say:
    """How the pages word cases for one reader: labels, names, the causes' alerts."""

    def __init__(self, words: alert_rules.Words):
        self.w, self._ = words, words._

    def kind(self, kind: str) -> str:
        return self._(case_rules.KIND_LABELS.get(kind, kind))

    def status(self, status: str) -> str:
        return self._(case_rules.STATUS_LABELS.get(status, status))

    def action(self, action: str | None) -> str:
        return self._(case_rules.ACTION_LABELS.get(action, action or ""))

    def event(self, kind: str) -> str:
        return self._(case_rules.EVENT_LABELS.get(kind, kind))

    def about(self, case: dict) -> str:
        if case.get("officer_id"):
            return self.w.officer(case["officer_id"])
        if case.get("kiosk_id"):
            return self._("Ki-ốt {kiosk}", kiosk=self.w.kiosk(case["kiosk_id"]))
        return "—"

    def month(self, month: str | None) -> str:
        try:
            return self.w.month(month) if month else ""
        except ValueError:
            return month or ""

    def day(self, value: str | None) -> str:
        try:
            return self.w.day(value) if value else "—"
        except ValueError:
            return value or "—"

    def alert(self, link: dict) -> str:
        return (alert_rules.describe(link["alert_kind"], link.get("alert_params"), self.w)
                or link.get("alert_message") or "")

    def alert_kind(self, kind: str | None) -> str:
        return self._(alert_rules.KIND_LABELS.get(kind, kind or ""))


def _case_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) <= 12 and int(text) > 0 else None


def _users(conn, scope: Scope) -> list[str]:
    """Who a case may be given to: the unit's users and every-unit users (core/scope.py)."""
    return list(conn.execute(select(db.users.c.username).where(scope.users())
                             .order_by(db.users.c.username)).scalars())


# --- the list -----------------------------------------------------------------------------------

@router.get("/admin/cases")
def cases_page(request: Request):
    user = require_user(request)
    _ = tr(request)
    flt, notes = read_filters(request.url.query, _)
    status = None if flt["status"] == "all" else flt["status"]
    scope = user_scope(request)
    with request.app.state.reader.connect() as conn:
        words = alert_rules.Words.from_roster(conn, _, session_lang(request))
        args = dict(status=status, kind=flt["kind"], officer=flt["officer"], owner=flt["owner"], month=flt["month"],
                    scope=scope)
        total, rows = case_rules.list_cases(conn, **args, limit=PER_PAGE, offset=(flt["page"] - 1) * PER_PAGE)
        pages = max(1, -(-total // PER_PAGE))
        if flt["page"] > pages:
            notes.append(_("Chỉ có {n} trang: đang xem trang cuối.", n=pages))
            flt["page"] = pages
            total, rows = case_rules.list_cases(conn, **args, limit=PER_PAGE, offset=(pages - 1) * PER_PAGE)
        counts = case_rules.counts_by_status(conn, scope=scope)
        users = _users(conn, scope)
        officers = conn.execute(select(db.officers.c.id, db.officers.c.name).where(scope.officers())
                                .order_by(db.officers.c.name)).all()
    return render(request, "cases.html", user=user, rows=rows, total=total, pages=pages, flt=flt, notes=notes,
                  counts=counts, say=Say(words), users=users, officers=officers,
                  statuses=[(s, _(STATUS_FILTER_LABELS[s])) for s in LIST_STATUSES],
                  kinds=case_rules.KIND_LABELS, page_url=lambda n: list_url(flt, n),
                  status_url=lambda s: list_url(flt, None, status=s), fmt_time=local_time,
                  overdue_cases=counts["overdue"])


# --- opening one by hand -----------------------------------------------------------------------

def _new_form(request: Request, user: dict, typed: dict, error: str | None = None, bad=(), status: int = 200):
    _ = tr(request)
    scope = user_scope(request)
    with request.app.state.reader.connect() as conn:
        officers = conn.execute(select(db.officers.c.id, db.officers.c.name).where(scope.officers())
                                .order_by(db.officers.c.name)).all()
        kiosks = list(conn.execute(select(db.kiosks.c.id).where(scope.kiosks()).order_by(db.kiosks.c.id)).scalars())
        users = _users(conn, scope)
    return render(request, "case_new.html", status=status, user=user, typed=typed, error=error, bad=set(bad),
                  officers=officers, kiosks=kiosks, users=users)


@router.get("/admin/cases/new")
def new_case_page(request: Request):
    user = require_user(request, "admin")
    q = request.query_params
    typed = {k: str(q.get(k, ""))[:200] for k in ("officer", "kiosk")}
    return _new_form(request, user, typed)


@router.post("/admin/cases/new")
async def new_case(request: Request):
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    typed = {k: form.get(k, "")[:4000] for k in ("officer", "kiosk", "title", "owner", "text")}
    scope = user_scope(request)
    try:
        with request.app.state.engine.begin() as conn:
            _case_in_scope(conn, scope, typed)
            case_id = case_rules.open_case(conn, user["username"], typed["title"], officer_id=typed["officer"] or None,
                                           kiosk_id=typed["kiosk"] or None, owner=typed["owner"] or None,
                                           text=typed["text"])
    except case_rules.Refused as exc:
        return _new_form(request, user, typed, exc.say(_), exc.fields, 422)
    return RedirectResponse(f"/admin/cases/{case_id}?done=opened", status_code=303)


def _case_in_scope(conn, scope: Scope, typed: dict) -> None:
    """A commune's admin opens cases about their unit's officers and kiosks, for their unit's users."""
    if typed["officer"] and not scope.allows_officer(conn, typed["officer"]):
        scope.refuse(f"open a case about officer {typed['officer']} of another unit")
    if typed["kiosk"] and not scope.allows_kiosk(conn, typed["kiosk"]):
        scope.refuse(f"open a case about kiosk {typed['kiosk']} of another unit")
    _owner_in_scope(conn, scope, typed["owner"])


def _owner_in_scope(conn, scope: Scope, owner: str) -> None:
    """A case is given to the unit's users or every-unit users only (a commune's admin)."""
    if owner and owner not in _users(conn, scope):
        scope.refuse("give a case to a user of another unit")


# --- one case ----------------------------------------------------------------------------------

def case_view(request: Request, case_id: str, status: int = 200, error: str | None = None,
              typed: dict | None = None, bad=()):
    user = require_user(request)
    _ = tr(request)
    cid = _case_id(case_id)
    with request.app.state.reader.connect() as conn:
        scope = user_scope(request)
        case = case_rules.get_case(conn, cid, scope) if cid else None
        if case is None:     # another unit's case is, to a commune's user, no case
            return error_page(request, 404, _("Không có vụ việc số {n}.", n=case_id[:20]), user=user,
                              back="/admin/cases")
        words = alert_rules.Words.from_roster(conn, _, session_lang(request))
        users = _users(conn, scope)
        overdue = case_rules.count_overdue(conn, scope=scope)
    done = request.query_params.get("done")
    done = done if done in ("opened", "action", "closed", "reopened", "assigned", "status", "due") else None
    moves = case_rules.MOVES.get(case["status"], ())
    return render(request, "case.html", status=status, user=user, case=case, say=Say(words), users=users,
                  moves=moves, actions=case_rules.ACTION_LABELS, error=error, typed=typed or {}, bad=set(bad),
                  done=done, fmt_time=local_time, comment_chars=case_rules.COMMENT_CHARS,
                  on_time=case_rules.closed_on_time(case), overdue_cases=overdue)


@router.get("/admin/cases/{case_id}")
def case_page(request: Request, case_id: str):
    return case_view(request, case_id)


#: each form of the case page: the fields it sends and the core operation it calls
def _do(op: str, conn, cid: int, by: str, form: dict) -> None:
    if op == "action":
        case_rules.add_action(conn, cid, by, form.get("action", ""), form.get("text", ""))
    elif op == "close":
        case_rules.close_case(conn, cid, by, form.get("found_cause", ""), form.get("outcome", ""))
    elif op == "reopen":
        case_rules.reopen(conn, cid, by, form.get("text", ""))
    elif op == "assign":
        case_rules.assign(conn, cid, form.get("owner", ""), by)
    elif op == "status":
        case_rules.set_status(conn, cid, form.get("status", ""), by)
    elif op == "due":
        case_rules.set_due(conn, cid, form.get("due_date", ""), by)


DONE = {"action": "action", "close": "closed", "reopen": "reopened", "assign": "assigned", "status": "status",
        "due": "due"}


async def _post(request: Request, case_id: str, op: str):
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    cid = _case_id(case_id)
    if cid is None:
        return error_page(request, 404, _("Không có vụ việc số {n}.", n=case_id[:20]), user=user,
                          back="/admin/cases")
    typed = {k: v[:case_rules.TEXT_CHARS + 1] for k, v in form.items() if k != "csrf"}
    scope = user_scope(request)
    try:
        with request.app.state.engine.begin() as conn:
            if not case_rules.in_scope(conn, cid, scope):
                raise case_rules.Refused("Không có vụ việc này.", ("case",))
            if op == "assign":
                _owner_in_scope(conn, scope, form.get("owner", ""))
            _do(op, conn, cid, user["username"], form)
    except case_rules.Refused as exc:
        if "case" in exc.fields:
            return error_page(request, 404, _("Không có vụ việc số {n}.", n=cid), user=user, back="/admin/cases")
        return case_view(request, str(cid), 422, exc.say(_), {"form": op, **typed}, exc.fields)
    anchor = {"action": "#log", "close": "#close"}.get(op, "")
    return RedirectResponse(f"/admin/cases/{cid}?done={DONE[op]}{anchor}", status_code=303)


@router.post("/admin/cases/{case_id}/action")
async def post_action(request: Request, case_id: str):
    return await _post(request, case_id, "action")


@router.post("/admin/cases/{case_id}/close")
async def post_close(request: Request, case_id: str):
    return await _post(request, case_id, "close")


@router.post("/admin/cases/{case_id}/reopen")
async def post_reopen(request: Request, case_id: str):
    return await _post(request, case_id, "reopen")


@router.post("/admin/cases/{case_id}/assign")
async def post_assign(request: Request, case_id: str):
    return await _post(request, case_id, "assign")


@router.post("/admin/cases/{case_id}/status")
async def post_status(request: Request, case_id: str):
    return await _post(request, case_id, "status")


@router.post("/admin/cases/{case_id}/due")
async def post_due(request: Request, case_id: str):
    return await _post(request, case_id, "due")
