"""The surveys pages (issue 12; docs/surveys.md): list, write, preview, results.

* ``/admin/surveys``: every survey (built-in, the default, campaigns running,
  planned, ended) with its days, where it runs and how many ratings answered
  it; which survey each desk asks today; the default chooser; "new from a
  template" (assets/surveys/).
* ``/admin/surveys/new?from=<template or survey>`` and ``/admin/surveys/{id}/edit``:
  a form without JavaScript. Rows of reasons and questions: a few blank ones,
  and "add a row" buttons that re-render with what was typed; every problem is
  shown beside its field (core/surveys.check → protocol.survey_problems). A
  survey that any rating answered never changes: its form saves a copy under a
  new id (``<id>-2``…).
* ``/admin/surveys/{id}/preview?lang=vi|en``: the kiosk's screens as HTML.
* ``/admin/surveys/{id}``: results for a period (the campaign's days, else this
  month) from reports/survey_results.py; ``/admin/surveys/{id}.json`` the document.

Viewers read; admins write (CSRF on every form). GETs read through
``app.state.reader``; a write is one transaction of core/surveys. Whatever is
typed or put in the query string, the answer is a page (422 naming the field),
never a 500.
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from functools import lru_cache
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from assets import LOCALE
from sync import protocol
from sync.server.core import db
from sync.server.core import surveys as rules
from sync.server.core.scope import EVERY_UNIT, Scope
from sync.server.core.settings import custom_surveys, default_survey_id
from sync.server.reports import periods
from sync.server.reports.stats import Filter
from sync.server.web.base import (
    checked_form,
    error_page,
    local_time,
    open_alert_count,
    render,
    require_user,
    session_lang,
    tr,
    translator,
    user_scope,
)

router = APIRouter(include_in_schema=False)

#: a survey's state on the pages (core/surveys.state)
STATES = {"default": "Mặc định", "survey": "Không dùng", "planned": "Sắp chạy", "running": "Đang chạy",
          "ended": "Đã kết thúc", "stopped": "Đã dừng sớm"}
#: the kiosk's words (kiosk/ui/screens), so the preview says what the citizen reads
KIOSK_HEADLINE = "Ông/Bà hài lòng với cán bộ này ở mức nào?"
BLANK_REASONS = 2
BLANK_QUESTIONS = 1
FIELD_MAX = 300


def _today() -> date:
    return periods.today_vn()


def _text(lang: str, pair, fallback: str = "") -> str:
    if isinstance(pair, dict):
        return str(pair.get(lang) or pair.get("vi") or fallback)
    return str(pair or fallback)


def _roster(conn, scope: Scope = EVERY_UNIT) -> tuple[list[dict], list[dict]]:
    units = [dict(r) for r in conn.execute(select(db.units.c.code, db.units.c.name).where(scope.units())
                                           .order_by(db.units.c.code))
             .mappings()]
    desks = [dict(r) for r in conn.execute(select(db.desks.c.id, db.desks.c.name, db.desks.c.unit_code)
                                           .where(scope.desks())
                                           .order_by(db.desks.c.unit_code, db.desks.c.id)).mappings()]
    return units, desks


# --- the list -----------------------------------------------------------------------------------------

@router.get("/admin/surveys")
def surveys_page(request: Request):
    user = require_user(request)
    today = _today()
    with request.app.state.reader.connect() as conn:
        items = rules.list_surveys(conn, today)
        scope = user_scope(request)
        asked = [a for a in rules.desks_today(conn, today) if scope.allows(a["unit"])]
        default_id = default_survey_id(conn)
        units, desks = _roster(conn, scope)
    titles = {s.id: s.doc.get("title") for s in items}
    return render(request, "surveys.html", user=user, items=items, asked=asked, default_id=default_id,
                  titles=titles, states=STATES, templates=[(n, rules.template(n)) for n in rules.template_names()],
                  unit_names={u["code"]: u["name"] for u in units}, desk_names={d["id"]: d["name"] for d in desks},
                  saved=request.query_params.get("saved", "")[:64], today=today.isoformat(),
                  text=lambda pair, fb="": _text(session_lang(request), pair, fb), local_time=local_time,
                  open_alerts=open_alert_count(request))


@router.post("/admin/surveys/default")
async def set_default(request: Request):
    user = require_user(request, "admin")
    user_scope(request).require_all("change the surveys of every unit")
    form = await checked_form(request)
    _ = tr(request)
    sid = form.get("survey", "")[:64]
    try:
        with request.app.state.engine.begin() as conn:
            rules.set_default(conn, sid)
    except rules.SurveyError as exc:
        return error_page(request, 422, exc.say(_), user=user)
    return RedirectResponse("/admin/surveys?" + urlencode({"saved": sid}), status_code=303)


@router.post("/admin/surveys/{sid}/end")
async def end_survey(request: Request, sid: str):
    user = require_user(request, "admin")
    user_scope(request).require_all("change the surveys of every unit")
    form = await checked_form(request)
    _ = tr(request)
    if not form.get("confirm"):
        return error_page(request, 422, _("Chưa kết thúc: hãy đánh dấu ô xác nhận rồi bấm lại."), user=user)
    try:
        with request.app.state.engine.begin() as conn:
            rules.end_now(conn, sid[:64], user["username"])
    except rules.SurveyError as exc:
        return error_page(request, 422, exc.say(_), user=user)
    return RedirectResponse(f"/admin/surveys/{quote(sid)}?ended=1", status_code=303)


# --- the form: a document <-> flat fields ----------------------------------------------------------

def _int(value, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _scale_of(value, default: int = 3) -> int:
    n = _int(value, default)
    return n if n is not None and 2 <= n <= protocol.LEVEL_MAX else default


def fields_of(doc: dict) -> dict:
    """The form's fields of a survey document (what the form shows)."""
    f: dict = {"id": doc.get("id", ""), "title_vi": _text("vi", doc.get("title")),
               "title_en": (doc.get("title") or {}).get("en", "") if isinstance(doc.get("title"), dict) else "",
               "by": doc.get("by", ""), "scale": str(doc.get("scale", 3))}
    scale = _scale_of(doc.get("scale"))
    labels = doc.get("labels") if isinstance(doc.get("labels"), dict) else {}
    for lv in range(1, scale + 1):
        pair = labels.get(str(lv)) if isinstance(labels.get(str(lv)), dict) else {}
        f[f"label_{lv}_vi"], f[f"label_{lv}_en"] = pair.get("vi", ""), pair.get("en", "")
        if lv in (doc.get("satisfied") or []):
            f[f"sat_{lv}"] = "1"
    reasons = [r for r in doc.get("reasons") or [] if isinstance(r, dict)]
    for i, r in enumerate(reasons):
        f[f"r{i}_code"], f[f"r{i}_vi"], f[f"r{i}_en"] = r.get("code", ""), r.get("vi", ""), r.get("en", "")
    f["nr"] = str(len(reasons) + BLANK_REASONS)
    questions = [q for q in doc.get("questions") or [] if isinstance(q, dict)]
    for i, q in enumerate(questions):
        f[f"q{i}_code"] = q.get("code", "")
        f[f"q{i}_vi"], f[f"q{i}_en"] = _text("vi", q.get("text")), (q.get("text") or {}).get("en", "") \
            if isinstance(q.get("text"), dict) else ""
        qs = _scale_of(q.get("scale"))
        f[f"q{i}_scale"] = str(qs)
        ql = q.get("labels") if isinstance(q.get("labels"), dict) else {}
        for lv in range(1, qs + 1):
            pair = ql.get(str(lv)) if isinstance(ql.get(str(lv)), dict) else {}
            f[f"q{i}_l{lv}_vi"], f[f"q{i}_l{lv}_en"] = pair.get("vi", ""), pair.get("en", "")
            if lv in (q.get("satisfied") or []):
                f[f"q{i}_s{lv}"] = "1"
    f["nq"] = str(len(questions) + BLANK_QUESTIONS)
    if protocol.is_campaign(doc):
        f["campaign"] = "1"
        f["from"], f["to"] = doc.get("from") or "", doc.get("to") or ""
        for u in doc.get("units") or []:
            f[f"unit_{u}"] = "1"
        for d in doc.get("desks") or []:
            f[f"desk_{d}"] = "1"
    return f


def _pair(form: dict, vi: str, en: str) -> dict:
    return {"vi": form.get(vi, "").strip(), "en": form.get(en, "").strip()}


def _labels(form: dict, scale: int, key) -> dict:
    return {str(lv): _pair(form, key(lv, "vi"), key(lv, "en")) for lv in range(scale, 0, -1)}


def doc_of(form: dict, units: list[dict], desks: list[dict]) -> tuple[dict, dict, dict]:
    """(document, path → form field, where) of the posted form: blank rows left out; ``where``
    maps the document's reason and question indexes back to the form's rows."""
    scale = _scale_of(form.get("scale"))
    doc: dict = {"id": form.get("id", "").strip(), "title": _pair(form, "title_vi", "title_en"),
                 "by": form.get("by", "").strip()}
    raw_scale = _int(form.get("scale"))
    doc["scale"] = raw_scale if raw_scale is not None else form.get("scale", "")
    doc["labels"] = _labels(form, scale, lambda lv, lang: f"label_{lv}_{lang}")
    doc["satisfied"] = [lv for lv in range(scale, 0, -1) if form.get(f"sat_{lv}")]
    fields = {"id": "id", "title.vi": "title_vi", "title.en": "title_en", "by": "by", "scale": "scale",
              "satisfied": "sat", "from": "from", "to": "to", "units": "units", "desks": "desks"}
    for lv in range(1, scale + 1):
        for lang in ("vi", "en"):
            fields[f"labels.{lv}.{lang}"] = f"label_{lv}_{lang}"
    reasons = []
    for i in range(min(_int(form.get("nr"), 0) or 0, protocol.SURVEY_REASONS_MAX + 5)):
        row = {"code": form.get(f"r{i}_code", "").strip(), "vi": form.get(f"r{i}_vi", "").strip(),
               "en": form.get(f"r{i}_en", "").strip()}
        if not any(row.values()):
            continue
        n = len(reasons)
        for k in row:
            fields[f"reasons[{n}].{k}"] = f"r{i}_{k}"
        fields[f"reasons[{n}]"] = f"r{i}_code"
        reasons.append(row)
    doc["reasons"] = reasons
    questions = []
    for i in range(min(_int(form.get("nq"), 0) or 0, protocol.SURVEY_QUESTIONS_MAX + 3)):
        qs = _scale_of(form.get(f"q{i}_scale"))
        labels = _labels(form, qs, lambda lv, lang, i=i: f"q{i}_l{lv}_{lang}")
        q = {"code": form.get(f"q{i}_code", "").strip(), "text": _pair(form, f"q{i}_vi", f"q{i}_en"),
             "scale": qs, "labels": labels, "satisfied": [lv for lv in range(qs, 0, -1) if form.get(f"q{i}_s{lv}")]}
        if not q["code"] and not any(q["text"].values()) and not any(
                p["vi"] or p["en"] for p in labels.values()) and not q["satisfied"]:
            continue
        n = len(questions)
        pre = f"questions[{n}]"
        fields.update({pre: f"q{i}_code", f"{pre}.code": f"q{i}_code", f"{pre}.text.vi": f"q{i}_vi",
                       f"{pre}.text.en": f"q{i}_en", f"{pre}.scale": f"q{i}_scale", f"{pre}.satisfied": f"q{i}_s"})
        for lv in range(1, qs + 1):
            for lang in ("vi", "en"):
                fields[f"{pre}.labels.{lv}.{lang}"] = f"q{i}_l{lv}_{lang}"
        questions.append(q)
    doc["questions"] = questions
    if form.get("campaign"):
        doc["from"], doc["to"] = form.get("from", "").strip(), form.get("to", "").strip()
        doc["units"] = [u["code"] for u in units if form.get(f"unit_{u['code']}")]
        doc["desks"] = [d["id"] for d in desks if form.get(f"desk_{d['id']}")]
    return doc, fields, {}


def _suggest_id(conn, source: str, doc: dict) -> str:
    """A new survey's id: a template's name and this month; a copy: ``<id>-2``…"""
    if source in rules.template_names():
        base = f"{doc.get('id') or source}-{_today():%Y-%m}"
        held = set(custom_surveys(conn)) | set(protocol.BUILTIN_SURVEYS)
        return base if base not in held else rules.next_id(conn, base)
    return rules.next_id(conn, source)


def _form_page(request: Request, user: dict, fields: dict, *, status: int = 200, errors: dict | None = None,
               source: str = "", replace: str = "", note: str = "", answered: int = 0):
    with request.app.state.reader.connect() as conn:
        units, desks = _roster(conn)
    scale = _scale_of(fields.get("scale"))
    nr = max(_int(fields.get("nr"), 0) or 0, 0)
    nq = max(_int(fields.get("nq"), 0) or 0, 0)
    nr = min(nr, protocol.SURVEY_REASONS_MAX + 5)
    nq = min(nq, protocol.SURVEY_QUESTIONS_MAX + 3)
    qscales = [_scale_of(fields.get(f"q{i}_scale")) for i in range(nq)]
    return render(request, "survey_form.html", status=status, user=user, f=fields, errors=errors or {},
                  scale=scale, nr=nr, nq=nq, qscales=qscales, units=units, desks=desks,
                  scales=list(range(2, protocol.LEVEL_MAX + 1)), source=source, replace=replace, note=note,
                  answered=answered, reasons_max=protocol.SURVEY_REASONS_MAX,
                  questions_max=protocol.SURVEY_QUESTIONS_MAX, field_max=FIELD_MAX,
                  error_count=len(errors or {}), open_alerts=open_alert_count(request))


def _rescaled(fields: dict, was, scale: int, key) -> None:
    """After the scale changed from ``was``: labels still the built-in words of the old scale (or
    blank) make way for the new scale's words; labels the admin wrote stay."""
    was = _int(was)
    if was is None or was == scale or not 2 <= was <= protocol.LEVEL_MAX:
        return
    builtin = {lv: (vi, en) for lv, vi, en, _s in protocol.SCALES.get(was, [])}
    untouched = all((fields.get(key(lv, "vi"), ""), fields.get(key(lv, "en"), "")) in (("", ""), builtin.get(lv))
                    for lv in range(1, was + 1))
    if untouched:
        for lv in range(1, max(was, scale) + 1):
            fields.pop(key(lv, "vi"), None), fields.pop(key(lv, "en"), None)


def _prefill_scale_words(fields: dict, scale: int, key) -> None:
    """Blank labels of a 3, 4 or 5-level scale take the built-in scale's words (the admin may change them)."""
    if scale not in protocol.SCALES:
        return
    for lv, vi, en, _sat in protocol.SCALES[scale]:
        if not fields.get(key(lv, "vi")) and not fields.get(key(lv, "en")):
            fields[key(lv, "vi")], fields[key(lv, "en")] = vi, en


@router.get("/admin/surveys/new")
def new_survey(request: Request):
    user = require_user(request, "admin")
    user_scope(request).require_all("change the surveys of every unit")
    _ = tr(request)
    source = request.query_params.get("from", "") or "hl3"
    source = source[:64]
    with request.app.state.reader.connect() as conn:
        doc = rules.template(source) or rules.find(conn, source)
        if doc is None:
            return error_page(request, 422, _("Không có mẫu hay khảo sát mã «{id}» để bắt đầu.", id=source[:40]),
                              user=user)
        doc = json.loads(json.dumps(doc))
        doc["id"] = _suggest_id(conn, source, doc)
    if source in rules.template_names() and not protocol.is_campaign(doc):
        today = _today()
        month_end = periods.containing("month", today).end_day - timedelta(days=1)
        doc["from"], doc["to"] = today.isoformat(), month_end.isoformat()
        doc["units"], doc["desks"] = [], []
        fields = fields_of(doc)
        if source == "hl3":      # the one-tap survey: a town default more often than a campaign
            for k in ("campaign", "from", "to"):
                fields.pop(k, None)
    else:
        fields = fields_of(doc)
    return _form_page(request, user, fields, source=source)


@router.get("/admin/surveys/{sid}/edit")
def edit_survey(request: Request, sid: str):
    user = require_user(request, "admin")
    user_scope(request).require_all("change the surveys of every unit")
    _ = tr(request)
    with request.app.state.reader.connect() as conn:
        doc = rules.find(conn, sid[:64])
        if doc is None:
            return _no_such_survey(request, sid, user)
        builtin = sid in protocol.BUILTIN_SURVEYS
        # the roll-up's count (fast at any size); ratings asked for one row when it says none yet
        n = rules.answered_counts(conn).get(sid, 0)
        if not n and not builtin and rules.is_answered(conn, sid):
            n = 1
        fields = fields_of(doc)
        if n or builtin:
            fields["id"] = rules.next_id(conn, sid)
    if n or builtin:
        if builtin:
            note = _("{id} là khảo sát có sẵn, không bao giờ thay đổi: lưu sẽ tạo khảo sát mới mã {new}.",
                     id=sid, new=fields["id"])
        else:
            note = _("Khảo sát {id} đã có {n} lượt trả lời nên không bao giờ thay đổi: lưu sẽ tạo khảo sát mới mã {new}.",
                     id=sid, n=n, new=fields["id"])
        return _form_page(request, user, fields, source=sid, note=note, answered=n)
    return _form_page(request, user, fields, source=sid, replace=sid,
                      note=_("Chưa có lượt trả lời nào: lưu sẽ thay khảo sát {id}.", id=sid))


def _why(_, why: str) -> str:
    return _(rules.WHY.get(why, why))


@router.post("/admin/surveys/new")
async def save_survey(request: Request):
    """Save the form, or re-render it with more rows or another scale (nothing typed is lost)."""
    user = require_user(request, "admin")
    user_scope(request).require_all("change the surveys of every unit")
    form = await checked_form(request)
    _ = tr(request)
    form = {k: v[:FIELD_MAX + 50] for k, v in form.items() if len(k) <= 80}
    source, replace = form.get("source", "")[:64], form.get("replace", "")[:64]
    action = form.get("action", "save")
    fields = dict(form)
    if action == "more_reasons":
        fields["nr"] = str(min((_int(form.get("nr"), 0) or 0) + 3, protocol.SURVEY_REASONS_MAX + 5))
    if action == "more_questions":
        n = _int(form.get("nq"), 0) or 0
        fields["nq"] = str(min(n + 1, protocol.SURVEY_QUESTIONS_MAX + 3))
        fields.setdefault(f"q{n}_scale", "3")
        _prefill_scale_words(fields, 3, lambda lv, lang, n=n: f"q{n}_l{lv}_{lang}")
    if action != "save":
        scale = _scale_of(fields.get("scale"))
        _rescaled(fields, form.get("scale_was"), scale, lambda lv, lang: f"label_{lv}_{lang}")
        _prefill_scale_words(fields, scale, lambda lv, lang: f"label_{lv}_{lang}")
        for i in range(min(_int(fields.get("nq"), 0) or 0, protocol.SURVEY_QUESTIONS_MAX + 3)):
            qs = _scale_of(fields.get(f"q{i}_scale"))
            _rescaled(fields, form.get(f"q{i}_scale_was"), qs, lambda lv, lang, i=i: f"q{i}_l{lv}_{lang}")
            if any(fields.get(f"q{i}_{k}") for k in ("code", "vi", "en")):
                _prefill_scale_words(fields, qs, lambda lv, lang, i=i: f"q{i}_l{lv}_{lang}")
        return _form_page(request, user, fields, source=source, replace=replace)
    with request.app.state.reader.connect() as conn:
        units, desks = _roster(conn)
    doc, paths, _where = doc_of(form, units, desks)
    problems = protocol.survey_problems(doc)
    errors: dict[str, str] = {}
    for path, why in problems:
        name = paths.get(path) or paths.get(path.split(".")[0]) or "survey"
        errors.setdefault(name, _why(_, why))
    if not errors:
        try:
            with request.app.state.engine.begin() as conn:
                if replace and replace != doc["id"]:
                    replace = ""
                based = source if source and source != doc["id"] else None
                rules.add(conn, doc, by=user["username"], based_on=based, replace=bool(replace))
        except rules.SurveyError as exc:
            errors["id"] = exc.say(_)
    if errors:
        return _form_page(request, user, fields, status=422, errors=errors, source=source, replace=replace)
    return RedirectResponse(f"/admin/surveys/{quote(doc['id'])}?saved=1", status_code=303)


def _no_such_survey(request: Request, sid: str, user: dict):
    """The 404 page of a survey id this server does not hold (the id shown cut to 40 characters)."""
    return error_page(request, 404, tr(request)("Không có khảo sát mã «{id}».", id=sid[:40]), user=user)


# --- one survey: its document, preview and results --------------------------------------------------

@router.get("/admin/surveys/{sid}.json")
def survey_json(request: Request, sid: str):
    user = require_user(request)
    with request.app.state.reader.connect() as conn:
        doc = rules.find(conn, sid[:64])
    if doc is None:
        return _no_such_survey(request, sid, user)
    body = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{doc["id"]}.json"'})


@router.get("/admin/surveys/{sid}/preview")
def survey_preview(request: Request, sid: str):
    user = require_user(request)
    _ = tr(request)
    with request.app.state.reader.connect() as conn:
        doc = rules.find(conn, sid[:64])
    if doc is None:
        return _no_such_survey(request, sid, user)
    lang = request.query_params.get("lang") or session_lang(request)
    lang = lang if lang in ("vi", "en") else "vi"
    k = kiosk_words(lang)     # the preview in the kiosk's language and words, the page around it in the admin's
    scale = doc["scale"]

    def levels(part: dict, n: int) -> list[dict]:
        labels = part.get("labels") if isinstance(part.get("labels"), dict) else {}
        sat = set(part.get("satisfied") or [])
        out = []
        for lv in range(n, 0, -1):
            words = labels.get(str(lv)) if isinstance(labels.get(str(lv)), dict) else None
            if words is None and n in protocol.SCALES:
                words = {"vi": protocol.SCALES[n][n - lv][1], "en": protocol.SCALES[n][n - lv][2]}
            out.append({"level": lv, "text": _text(lang, words, str(lv)), "satisfied": lv in sat})
        return out
    reasons = [{"code": r.get("code"), "text": _text(lang, r, r.get("code"))} if isinstance(r, dict) else
               {"code": r, "text": protocol.DEFAULT_REASONS.get(r, (r, r))[0 if lang == "vi" else 1]}
               for r in doc.get("reasons") or []]
    if sid in protocol.BUILTIN_SURVEYS:
        reasons = [{"code": c, "text": vi if lang == "vi" else en} for c, (vi, en) in protocol.DEFAULT_REASONS.items()]
    questions = [{"code": q.get("code"), "text": _text(lang, q.get("text"), q.get("code")),
                  "levels": levels(q, int(q.get("scale", 2)))}
                 for q in doc.get("questions") or [] if isinstance(q, dict)]
    return render(request, "survey_preview.html", user=user, doc=doc, sid=doc["id"], plang=lang, k=k,
                  title=_text(lang, doc.get("title"), doc["id"]), by=doc.get("by") or "",
                  headline=k(KIOSK_HEADLINE), levels=levels(doc, scale), questions=questions, reasons=reasons,
                  open_alerts=open_alert_count(request))


@lru_cache(maxsize=2)
def _kiosk_catalogue(lang: str) -> dict[str, str]:
    """The kiosk's own catalogue (hailong.po): the preview says what the touchscreen says."""
    po = LOCALE / lang / "LC_MESSAGES" / "hailong.po"
    if lang == "vi" or not po.exists():
        return {}
    from babel.messages.pofile import read_po
    with po.open("rb") as fh:
        cat = read_po(fh)
    return {protocol.nfc(m.id): protocol.nfc(m.string) for m in cat
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def kiosk_words(lang: str):
    """``k(text, **kw)``: the kiosk's words in ``lang`` (its catalogue, else the pages', else Vietnamese)."""
    cat, pages = _kiosk_catalogue(lang), translator(lang)

    def k(text: str, **kw) -> str:
        out = cat.get(text) or pages(text)
        return out.format(**kw) if kw else out
    return k


def _period(request: Request, doc: dict, info, _) -> tuple[periods.Period, str | None]:
    """The period asked in the query (``from``/``to`` or ``period``), else the campaign's days, else
    this month; a message when what was asked means nothing."""
    q = request.query_params
    note = None
    try:
        if q.get("from") and q.get("to"):
            return periods.parse(f"{q['from'][:10]}..{q['to'][:10]}"), None
        if q.get("period"):
            return periods.parse(q["period"][:40]), None
        if q.get("from") or q.get("to"):
            raise periods.PeriodError(_("cần cả ngày đầu và ngày cuối"))
    except periods.PeriodError as exc:
        note = _("Kỳ không hợp lệ: {why}. Đang xem kỳ mặc định.", why=str(exc)[:200])
    first, last = doc.get("from"), rules.last_day(doc, info.meta if info else None)
    if protocol.is_campaign(doc) and isinstance(first, str) and isinstance(last, str):
        try:
            return periods.parse(f"{first}..{max(first, last)}"), note
        except periods.PeriodError:
            pass
    return periods.containing("month", _today()), note


@router.get("/admin/surveys/{sid}")
def survey_page(request: Request, sid: str):
    user = require_user(request)
    _ = tr(request)
    sid = sid[:64]
    today = _today()
    with request.app.state.reader.connect() as conn:
        info = rules.info(conn, sid, today)
        units, desks = _roster(conn)
    if info is None:
        return _no_such_survey(request, sid, user)
    period, note = _period(request, info.doc, info, _)
    from sync.server.reports import survey_results
    flt = Filter(period, unit=user_scope(request).unit, survey=sid)     # a commune's user: their unit
    bad_period = note is not None
    try:
        questions = survey_results.question_results(request.app.state.reader, flt, info.doc)
        coverage = survey_results.campaign_coverage(request.app.state.reader, flt)
    except Exception:  # noqa: BLE001 - a figure that cannot be read never breaks the page
        questions, coverage = [], None
        note = (note + " " if note else "") + _("Chưa đọc được kết quả của khảo sát này.")
    lang = session_lang(request)
    decimal = "." if lang == "en" else ","

    def rate(value) -> str:
        return "—" if value is None else f"{value:.1f}".replace(".", decimal) + " %"
    last = period.end_day - timedelta(days=1)
    return render(request, "survey.html", status=422 if bad_period else 200, user=user,
                  s=info, doc=info.doc, states=STATES, period=period, first=period.first_day.isoformat(),
                  last=last.isoformat(), note=note, questions=questions, coverage=coverage, rate=rate,
                  text=lambda pair, fb="": _text(lang, pair, fb), lang=lang, local_time=local_time,
                  unit_names={u["code"]: u["name"] for u in units}, desk_names={d["id"]: d["name"] for d in desks},
                  saved=request.query_params.get("saved") == "1", ended=request.query_params.get("ended") == "1",
                  can_end=info.state in ("running", "planned") and not info.builtin,
                  open_alerts=open_alert_count(request))
