"""The alerts page: alerts grouped by cause, filtered and paged; acknowledging a group or several.

The page only shows alerts: they are raised where their cause arrives
(ingest, the roll-up fold, the background task; see core/alerts.py). One
row is a group: every alert of one kind about one officer or kiosk in one
local month, with how many causes it stands for (``× 12``) and when they
happened (first, last). Each is worded from its kind + params in the
reader's language, with the roster's names (core/alerts.describe); an alert
raised before params existed shows its stored message.

Filters (query string, each ignored with a message when it is not one):
``state`` open (default) | resolved | all, ``kind``, ``subject`` (an officer
or kiosk id), ``month`` (YYYY-MM), ``page`` (25 groups a page).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from sync.server.core import admin_ops
from sync.server.core import alerts as alert_rules
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
STATES = ("open", "resolved", "all")
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
#: kinds whose subject is an officer (the others are about a kiosk)
OFFICER_KINDS = frozenset({"nhung_nhieu", "low_rate", "unknown_officer"})
#: kinds whose group opens the officer's page for its month
OFFICER_PAGE_KINDS = frozenset({"nhung_nhieu", "low_rate"})


def _first(q: dict, name: str) -> str:
    values = q.get(name) or [""]
    return values[0].strip()


def read_filters(query: str, _) -> tuple[dict, list[str]]:
    """The page's filters from a query string, and a message for each value that was ignored."""
    notes = []
    try:
        q = parse_qs(query or "", keep_blank_values=True, max_num_fields=50) if len(query or "") <= 4000 else {}
    except ValueError:          # more fields than any link of the page has
        q = {}
    state = _first(q, "state") or "open"
    if state not in STATES:
        notes.append(_("Trạng thái «{value}» không có: đang xem các nhóm đang mở.", value=state[:40]))
        state = "open"
    kind = _first(q, "kind") or None
    if kind and kind not in alert_rules.KIND_LABELS:
        notes.append(_("Loại cảnh báo «{value}» không có: đã bỏ lọc theo loại.", value=kind[:40]))
        kind = None
    subject = _first(q, "subject") or None
    if subject and len(subject) > 200:
        notes.append(_("Mã cán bộ hoặc ki-ốt quá dài: đã bỏ lọc theo đối tượng."))
        subject = None
    month = _first(q, "month") or None
    if month and not _MONTH.match(month):
        notes.append(_("Tháng «{value}» không hợp lệ (dùng dạng 2026-11): đã bỏ lọc theo tháng.", value=month[:40]))
        month = None
    raw_page = _first(q, "page") or "1"
    page = 1
    if raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= 6 and int(raw_page) >= 1:
        page = int(raw_page)
    else:
        notes.append(_("Số trang «{value}» không hợp lệ: đang xem trang 1.", value=raw_page[:40]))
    return {"state": state, "kind": kind, "subject": subject, "month": month, "page": page}, notes


def filter_query(flt: dict, page: int | None = None) -> str:
    """The query string of the filters (defaults left out), with ``page`` when it is not 1."""
    params = {k: flt[k] for k in ("kind", "subject", "month") if flt.get(k)}
    if flt.get("state", "open") != "open":
        params["state"] = flt["state"]
    if page and page > 1:
        params["page"] = page
    return urlencode(params)


def alerts_url(flt: dict, page: int | None = None) -> str:
    qs = filter_query(flt, page)
    return "/admin/alerts" + (f"?{qs}" if qs else "")


class Reader:
    """What the template words alerts with: the roster's names in the reader's language."""

    def __init__(self, words: alert_rules.Words):
        self.w, self._ = words, words._

    def text(self, alert: dict) -> str:
        """The alert worded from kind + params; its stored message when it has no params."""
        return alert_rules.describe(alert["kind"], alert.get("params"), self.w) or alert.get("message") or ""

    def subject(self, kind: str, subject: str | None) -> str:
        if not subject:
            return "—"
        if kind in OFFICER_KINDS and subject in self.w.officers:
            desk = self.w.officer_desk(subject)
            return f"{self.w.officer(subject)} — {desk}" if desk else self.w.officer(subject)
        if kind == "unknown_officer":
            return self._("Mã cán bộ «{code}» (không có trong danh mục)", code=subject)
        if kind == "unknown_desk":
            return self._("Mã quầy «{code}» (không có trong danh mục)", code=subject)
        return self._("Ki-ốt {kiosk}", kiosk=self.w.kiosk(subject))

    def choice(self, subject: str, kind: str) -> str:
        """A subject as the filter lists it."""
        if subject in self.w.officers:
            return self.subject("nhung_nhieu", subject)
        return self.subject(kind, subject)

    def month(self, month: str | None) -> str:
        if not month:
            return ""
        try:
            return self.w.month(month)
        except ValueError:
            return month

    def officer_link(self, group: dict) -> str | None:
        if group["kind"] in OFFICER_PAGE_KINDS and group["subject"] in self.w.officers and group["month"]:
            return f"/admin/officers/{group['subject']}?" + urlencode({"period": group["month"]})
        return None


@router.get("/admin/alerts")
def alerts_page(request: Request):
    user = require_user(request)
    _ = tr(request)
    flt, notes = read_filters(request.url.query, _)
    scope = user_scope(request)
    query = {"kind": flt["kind"], "subject": flt["subject"], "month": flt["month"], "scope": scope}
    with request.app.state.reader.connect() as conn:
        words = alert_rules.Words.from_roster(conn, _, session_lang(request))
        total, groups = alert_rules.alert_groups(conn, flt["state"], page=flt["page"], per_page=PER_PAGE, **query)
        pages = max(1, -(-total // PER_PAGE))
        if flt["page"] > pages:
            notes.append(_("Chỉ có {n} trang: đang xem trang cuối.", n=pages))
            flt["page"] = pages
            total, groups = alert_rules.alert_groups(conn, flt["state"], page=pages, per_page=PER_PAGE, **query)
        alert_rules.group_members(conn, groups, flt["state"], scope=scope)
        recent = []
        if flt["state"] == "open":
            _n, recent = alert_rules.alert_groups(conn, "resolved", page=1, per_page=10, **query)
        shown = alert_rules.count_alerts(conn, flt["state"], **query)
        choices = alert_rules.filter_choices(conn, scope)
        open_count = alert_rules.count_alerts(conn, "open", scope=scope)
        rule = alert_rules.rules(conn)
    typed = getattr(request.state, "rules_typed", None)     # a refused thresholds form (save_rules), as typed
    if typed:
        rule = {**rule, **typed["values"]}
        notes.append(typed["error"])
    done = request.session.pop("alerts_done", None)
    return render(request, "alerts.html", user=user, groups=groups, recent=recent, total=total, pages=pages,
                  flt=flt, notes=notes, shown=shown, choices=choices, rule=rule, kinds=alert_rules.KIND_LABELS,
                  say=Reader(words), open_alerts=open_count, fmt_time=local_time, done=done,
                  page_url=lambda n: alerts_url(flt, n), back=filter_query(flt, flt["page"]))


def _back(form: dict, _) -> str:
    """Where a POST of the page returns: the page with its filters (re-read: nothing else passes)."""
    flt, _notes = read_filters(form.get("back", ""), _)
    return alerts_url(flt, flt["page"])


@router.post("/admin/alerts/ack")
async def acknowledge_groups(request: Request):
    """Acknowledge the chosen groups (checkboxes, or one row's button) with one note."""
    user = require_user(request, "admin")
    form = await checked_form(request)
    keys = [str(k) for k in (await request.form()).getlist("group")]
    note = form.get("note", "").strip()[:1000]
    _ = tr(request)
    back = _back(form, _)
    try:
        with request.app.state.engine.begin() as conn:
            closed = admin_ops.resolve_alert_groups(conn, keys, user["username"], note or None,
                                                    scope=user_scope(request))
    except admin_ops.AdminError:
        message = (_("Chưa chọn nhóm cảnh báo nào: đánh dấu ô ở đầu các dòng cần xác nhận.") if not keys else
                   _("Các cảnh báo này không còn mở (đã được xử lý hoặc không tồn tại)."))
        return error_page(request, 422 if not keys else 404, message, user=user, back=back)
    request.session["alerts_done"] = closed
    return RedirectResponse(back, status_code=303)


@router.post("/admin/alerts/{alert_id}/ack")
async def acknowledge(request: Request, alert_id: str):
    user = require_user(request, "admin")
    form = await checked_form(request)
    note = form.get("note", "").strip()[:1000]
    try:
        if not (alert_id.isascii() and alert_id.isdigit() and len(alert_id) <= 19):
            raise admin_ops.AdminError(f"no alert {alert_id}")      # -1, abc, 99999999999999999999
        with request.app.state.engine.begin() as conn:
            admin_ops.resolve_alert(conn, int(alert_id), user["username"], note or None, scope=user_scope(request))
    except admin_ops.AdminError:
        _ = tr(request)
        return error_page(request, 404, _("Cảnh báo này không còn mở (đã được xử lý hoặc không tồn tại)."),
                          user=user)
    return RedirectResponse("/admin/alerts", status_code=303)


#: The thresholds' fields as the form labels them (the message names the wrong one).
RULE_LABELS = {"officer_rate_below": ("Tỷ lệ hài lòng của cán bộ dưới (%)", "một tỷ lệ từ 0 đến 100"),
               "officer_min_ratings": ("khi có ít nhất (lượt hợp lệ trong tháng)", "một số nguyên từ 1 đến 100000"),
               "kiosk_silent_hours": ("Ki-ốt im lặng quá (giờ)", "một số giờ lớn hơn 0, tối đa 8760 (một năm)")}


@router.post("/admin/alerts/rules")
async def save_rules(request: Request):
    require_user(request, "admin")
    user_scope(request).require_all("change the alert thresholds of every unit")
    form = await checked_form(request)
    _ = tr(request)
    try:
        values = [form.get(f, "") for f in RULE_LABELS]
        with request.app.state.engine.begin() as conn:
            admin_ops.set_alert_rules(conn, *values)
    except admin_ops.BadField as exc:
        label, allowed = RULE_LABELS[exc.field]
        # the alerts page again, the form as typed and the message: nothing typed is lost (issue 10)
        request.state.rules_typed = {"values": {f: form.get(f, "") for f in RULE_LABELS}, "error": _(
            "Ngưỡng không hợp lệ: «{field}» phải là {allowed}.", field=_(label), allowed=_(allowed))}
        response = alerts_page(request)
        response.status_code = 422
        return response
    return RedirectResponse("/admin/alerts", status_code=303)
