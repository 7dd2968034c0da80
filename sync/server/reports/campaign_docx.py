"""A survey's own report as a Word file: "BÁO CÁO Kết quả khảo sát …", ND 30/2020 layout.

The campaign's report (issue 12) is issued by whoever ran the survey — the
survey's ``by`` ("Ủy ban MTTQ Việt Nam xã Đồng Tâm"), else the unit of the
report issuer settings — in the layout of the town's report (report_docx:
A4, Times New Roman 13, margins 20/20/30/15 mm, header of issuing body and
national motto, "Số: …/BC-…" left blank for the văn thư, place and date,
title, "Nơi nhận" and the signer's block):

I.   purpose and scope: the survey's title, who ran it, its days, where (units and
     desks), how, the questions asked with their scales;
II.  coverage: desks that answered, kiosks, ratings (total, valid, what was not
     counted and why), the first and the last rating;
III. results: the headline's satisfaction rate and each question's table (levels,
     counts, %, answered, skipped, rate), on time from the receipts' appointment
     dates per procedure, per officer, the reasons most named, a few comments
     (phone numbers and e-mail addresses masked: no personal data);
IV.  findings: generated sentences (the highest and lowest question, officers
     under the rate threshold of the alert rules, the on-time rate, the town's
     other ratings of the same days) and dotted lines for the recommendations
     (kiến nghị), written by hand.

Every figure comes from reports/survey_results.py (the one place of the survey
rules); this module only lays them out. Vietnamese is the source language;
``lang="en"`` words the document through the server's catalogue
(``hailong_server``), the issuer's names (settings, the survey's ``by``) as
they are written.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import date

from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.shared import Mm
from sqlalchemy import func, not_, select

from sync.cli_i18n import Translator
from sync.protocol import satisfaction_rate
from sync.server.core import db
from sync.server.core.alerts import rules as alert_rules
from sync.server.core.clock import local_text
from sync.server.core.settings import known_surveys
from sync.server.core.sql import misuse_expr
from sync.server.reports import survey_results
from sync.server.reports.periods import Period, data_until, today_vn
from sync.server.reports.report_docx import (
    Issuer,
    _grid,
    _header,
    _new_document,
    _page_numbers,
    _para,
    _short_rule,
    _sign_off,
    slug,
)
from sync.server.reports.stats import Filter, Stats

LANGUAGES = ("vi", "en")
#: comments shown in the report, newest first
COMMENTS_SHOWN = 5
#: reasons shown, most named first
REASONS_SHOWN = 8
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: what looks like personal data in a citizen's comment: a phone number, an e-mail address
_PHONE = re.compile(r"(?<!\w)\+?\d[\d .\-]{6,}\d(?!\w)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def mask_personal(text: str) -> str:
    """A comment with phone numbers and e-mail addresses replaced by "[…]"."""
    return _PHONE.sub("[…]", _EMAIL.sub("[…]", text))


@dataclass
class CampaignData:
    """Everything the campaign report shows (``gather`` reads it; tests may build one by hand)."""
    survey: dict
    period: Period
    lang: str
    #: survey_results.campaign_coverage: desks, kiosks, ratings, valid, first_at, last_at
    coverage: dict
    #: survey_results.SurveyFigures of this survey (None: no rating answered it in the period)
    figures: object | None
    #: survey_results.QuestionFigures, the headline ("level") first
    questions: list
    #: survey_results.TimelinessFigures per officer and per procedure
    officers: list
    procedures: list
    #: (label, count) of the reasons named, most first
    reasons: list[tuple[str, int]]
    comments: list[str]
    comment_total: int
    #: dim → code → name (units, desks, officers, procedures)
    names: dict[str, dict[str, str]]
    #: the town's other ratings of the same days: (valid, satisfied) or None when there are none
    others: tuple[int, int] | None = None
    threshold: float = 80.0
    min_ratings: int = 10


def default_period(survey_doc: dict, today: date | None = None) -> Period:
    """The days a campaign runs (``from``–``to``; to today when it has no end yet); this month for
    any other survey, or for a campaign whose days cannot be read."""
    from sync.server.reports import periods
    today = today or today_vn()
    start, end = survey_doc.get("from"), survey_doc.get("to")
    try:
        if isinstance(start, str) and start:
            first = date.fromisoformat(start)
            last = date.fromisoformat(end) if isinstance(end, str) and end else max(today, first)
            return periods.custom(first, last)
        if isinstance(end, str) and end:
            last = date.fromisoformat(end)
            return periods.custom(date(last.year, last.month, 1), last)
    except (ValueError, periods.PeriodError):
        pass
    return periods.containing("month", today)


def _names(conn) -> dict[str, dict[str, str]]:
    return {
        "unit": dict(conn.execute(select(db.units.c.code, db.units.c.name)).all()),
        "desk": dict(conn.execute(select(db.desks.c.id, db.desks.c.name)).all()),
        "officer": dict(conn.execute(select(db.officers.c.id, db.officers.c.name)).all()),
        "procedure": dict(conn.execute(select(db.procedures.c.code, db.procedures.c.name)).all()),
    }


def _text(value, lang: str) -> str:
    """A {vi, en} text of a survey in ``lang`` (the Vietnamese when the English is missing)."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("vi") or next((v for v in value.values() if v), ""))
    return "" if value is None else str(value)


def gather(reader, survey_doc: dict, period: Period, lang: str = "vi", unit: str | None = None) -> CampaignData:
    """The campaign report's figures: read (only) through ``reader``, the rules survey_results'.
    ``unit``: one unit's ratings only (a commune's user, core/scope.py)."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang: must be one of {', '.join(LANGUAGES)}")
    sid = survey_doc["id"]
    flt = Filter(period, unit=unit, survey=sid)
    with reader.connect() as conn:
        names = _names(conn)
        rule = alert_rules(conn)
        surveys = known_surveys(conn)
    coverage = survey_results.campaign_coverage(reader, flt)
    mine = next((s for s in survey_results.survey_breakdown(reader, flt) if s.survey_id == sid), None)
    questions = survey_results.question_results(reader, flt, survey_doc)
    officers = survey_results.timeliness(reader, flt, "officer")
    procedures = survey_results.timeliness(reader, flt, "procedure")
    reason_words = {}
    for r in survey_doc.get("reasons") if isinstance(survey_doc.get("reasons"), list) else []:
        if isinstance(r, dict) and isinstance(r.get("code"), str):
            reason_words[r["code"]] = (str(r.get("vi") or r["code"]), str(r.get("en") or r.get("vi") or r["code"]))
        elif isinstance(r, str):
            reason_words[r] = (r, r)
    stats = Stats(reader, db.ratings, "corrected_at", reasons=reason_words, surveys=surveys)
    counted = _reason_counts(reader, flt, reason_words) if reason_words else {}
    reasons = sorted(((reason_words[c][1 if lang == "en" else 0], n) for c, n in counted.items() if n),
                     key=lambda r: (-r[1], r[0]))[:REASONS_SHOWN]
    comments = [mask_personal(str(c["comment"])) for c in stats.comments(flt, COMMENTS_SHOWN) if not c["misuse"]]
    # the town's other ratings in the same days (and units, when the campaign names one)
    units = [unit] if unit else _codes(survey_doc.get("units"))
    around = Filter(period, unit=units[0] if len(units) == 1 else None)
    rest = [s for s in survey_results.survey_breakdown(reader, around) if s.survey_id != sid]
    others = (sum(s.valid for s in rest), sum(s.satisfied for s in rest)) if rest else None
    return CampaignData(
        survey=survey_doc, period=period, lang=lang, coverage=coverage, figures=mine, questions=questions,
        officers=officers, procedures=procedures, reasons=reasons, comments=comments,
        comment_total=stats.comment_count(flt), names=names, others=others,
        threshold=float(rule.get("officer_rate_below", 80.0)), min_ratings=int(rule.get("officer_min_ratings", 10)))


def _reason_counts(reader, flt: Filter, codes) -> dict[str, int]:
    """How many valid ratings of the filter named each of ``codes``: one GROUP BY of the reasons lists
    (a few distinct lists however many ratings), counted here; the survey's own codes, which the roll-up
    (the town's reasons only) may not hold."""
    r = db.ratings
    q = (select(r.c.reasons, func.count().label("n"))
         .where(flt.where(r, "corrected_at"), not_(misuse_expr(r))).group_by(r.c.reasons))
    out = dict.fromkeys(codes, 0)
    with reader.connect() as conn:
        for text, n in conn.execute(q):
            try:
                named = json.loads(text or "[]")
            except ValueError:
                continue
            for code in set(named) if isinstance(named, list) else ():
                if isinstance(code, str) and code in out:
                    out[code] += int(n)
    return out


# --- who issues it ------------------------------------------------------------------------------

#: where the name of a body breaks onto its second line in the header: before the place it serves
_PLACE_WORDS = re.compile(r" (?=(?:XÃ|PHƯỜNG|THỊ TRẤN|ĐẶC KHU|HUYỆN|QUẬN|THỊ XÃ|THÀNH PHỐ|TỈNH) )")


def two_lines(body: str, width: int = 24) -> str:
    """"ỦY BAN MTTQ VIỆT NAM XÃ ĐỒNG TÂM" → "ỦY BAN MTTQ VIỆT NAM\nXÃ ĐỒNG TÂM": the header's left column
    holds some 24 capitals a line; a longer name breaks before its place, as such headers are written."""
    if len(body) <= width or "\n" in body:
        return body
    cuts = [m.start() for m in _PLACE_WORDS.finditer(body)]
    return body[:cuts[0]] + "\n" + body[cuts[0] + 1:] if cuts else body


def campaign_issuer(issuer: Issuer, survey_doc: dict, _) -> Issuer:
    """The issuer of a survey's report: the survey's ``by`` when it names a body other than the unit
    (the Front's committee signs for its standing board), else the report issuer settings."""
    by = " ".join(str(survey_doc.get("by") or "").split())
    if not by or by.lower() in ("hailong", issuer.body.lower(), issuer.body_full.lower()):
        return issuer
    front = "MTTQ" in by.upper() or "MẶT TRẬN" in by.upper()
    return Issuer(
        parent="", body=two_lines(by.upper()), body_full=by, place=issuer.place,
        symbol="BC-MTTQ" if front else "BC",
        signer_on_behalf=_("TM. BAN THƯỜNG TRỰC") if front else _("TM. {body}", body=by.upper()),
        signer_title=_("CHỦ TỊCH"), signer_name="",
        recipients=[_("Thường trực Đảng ủy xã (để báo cáo);"),
                    _("Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh (để báo cáo);") if front else
                    _("Cơ quan cấp trên (để báo cáo);"),
                    _("{body} (để biết, chỉ đạo khắc phục);", body=issuer.body_full), _("Lưu: VT.")])


def file_name(data: CampaignData) -> str:
    return f"hailong-khao-sat-{slug(data.survey['id'])}-{data.period.key.replace('..', '_')}-bao-cao.docx"


# --- the document ---------------------------------------------------------------------------------

def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text else text


class _Words:
    """The document's language: ``_`` (the catalogue), numbers and dates written its way."""

    def __init__(self, lang: str):
        self.lang = lang
        self._ = Translator(lang, domain="hailong_server")

    def num(self, value: float | None) -> str:
        if value is None:
            return "–"
        text = f"{value:.1f}"
        return text if self.lang == "en" else text.replace(".", ",")

    def day(self, d: date) -> str:
        return d.strftime("%d/%m/%Y")

    def pct(self, part: int, whole: int) -> str:
        return self.num(part * 100.0 / whole if whole else None)


def _days(doc_: dict, w: _Words) -> str:
    _ = w._
    start, end = doc_.get("from"), doc_.get("to")

    def shown(text):
        try:
            return w.day(date.fromisoformat(text))
        except (TypeError, ValueError):
            return str(text)
    if start and end:
        return _("từ ngày {a} đến ngày {b}", a=shown(start), b=shown(end))
    if start:
        return _("từ ngày {a}", a=shown(start))
    if end:
        return _("đến ngày {b}", b=shown(end))
    return _("thường xuyên (không giới hạn thời gian)")


def _codes(value) -> list[str]:
    """A survey's ``units`` or ``desks``: the codes of a list (anything else: none, i.e. everywhere)."""
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _where(survey_doc: dict, data: CampaignData, w: _Words) -> str:
    _ = w._
    units = [data.names["unit"].get(u) or u for u in _codes(survey_doc.get("units"))]
    desks = [data.names["desk"].get(d) or d for d in _codes(survey_doc.get("desks"))]
    where = ", ".join(units) if units else _("mọi đơn vị")
    return where + "; " + (_("các quầy: {desks}", desks="; ".join(desks)) if desks else _("mọi quầy"))


def _title_line(survey_doc: dict, lang: str, _) -> str:
    title = _text(survey_doc.get("title"), lang) or survey_doc["id"]
    if lang == "vi" and title.lower().startswith("khảo sát"):
        return "Kết quả " + _lower_first(title)
    return _("Kết quả khảo sát «{title}»", title=title)


def _question_text(q, lang: str) -> str:
    return q.text(lang) or q.code


def _label(q, level: int, lang: str) -> str:
    return q.label(level, lang)


def campaign_report(reader, survey_doc: dict, period: Period, lang: str = "vi", issuer: Issuer | None = None,
                    on: date | None = None) -> bytes:
    """The survey's report for ``period`` as .docx bytes (``lang``: "vi" or "en")."""
    return render(gather(reader, survey_doc, period, lang), issuer, on)


def render(data: CampaignData, issuer: Issuer | None = None, on: date | None = None) -> bytes:
    """The report of ``data`` as .docx bytes."""
    w = _Words(data.lang)
    _ = w._
    lang = data.lang
    on = on or today_vn()
    sv = data.survey
    issuer = campaign_issuer(issuer or Issuer(), sv, _)
    title = _text(sv.get("title"), lang) or sv["id"]
    by = " ".join(str(sv.get("by") or "").split())
    by = issuer.body_full if not by or by.lower() == "hailong" else by
    p = data.period
    span = _("từ ngày {a} đến ngày {b}", a=w.day(p.first_day), b=w.day(p.last_day))
    until = data_until(p, on)

    doc = _new_document()
    _page_numbers(doc, _)
    _header(doc, issuer, _("Số:") + f"        /{issuer.symbol}", on, _)
    _para(doc, _("BÁO CÁO"), size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=18, after=0)
    _para(doc, _title_line(sv, lang, _), size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _para(doc, span, size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _short_rule(doc, indent_twips=3100)
    if until:
        _para(doc, _("Số liệu đến ngày {d} (đợt khảo sát chưa kết thúc).", d=w.day(until)), italic=True,
              align=WD_ALIGN_PARAGRAPH.CENTER, before=4)
    _para(doc, _("Thực hiện kế hoạch khảo sát «{title}», {by} báo cáo kết quả khảo sát {span} như sau:",
                 title=title, by=by, span=span), indent_first=True, before=6)

    # I. purpose and scope
    _para(doc, _("I. MỤC ĐÍCH, PHẠM VI KHẢO SÁT"), bold=True, keep_next=True, before=6)
    _para(doc, _("1. Mục đích: lắng nghe ý kiến của người dân, tổ chức về chất lượng tiếp nhận, giải quyết thủ "
                 "tục hành chính và thái độ phục vụ của cán bộ, công chức tại Bộ phận Một cửa; làm căn cứ "
                 "chấn chỉnh, nâng cao chất lượng phục vụ."), indent_first=True)
    _para(doc, _("2. Đơn vị thực hiện: {by}.", by=by), indent_first=True)
    _para(doc, _("3. Thời gian khảo sát: {days}.", days=_days(sv, w)), indent_first=True)
    _para(doc, _("4. Địa điểm: {where}.", where=_where(sv, data, w)), indent_first=True)
    _para(doc, _("5. Hình thức: người dân tự đánh giá trên màn hình cảm ứng (ki-ốt) tại quầy hoặc bằng điện "
                 "thoại qua mã QR trên phiếu hẹn, sau khi được giải quyết thủ tục; không phải cung cấp thông "
                 "tin cá nhân."), indent_first=True)
    _para(doc, _("6. Nội dung khảo sát:"), indent_first=True, keep_next=True)
    rows = []
    for i, q in enumerate(data.questions, 1):
        sat = ", ".join(_label(q, lv, lang) for lv in q.satisfied_levels)
        rows.append([str(i), _question_text(q, lang), _("{n} mức", n=q.scale), sat or "–"])
    _grid(doc, [_("TT"), _("Câu hỏi"), _("Thang đo"), _("Mức được tính là hài lòng")], rows, [12, 88, 22, 43])

    # II. coverage
    c = data.coverage or {}
    f = data.figures
    total = int(getattr(f, "total", None) or c.get("ratings") or 0)
    valid = int(getattr(f, "valid", None) or c.get("valid") or 0)
    uncounted = total - valid
    _para(doc, _("II. KẾT QUẢ TRIỂN KHAI"), bold=True, keep_next=True, before=6)
    desks = [data.names["desk"].get(d) or d for d in c.get("desks") or []]
    kiosks = c.get("kiosks")
    n_kiosks = kiosks if isinstance(kiosks, int) else len(kiosks or ())
    if not total:
        _para(doc, _("Chưa có lượt đánh giá nào trong kỳ báo cáo."), indent_first=True)
    else:
        _para(doc, _("Số quầy có người dân đánh giá: {n} ({desks}); số ki-ốt ghi nhận: {k}.",
                     n=len(desks), desks="; ".join(desks), k=n_kiosks), indent_first=True)
        _para(doc, _("Tổng số lượt đánh giá: {total}; trong đó {bad} lượt không tính vào kết quả (bấm lặp "
                     "liên tục, nghi lạm dụng; hoặc phiếu hẹn đã được đánh giá trước đó), được lưu lại để kiểm "
                     "tra; số lượt đánh giá hợp lệ: {valid}.", total=total, bad=uncounted, valid=valid),
              indent_first=True)
        _para(doc, _("Lượt đánh giá đầu tiên: {first}; lượt đánh giá cuối cùng: {last}.",
                     first=local_text(c.get("first_at")), last=local_text(c.get("last_at"))), indent_first=True)

    # III. results
    roman = iter(["1", "2", "3", "4", "5", "6", "7"])
    _para(doc, _("III. KẾT QUẢ KHẢO SÁT"), bold=True, keep_next=True, before=6)
    head = data.questions[0] if data.questions else None
    extra = data.questions[1:]
    if head is not None:
        _para(doc, _("{n}. Mức độ hài lòng chung ({q})", n=next(roman), q=_question_text(head, lang)), bold=True,
              keep_next=True)
        rate = getattr(f, "rate", None) if f is not None else head.rate
        sat = getattr(f, "satisfied", head.satisfied) if f is not None else head.satisfied
        _para(doc, _("Số lượt hài lòng: {s}/{v} lượt hợp lệ. Tỷ lệ hài lòng: {rate}% (số lượt hài lòng chia "
                     "cho số lượt đánh giá hợp lệ).", s=sat, v=valid, rate=w.num(rate)), indent_first=True)
        _levels_table(doc, head, w)
    if extra:
        n = next(roman)
        _para(doc, _("{n}. Kết quả từng câu hỏi", n=n), bold=True, keep_next=True)
        for i, q in enumerate(extra, 1):
            _para(doc, f"{n}.{i}. {_question_text(q, lang)}", italic=True, keep_next=True, indent_first=True)
            said = (_("Số lượt trả lời: {a}; bỏ qua: {s}; tỷ lệ hài lòng: {rate}%.", a=q.answered, s=q.skipped,
                      rate=w.num(q.rate)) if q.satisfied_levels else
                    _("Số lượt trả lời: {a}; bỏ qua: {s} (câu hỏi về sự việc, không tính tỷ lệ hài lòng).",
                      a=q.answered, s=q.skipped))
            _para(doc, said, indent_first=True, keep_next=True, after=2)
            _levels_table(doc, q, w)
    on_time = int(getattr(f, "on_time", 0) or 0) if f is not None else 0
    late = int(getattr(f, "late", 0) or 0) if f is not None else 0
    if on_time + late:
        _para(doc, _("{n}. Giải quyết hồ sơ đúng hẹn", n=next(roman)), bold=True, keep_next=True)
        _para(doc, _("Trong {all} lượt đánh giá từ phiếu hẹn có ghi ngày hẹn trả kết quả: {ok} lượt đánh giá "
                     "đúng hoặc trước ngày hẹn, {late} lượt sau ngày hẹn; tỷ lệ đúng hẹn: {rate}%.",
                     all=on_time + late, ok=on_time, late=late,
                     rate=w.num(getattr(f, "on_time_rate", None))), indent_first=True, keep_next=True)
        rows = [[str(i), _name(data, "procedure", t.key, t.name, _), str(t.on_time), str(t.late),
                 w.num(t.on_time_rate), str(t.valid), w.num(t.rate)]
                for i, t in enumerate([t for t in data.procedures if t.on_time + t.late], 1)]
        _grid(doc, [_("TT"), _("Thủ tục"), _("Đúng hẹn"), _("Trễ hẹn"), _("Tỷ lệ đúng hẹn (%)"),
                    _("Số lượt hợp lệ"), _("Tỷ lệ hài lòng (%)")], rows, [10, 47, 17, 16, 22, 20, 33])
    if data.officers:
        _para(doc, _("{n}. Kết quả theo cán bộ, công chức", n=next(roman)), bold=True, keep_next=True)
        rows = [[str(i), _name(data, "officer", t.key, t.name, _), str(t.valid), w.num(t.rate),
                 w.num(t.on_time_rate) if t.on_time + t.late else "–"]
                for i, t in enumerate(sorted(data.officers, key=_best_first), 1)]
        _grid(doc, [_("TT"), _("Cán bộ, công chức"), _("Số lượt hợp lệ"), _("Tỷ lệ hài lòng (%)"),
                    _("Tỷ lệ đúng hẹn (%)")], rows, [12, 70, 27, 28, 28])
    if data.reasons:
        _para(doc, _("{n}. Những điều người dân nêu nhiều nhất", n=next(roman)), bold=True, keep_next=True)
        rows = [[str(i), label, str(n_), w.pct(n_, valid)] for i, (label, n_) in enumerate(data.reasons, 1)]
        _grid(doc, [_("TT"), _("Nội dung"), _("Số lượt"), _("Tỷ lệ trên số lượt hợp lệ (%)")], rows, [12, 83, 30, 40])
    if data.comments:
        _para(doc, _("{n}. Ý kiến của người dân ({shown} ý kiến mới nhất trong tổng số {total})", n=next(roman),
                     shown=len(data.comments), total=max(data.comment_total, len(data.comments))),
              bold=True, keep_next=True)
        for text in data.comments:
            _para(doc, f"- {text}", indent_first=True, after=2)
        _para(doc, _("(Số điện thoại, địa chỉ thư điện tử trong ý kiến đã được che: báo cáo không chứa thông tin "
                     "cá nhân.)"), size=12, italic=True, indent_first=True)

    # IV. findings
    _para(doc, _("IV. NHẬN XÉT, ĐÁNH GIÁ"), bold=True, keep_next=True, before=6)
    _para(doc, _("1. Nhận xét"), bold=True, keep_next=True)
    for sentence in findings(data, w):
        _para(doc, f"- {sentence}", indent_first=True, after=2)
    _para(doc, _("2. Kiến nghị, đề xuất"), bold=True, keep_next=True, before=6)
    for _line in range(4):
        _dotted_line(doc)
    _para(doc, _("Trên đây là báo cáo kết quả khảo sát «{title}» của {by}./.", title=title, by=by),
          indent_first=True, before=6, after=12)
    _sign_off(doc, issuer, issuer.recipients, _)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _dotted_line(doc) -> None:
    """A line of dots across the text width (a tab with a dot leader: whole in Word and LibreOffice alike),
    for the recommendations written by hand."""
    p = _para(doc, after=4)
    p.paragraph_format.tab_stops.add_tab_stop(Mm(164), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
    p.paragraph_format.line_spacing = 1.5
    p.add_run("\t")


def _best_first(t) -> tuple:
    return (t.rate is None, -(t.rate or 0), -t.valid, t.key or "")


def _name(data: CampaignData, dim: str, key, name, _) -> str:
    if name and name != key:
        return str(name)
    if not key:
        return _("(không ghi thủ tục)") if dim == "procedure" else "–"
    return data.names.get(dim, {}).get(key) or str(key)


def _levels_table(doc, q, w: _Words) -> None:
    _ = w._
    answered = sum(q.levels.values()) if q.levels else 0
    rows = [[str(i), _label(q, lv, w.lang), str(n), w.pct(n, answered)]
            for i, (lv, n) in enumerate(sorted(q.levels.items(), reverse=True), 1)]
    _grid(doc, [_("TT"), _("Mức độ"), _("Số lượt"), _("Tỷ lệ (%)")], rows, [12, 83, 35, 35])


def findings(data: CampaignData, w: _Words) -> list[str]:
    """The generated sentences of "Nhận xét": the rate, the highest and lowest question, the officers
    under the threshold, on time, and the town's other ratings of the same days."""
    _ = w._
    lang = data.lang
    f = data.figures
    out = []
    valid = int(getattr(f, "valid", 0) or 0) if f is not None else 0
    if not valid:
        return [_("Chưa có lượt đánh giá hợp lệ nào trong kỳ: chưa có cơ sở để nhận xét.")]
    out.append(_("Tỷ lệ hài lòng chung của đợt khảo sát đạt {rate}% trên {v} lượt đánh giá hợp lệ.",
                 rate=w.num(f.rate), v=valid))
    asked = [q for q in data.questions[1:] if q.answered and q.rate is not None]
    if len(asked) >= 2:
        hi = max(asked, key=lambda q: q.rate)
        lo = min(asked, key=lambda q: q.rate)
        if hi.rate == lo.rate:
            out.append(_("Các nội dung được đánh giá ngang nhau ({rate}%).", rate=w.num(hi.rate)))
        else:
            out.append(_("Nội dung được đánh giá cao nhất: «{hi}» ({hr}%); thấp nhất: «{lo}» ({lr}%).",
                         hi=_question_text(hi, lang), hr=w.num(hi.rate), lo=_question_text(lo, lang),
                         lr=w.num(lo.rate)))
    elif len(asked) == 1:
        out.append(_("Nội dung «{q}»: tỷ lệ hài lòng {rate}%.", q=_question_text(asked[0], lang),
                     rate=w.num(asked[0].rate)))
    under = [t for t in data.officers if t.rate is not None and t.rate < data.threshold]
    if under:
        parts = []
        for t in sorted(under, key=lambda t: (t.rate, t.key or "")):
            few = t.valid < data.min_ratings
            parts.append(_("{name} ({rate}%, {v} lượt{few})", name=_name(data, "officer", t.key, t.name, _),
                           rate=w.num(t.rate), v=t.valid,
                           few=_("; chưa đủ {n} lượt để kết luận", n=data.min_ratings) if few else ""))
        out.append(_("Cán bộ, công chức có tỷ lệ hài lòng dưới ngưỡng {t}%: {who}; đề nghị xem xét, chấn chỉnh.",
                     t=w.num(data.threshold), who="; ".join(parts)))
    elif data.officers:
        out.append(_("Không có cán bộ, công chức nào có tỷ lệ hài lòng dưới ngưỡng {t}%.", t=w.num(data.threshold)))
    on_time, late = int(getattr(f, "on_time", 0) or 0), int(getattr(f, "late", 0) or 0)
    if on_time + late:
        sentence = _("Tỷ lệ hồ sơ trả kết quả đúng hẹn theo phiếu hẹn: {rate}% ({ok}/{all}).",
                     rate=w.num(getattr(f, "on_time_rate", None)), ok=on_time, all=on_time + late)
        worst = [t for t in data.procedures if t.late]
        if worst:
            t = max(worst, key=lambda t: (t.late, -(t.on_time_rate or 0)))
            sentence += " " + _("Thủ tục trễ hẹn nhiều nhất: {name} ({late} lượt).",
                                name=_name(data, "procedure", t.key, t.name, _), late=t.late)
        out.append(sentence)
    if data.others and data.others[0]:
        ov, osat = data.others
        orate = satisfaction_rate(osat, ov)
        diff = round((f.rate or 0) - (orate or 0), 1)
        if diff > 0:
            cmp = _("cao hơn {d} điểm phần trăm", d=w.num(diff))
        elif diff < 0:
            cmp = _("thấp hơn {d} điểm phần trăm", d=w.num(-diff))
        else:
            cmp = _("tương đương")
        out.append(_("Trong cùng thời gian, các lượt đánh giá khác (ngoài đợt khảo sát này) có tỷ lệ hài lòng "
                     "{rate}% ({s}/{v} lượt hợp lệ); kết quả đợt khảo sát {cmp}.", rate=w.num(orate), s=osat,
                     v=ov, cmp=cmp))
    return out
