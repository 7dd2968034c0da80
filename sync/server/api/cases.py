"""Admin API: ``GET /api/v1/cases`` — the cases, their causes and logs, by id after a cursor.

The same bearer token as ``/api/v1/alerts`` (an admin's or a viewer's). Filters: ``status``
(open, in_progress, resolved, closed), ``kind``, ``officer``, ``overdue=1``; ``after`` (the last
id of the previous page) and ``limit``; ``next`` is the cursor of the next page, null at the end.
"""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from sync.server.api.auth import current_user
from sync.server.core import cases as case_rules
from sync.server.core.scope import Scope

router = APIRouter()

MAX_LIMIT = 500
FIELDS = ("id", "kind", "status", "officer_id", "kiosk_id", "unit_code", "month", "title", "owner", "opened_at",
          "opened_by", "due_date", "overdue", "found_cause", "outcome", "resolved_at", "closed_at", "closed_by",
          "reopened", "watch_month")


class CaseLink(BaseModel):
    alert_id: int | None = None
    rating_id: str | None = None
    linked_at: str


class CaseEvent(BaseModel):
    at: str
    by: str | None = None
    kind: str
    action: str | None = None
    text: str | None = None
    params: dict = {}


class Case(BaseModel):
    id: int
    kind: str
    status: str
    officer_id: str | None = None
    kiosk_id: str | None = None
    unit_code: str | None = None
    month: str | None = None
    title: str
    owner: str | None = None
    opened_at: str
    opened_by: str | None = None
    due_date: str
    overdue: bool
    found_cause: str | None = None
    outcome: str | None = None
    resolved_at: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None
    reopened: int
    watch_month: str | None = None
    links: list[CaseLink]
    events: list[CaseEvent]


class CasesPage(BaseModel):
    cases: list[Case]
    next: int | None = None


@router.get("/api/v1/cases", response_model=CasesPage, summary="Cases, by id after a cursor")
def list_cases(request: Request,
               status: Literal["open", "in_progress", "resolved", "closed"] | None = None,
               kind: Literal[case_rules.KINDS] | None = None,  # type: ignore[valid-type]
               officer: str | None = Query(None, max_length=200),
               overdue: bool = False,
               after: int = Query(0, ge=0, le=2 ** 53),
               limit: int = Query(100, ge=1, le=MAX_LIMIT),
               user: dict = Depends(current_user)):
    with request.app.state.reader.connect() as conn:
        _total, rows = case_rules.list_cases(conn, status=status, kind=kind, officer=officer, overdue=overdue,
                                             after=after, limit=limit + 1, order="id", scope=Scope.of(user))
        more = len(rows) > limit
        rows = rows[:limit]
        links, events = case_rules.links_and_events(conn, [r["id"] for r in rows])
    out = [{**{k: r[k] for k in FIELDS}, "links": links[r["id"]], "events": events[r["id"]]} for r in rows]
    return {"cases": out, "next": rows[-1]["id"] if more and rows else None}
