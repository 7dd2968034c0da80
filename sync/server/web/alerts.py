"""The alerts page: open and resolved alerts, acknowledging one, the thresholds.

The page only shows alerts: they are raised where their cause arrives
(ingest, the roll-up fold, the background task; see core/alerts.py). An
alert stands for every cause of one kind about one officer or kiosk in one
month: the page shows how many (``× 12``) and when they happened.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from sync.server.core import admin_ops, db
from sync.server.core import alerts as alert_rules
from sync.server.web.base import checked_form, error_page, local_time, render, require_user, tr

router = APIRouter(include_in_schema=False)


@router.get("/admin/alerts")
def alerts_page(request: Request, show: str = "open"):
    user = require_user(request)
    a = db.alerts
    with request.app.state.reader.connect() as conn:
        open_rows = conn.execute(select(a).where(a.c.resolved_at.is_(None)).order_by(a.c.id.desc())).mappings().all()
        done_rows = conn.execute(select(a).where(a.c.resolved_at.is_not(None))
                                 .order_by(a.c.resolved_at.desc()).limit(200)).mappings().all()
        rule = alert_rules.rules(conn)
    return render(request, "alerts.html", user=user, open_rows=open_rows, done_rows=done_rows, rule=rule,
                  kinds=alert_rules.KIND_LABELS, open_alerts=len(open_rows), fmt_time=local_time)


@router.post("/admin/alerts/{alert_id}/ack")
async def acknowledge(request: Request, alert_id: str):
    user = require_user(request, "admin")
    form = await checked_form(request)
    note = form.get("note", "").strip()[:1000]
    try:
        if not (alert_id.isascii() and alert_id.isdigit() and len(alert_id) <= 19):
            raise admin_ops.AdminError(f"no alert {alert_id}")      # -1, abc, 99999999999999999999
        with request.app.state.engine.begin() as conn:
            admin_ops.resolve_alert(conn, int(alert_id), user["username"], note or None)
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
    user = require_user(request, "admin")
    form = await checked_form(request)
    _ = tr(request)
    try:
        values = [form.get(f, "") for f in RULE_LABELS]
        with request.app.state.engine.begin() as conn:
            admin_ops.set_alert_rules(conn, *values)
    except admin_ops.BadField as exc:
        label, allowed = RULE_LABELS[exc.field]
        return error_page(request, 422, _("Ngưỡng không hợp lệ: «{field}» phải là {allowed}.",
                                          field=_(label), allowed=_(allowed)), user=user)
    return RedirectResponse("/admin/alerts", status_code=303)
