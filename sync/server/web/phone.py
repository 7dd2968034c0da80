"""The phone page (issue 15, DESIGN.md public interfaces): the receipt's QR in its URL form,
``<public base URL>/r/<payload>.<sig>``, opened on the citizen's own phone.

No sign-in, no account, no personal data, no script: a small page (its own CSS, system fonts) that a
cheap Android phone shows over a slow link. It names the unit, the procedure and the officer (with the
photo), asks the survey the desk's kiosk would ask today (the campaign running there, else the unit's
default: sync.protocol.survey_to_ask), and stores the answer as a rating with source ``phone`` in the
unit's ``WEB-`` chain (core/web_chain.py) through the kiosks' own storing path. A receipt rates once in
the town, phone or kiosk, whichever comes first: the phone refuses kindly, a kiosk's later rating is
flagged ``duplicate_receipt`` by ingest. Expired, forged and other towns' receipts get a page that says
so. Each address and each receipt is rate-limited (in memory, per process: this slows abuse down, the
once-per-receipt rule is what keeps a count honest).
"""
from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from sync import protocol
from sync.server.core import db, ingest, tlog_store, web_chain
from sync.server.core.clock import VN_TZ, utcnow
from sync.server.core.health import Unhealthy
from sync.server.core.settings import custom_surveys, default_survey_id, ended_early
from sync.server.core.storing import store_batch
from sync.server.web.base import Forbidden, checked_form, local_time, render, tr

router = APIRouter(include_in_schema=False)

#: what the citizen reads when a receipt does not rate (Refused.kind → title, text)
REFUSALS = {
    "malformed": ("Mã phiếu không đọc được", "Đường dẫn này không phải mã phiếu đánh giá đầy đủ. Ông/Bà vui "
                  "lòng quét lại mã QR trên phiếu."),
    "forged": ("Phiếu không hợp lệ", "Mã phiếu này không do bộ phận một cửa của đơn vị này cấp, hoặc đã bị "
               "sửa. Ông/Bà có thể đánh giá tại ki-ốt ở quầy."),
    "expired": ("Phiếu đã hết hạn đánh giá", "Phiếu này đã quá thời hạn đánh giá. Ông/Bà có thể góp ý tại "
                "ki-ốt ở quầy hoặc với bộ phận một cửa."),
    "future": ("Phiếu chưa dùng được", "Ngày giờ trên phiếu chưa tới. Ông/Bà vui lòng thử lại sau."),
    "other_unit": ("Phiếu của đơn vị khác", "Phiếu này do một đơn vị khác cấp. Ông/Bà vui lòng đánh giá "
                   "trên trang của đơn vị đã cấp phiếu."),
    "unknown_officer": ("Không tìm thấy cán bộ", "Cán bộ ghi trên phiếu không có trong danh sách của đơn vị. "
                        "Ông/Bà có thể đánh giá tại ki-ốt ở quầy."),
    "no_key": ("Trang đánh giá chưa sẵn sàng", "Đơn vị chưa bật đánh giá bằng phiếu. Ông/Bà có thể đánh giá "
               "tại ki-ốt ở quầy."),
    "busy": ("Hệ thống đang bận", "Đánh giá của Ông/Bà chưa được lưu. Ông/Bà vui lòng gửi lại sau ít phút."),
    "limited": ("Quá nhiều lần thử", "Ông/Bà đã thử quá nhiều lần. Vui lòng thử lại sau {minutes} phút."),
}
STATUS = {"malformed": 400, "forged": 403, "expired": 410, "future": 409, "other_unit": 404,
          "unknown_officer": 404, "no_key": 503, "busy": 503, "limited": 429}

#: (window in seconds, most requests in it): each address, pages and sends; each receipt, sends
LIMITS = {"ip_get": (600, 120), "ip_post": (600, 20), "receipt_post": (600, 6)}
COMMENT_MAX = protocol.COMMENT_MAX
#: what a comment may not hold (the record's rule): control characters but the line feed
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


class SlidingLimits:
    """Requests counted per (kind, key) in a sliding window; ``hit`` says how long to wait (0: go on)."""

    MAX_KEYS = 20_000   # memory bound under a flood of made-up receipts and addresses

    def __init__(self, limits: dict[str, tuple[float, int]] = LIMITS, clock=time.monotonic):
        self.limits, self.clock = limits, clock
        self._seen: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    def hit(self, kind: str, key: str) -> float:
        window, most = self.limits[kind]
        now = self.clock()
        with self._lock:
            if len(self._seen) > self.MAX_KEYS:
                self._seen.clear()
            times = self._seen.setdefault((kind, key), deque())
            while times and now - times[0] > window:
                times.popleft()
            if len(times) >= most:
                return window - (now - times[0])
            times.append(now)
            return 0.0


def _limits(request: Request) -> SlidingLimits:
    state = request.app.state
    if getattr(state, "phone_limits", None) is None:
        state.phone_limits = SlidingLimits()
    return state.phone_limits


def _ip(request: Request) -> str:
    return request.client.host if request.client else "?"


def _refused(request: Request, kind: str, **fmt):
    _ = tr(request)
    title, text = REFUSALS[kind]
    response = render(request, "phone.html", status=STATUS[kind], user=None, state="refused", kind=kind,
                      title=_(title), text=_(text, **fmt) if fmt else _(text))
    if kind == "limited":
        response.headers["Retry-After"] = str(int(fmt.get("minutes", 1)) * 60)
    response.headers["Cache-Control"] = "no-store"
    return response


def _survey(conn, receipt: web_chain.Receipt) -> tuple[dict, dict]:
    """(the survey to ask at the receipt's desk today, every known survey by id)."""
    known = {**custom_surveys(conn), **protocol.BUILTIN_SURVEYS}
    stopped = ended_early(conn)
    running = [d for sid, d in known.items() if sid not in stopped]
    today = utcnow().astimezone(VN_TZ).date()
    doc = protocol.survey_to_ask(running, default_survey_id(conn), receipt.fields["u"], receipt.fields["d"], today)
    return doc or protocol.BUILTIN_SURVEYS[protocol.DEFAULT_SURVEY_ID], known


def _levels(doc: dict, lang: str) -> list[tuple[int, str]]:
    """(level, label) highest first, in the reader's language."""
    labels = doc.get("labels") or {}
    return [(lv, (labels.get(str(lv)) or {}).get(lang) or (labels.get(str(lv)) or {}).get("vi") or str(lv))
            for lv in range(int(doc["scale"]), 0, -1)]


def _reasons(doc: dict, lang: str) -> list[tuple[str, str]]:
    out = []
    for r in doc.get("reasons") or ():
        code = r["code"] if isinstance(r, dict) else r
        vi, en = protocol.DEFAULT_REASONS.get(code, (code, code))
        label = (r.get(lang) or r.get("vi")) if isinstance(r, dict) else (en if lang == "en" else vi)
        out.append((code, label or code))
    return out


def _questions(doc: dict, lang: str) -> list[dict]:
    return [{"code": q["code"], "text": (q.get("text") or {}).get(lang) or (q.get("text") or {}).get("vi"),
             "levels": _levels(q, lang)} for q in doc.get("questions") or ()]


def _page(request: Request, token: str, receipt: web_chain.Receipt, doc: dict, status: int = 200,
          error: str | None = None, typed: dict | None = None):
    lang = request.session.get("lang", "vi")
    response = render(request, "phone.html", status=status, user=None, state="ask", token=token,
                      receipt=receipt, survey=doc, levels=_levels(doc, lang), reasons=_reasons(doc, lang),
                      questions=_questions(doc, lang), error=error, typed=typed or {},
                      title_of=lambda d: (d.get("title") or {}).get(lang) or (d.get("title") or {}).get("vi"),
                      comment_max=COMMENT_MAX)
    response.headers["Cache-Control"] = "no-store"
    return response


def _limited(request: Request, wait: float):
    """The page of a limit reached: how many minutes until the oldest counted request leaves the window."""
    return _refused(request, "limited", minutes=max(1, math.ceil(wait / 60)))


def _open(request: Request, token: str, just_now: bool = False):
    """(receipt, survey to ask, every known survey) of a receipt that rates now; otherwise the page that
    answers: the log's check of an already rated one (:func:`_done`), or the refusal that says why."""
    with request.app.state.reader.connect() as conn:
        try:
            receipt = web_chain.check_receipt(conn, token)
        except web_chain.Refused as exc:
            if exc.kind == "already_rated":
                return _done(request, token, just_now=just_now)
            return _refused(request, exc.kind)
        doc, known = _survey(conn, receipt)
    return receipt, doc, known


@router.get("/r/{token}")
def phone_page(request: Request, token: str):
    wait = _limits(request).hit("ip_get", _ip(request))
    if wait:
        return _limited(request, wait)
    opened = _open(request, token, just_now=request.query_params.get("sent") == "1")
    if not isinstance(opened, tuple):
        return opened
    receipt, doc, _known = opened
    return _page(request, token, receipt, doc)


def _done(request: Request, token: str, just_now: bool = False):
    """The receipt has rated: said kindly, never with the level (or whether it was on the phone), with
    the public log's check of its rating (:func:`log_check`)."""
    rid = _receipt_id_of(token)
    with request.app.state.reader.connect() as conn:
        check = log_check(conn, rid) if rid else None
    response = render(request, "phone.html", user=None, state="done", token=token, just_now=just_now,
                      check=check)
    response.headers["Cache-Control"] = "no-store"
    return response


def _receipt_id_of(code: str) -> str | None:
    """The receipt id of what a citizen holds: the QR's text or URL (its payload: no key needed, the
    id is a hash of it), or the id itself (16 hex digits); None when it is neither."""
    code = (code or "").strip()
    if re.fullmatch(r"[0-9a-fA-F]{16}", code.replace("-", "").replace(" ", "")):
        return code.replace("-", "").replace(" ", "").lower()
    rest = code[len(protocol.RECEIPT_PREFIX):] if code.startswith(protocol.RECEIPT_PREFIX) else code.rsplit("/r/", 1)[-1]
    payload = rest.split(".")[0]
    if 0 < len(payload) <= protocol.RECEIPT_PAYLOAD_MAX and re.fullmatch(r"[A-Za-z0-9_-]+", payload):
        return protocol.receipt_id(payload)
    return None


def log_check(conn, receipt_id: str) -> dict:
    """What the page shows of a receipt's place in the public log: {"state": "in_log", "size", "at",
    "note", "key", "proof" (JSON)} for the page's own check (static/log-check.js), or {"state":
    "pending"} (not yet in a signed checkpoint), or {"state": "none"} (no rating of this receipt)."""
    try:
        proof = tlog_store.receipt_proof(conn, receipt_id)
    except tlog_store.NotInLog as exc:
        return {"state": "pending" if exc.pending else "none"}
    return {"state": "in_log", "size": proof.tree_size, "at": local_time(proof.signed_at), "note": proof.note,
            "key": tlog_store.verifier_key(conn), "proof": json.dumps(proof.answer())}


@router.get("/log")
def public_log_page(request: Request, code: str = ""):
    """Anyone: a receipt's code in, whether its rating is in the public log out (never the level)."""
    wait = _limits(request).hit("ip_get", _ip(request))
    if wait:
        return _limited(request, wait)
    code = code[:protocol.RECEIPT_TOKEN_MAX]
    rid = _receipt_id_of(code) if code else None
    check = None
    if rid:
        with request.app.state.reader.connect() as conn:
            check = log_check(conn, rid)
    response = render(request, "phone.html", user=None, state="lookup", code=code, check=check,
                      unreadable=bool(code) and rid is None, status=200 if not code or rid else 422)
    response.headers["Cache-Control"] = "no-store"
    return response


def _choice(value: str | None, scale: int) -> int | None:
    try:
        level = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return level if level is not None and 1 <= level <= scale else None


@router.post("/r/{token}")
async def phone_rate(request: Request, token: str):
    ip = _ip(request)
    wait = _limits(request).hit("ip_post", ip)
    if wait:
        return _limited(request, wait)
    try:
        form = await checked_form(request)
    except Forbidden:
        _ = tr(request)
        return await run_in_threadpool(_refused_form, request, token, _("Trang đã mở quá lâu hoặc trình duyệt chặn cookie. Ông/Bà vui "
                                             "lòng mở lại đường dẫn trên phiếu rồi chọn lại."))
    return await run_in_threadpool(_rate, request, token, form)


def _rate(request: Request, token: str, form: dict):
    """The POST's work, on a worker thread (database reads and the write)."""
    _ = tr(request)
    opened = _open(request, token)
    if not isinstance(opened, tuple):
        return opened
    receipt, doc, known = opened
    wait = _limits(request).hit("receipt_post", receipt.receipt_id)
    if wait:
        return _limited(request, wait)
    if form.get("survey") != doc["id"]:   # the campaign changed while the page was open: ask again
        return _page(request, token, receipt, doc, status=409,
                     error=_("Câu hỏi vừa được cập nhật. Ông/Bà vui lòng chọn lại."))
    level = _choice(form.get("level"), int(doc["scale"]))
    if level is None:
        return _page(request, token, receipt, doc, status=422, typed=form,
                     error=_("Ông/Bà vui lòng chọn một mức đánh giá."))
    reasons = [code for code, _label in _reasons(doc, "vi") if form.get(f"reason_{code}") == "1"]   # survey order
    answers = {q["code"]: _choice(form.get(f"q_{q['code']}"), int(q["scale"])) for q in doc.get("questions") or ()}
    comment = _CONTROL.sub("", (form.get("comment") or "").replace("\r\n", "\n").replace("\r", "\n")).strip() or None
    if comment and len(comment) > COMMENT_MAX:
        return _page(request, token, receipt, doc, status=422, typed=form,
                     error=_("Góp ý dài quá {n} ký tự; Ông/Bà vui lòng rút gọn.", n=COMMENT_MAX))
    rating_id = web_chain.new_rating_id()
    app = request.app
    try:
        with app.state.write_lock:
            app.state.health.check()
            with app.state.engine.begin() as conn:
                web_chain.ensure_web_kiosk(conn, receipt.fields["u"])
                if web_chain.rated(conn, receipt.receipt_id):   # rated meanwhile (a kiosk, another tab)
                    return _done(request, token)
            store_batch(app.state.engine, app.state.health, web_chain.web_kiosk_id(receipt.fields["u"]), None,
                        rating_id, skew_threshold=app.state.options["skew_threshold"],
                        make_batch=lambda c: web_chain.phone_batch(c, receipt, doc, known, level, reasons,
                                                                   answers, comment, rating_id))
            # a checkpoint that holds this rating now (a batch signs at most once a second): the page the
            # citizen is sent to next shows its place in the public log, checked in the phone
            with app.state.engine.begin() as conn:
                tlog_store.sign_now(conn)
            app.state.health.check()
    except (Unhealthy, ingest.BatchError):
        return _refused(request, "busy")
    return RedirectResponse(f"/r/{token}?sent=1", status_code=303)


def _refused_form(request: Request, token: str, message: str):
    opened = _open(request, token)
    if not isinstance(opened, tuple):
        return opened
    receipt, doc, _known = opened
    return _page(request, token, receipt, doc, status=403, error=message)


@router.get("/r/{token}/photo")
def phone_photo(request: Request, token: str):
    """The officer's photo, for a receipt that rates (nobody else's; nothing for a refused one)."""
    wait = _limits(request).hit("ip_get", _ip(request))
    if wait:
        return _limited(request, wait)
    with request.app.state.reader.connect() as conn:
        try:
            receipt = web_chain.check_receipt(conn, token)
        except web_chain.Refused as exc:
            return _refused(request, "malformed" if exc.kind == "already_rated" else exc.kind)
        name = conn.execute(select(db.officers.c.photo).where(db.officers.c.id == receipt.officer["id"])).scalar()
    path = Path(request.app.state.options["media_dir"]) / name if name else None
    if path is None or not path.is_file():
        return _refused(request, "unknown_officer")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})
