"""The emulation score (chấm điểm thi đua) of each unit and each officer for a period.

The criteria are the province's: the setting ``score_criteria`` (JSON), set
on the scores page by an admin and checked by :func:`check_criteria`. What is
not set falls back on ``DEFAULT_CRITERIA`` — hailong's defaults, a starting
point for the emulation council, NOT a legal scale (no decree fixes these
numbers; each province writes its own in its emulation rules):

=====================  =====================================================  ======
criterion              default                                                 max
=====================  =====================================================  ======
satisfaction rate      ≥ 95 % → 40, ≥ 90 % → 35, ≥ 80 % → 25, ≥ 70 % → 15,    40
                       else 0
cases on time          share of the cases due that were dealt with on time     30
                       (reports/case_figures.py): 100 % → 30, ≥ 90 % → 25,
                       ≥ 80 % → 15, ≥ 60 % → 5, else 0; no case due → 30
no unresolved          no nhũng nhiễu case left undealt at the period's end    15
nhũng nhiễu            → 15, else 0 and the classification at most
                       "Trung bình"
apology letters        share of the apology-worthy cases (nhũng nhiễu) with   15
                       an apology letter issued: 100 % → 15, ≥ 80 % → 10,
                       ≥ 50 % → 5, else 0; none needed → 15
=====================  =====================================================  ======

Classification on the total: ≥ 90 Xuất sắc, ≥ 75 Tốt, ≥ 60 Khá, ≥ 45 Trung
bình, below Yếu. A unit or officer with fewer valid ratings than
``min_ratings`` (default 30) is not scored: "chưa đủ số liệu".

The ratings' figures come from the roll-up (core/rollup.py, the tables the
dashboard reads: one GROUP BY unit × officer), never from ``ratings``, so a
year of millions of ratings is scored in a fraction of a second
(benchmarks/score_year_5m.py); the cases' from reports/case_figures.py.
Every point says why — the figure it came from and the band it fell in —
so an admin can defend it at the council.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise

from sync.server.core import db
from sync.server.core.settings import get_setting, set_setting
from sync.server.reports import case_figures
from sync.server.reports.periods import Period, data_until
from sync.server.reports.stats import Figures, Filter, Stats

SETTING = "score_criteria"

#: classification codes, best first, with their Vietnamese names
CLASSES = {"xuat_sac": "Xuất sắc", "tot": "Tốt", "kha": "Khá", "trung_binh": "Trung bình", "yeu": "Yếu"}
#: shown instead of a classification when there are too few ratings
NOT_ENOUGH = "chưa đủ số liệu"

DEFAULT_CRITERIA: dict = {
    "min_ratings": 30,
    "rate_bands": [[95, 40], [90, 35], [80, 25], [70, 15]],
    "on_time_bands": [[100, 30], [90, 25], [80, 15], [60, 5]],
    "on_time_none": 30,
    "nn_points": 15,
    "nn_cap": "trung_binh",
    "apology_bands": [[100, 15], [80, 10], [50, 5]],
    "apology_none": 15,
    "classes": {"xuat_sac": 90, "tot": 75, "kha": 60, "trung_binh": 45},
}

#: criterion code → Vietnamese name (the columns of the page, the Excel and the annex)
CRITERIA = {
    "rate": "Tỷ lệ hài lòng",
    "on_time": "Xử lý vụ việc đúng hạn",
    "nhung_nhieu": "Không còn nhũng nhiễu chưa xử lý",
    "apology": "Thư xin lỗi công dân",
}

#: the fields of the criteria form: field → (Vietnamese label, kind)
FORM_FIELDS = {
    "min_ratings": ("Số lượt đánh giá hợp lệ tối thiểu để được chấm", "int"),
    "rate_bands": ("Tỷ lệ hài lòng: mức (%) và điểm", "bands"),
    "on_time_bands": ("Tỷ lệ vụ việc xử lý đúng hạn: mức (%) và điểm", "bands"),
    "on_time_none": ("Điểm khi không có vụ việc phải xử lý", "points"),
    "nn_points": ("Điểm khi không còn vụ việc nhũng nhiễu chưa xử lý", "points"),
    "nn_cap": ("Xếp loại tối đa khi còn vụ việc nhũng nhiễu chưa xử lý", "cap"),
    "apology_bands": ("Tỷ lệ vụ việc cần xin lỗi đã có thư xin lỗi: mức (%) và điểm", "bands"),
    "apology_none": ("Điểm khi không có vụ việc cần xin lỗi", "points"),
    "class_xuat_sac": ("Tổng điểm tối thiểu: Xuất sắc", "points"),
    "class_tot": ("Tổng điểm tối thiểu: Tốt", "points"),
    "class_kha": ("Tổng điểm tối thiểu: Khá", "points"),
    "class_trung_binh": ("Tổng điểm tối thiểu: Trung bình", "points"),
}
MAX_POINTS = 1000
MAX_BANDS = 10


class CriteriaError(ValueError):
    """Criteria that cannot be used; ``field`` names the form field, ``message`` says why (Vietnamese,
    formatted by the page's translator with ``kw``)."""

    def __init__(self, field: str, message: str, **kw):
        super().__init__(f"{field}: {message.format(**kw)}")
        self.field, self.message, self.kw = field, message, kw


# --- the criteria: read, checked, from the form ----------------------------------------------

def _number(field_name: str, text: str) -> float:
    text = text.strip().replace(",", ".")
    if not re.fullmatch(r"[0-9]{1,7}(\.[0-9]{1,2})?", text):
        raise CriteriaError(field_name, "«{value}» không phải một số (ví dụ 40 hoặc 92,5)", value=text[:30])
    value = float(text)
    return int(value) if value == int(value) else value


def parse_bands(field_name: str, text: str) -> list[list[float]]:
    """"95:40; 90:35" → [[95, 40], [90, 35]] (a decimal comma accepted: "92,5:30")."""
    bands = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        if part.count(":") != 1:
            raise CriteriaError(field_name, "mỗi mức viết dạng «mức:điểm», cách nhau bằng dấu chấm phẩy "
                                "(ví dụ 95:40; 90:35), không phải «{value}»", value=part.strip()[:30])
        low, points = part.split(":")
        bands.append([_number(field_name, low), _number(field_name, points)])
    return bands


def bands_text(bands, decimal: str = ",") -> str:
    return "; ".join(f"{fmt_number(low, decimal)}:{fmt_number(pts, decimal)}" for low, pts in bands)


def _check_bands(name: str, bands) -> list[list[float]]:
    if not isinstance(bands, list) or not bands:
        raise CriteriaError(name, "cần ít nhất một mức")
    if len(bands) > MAX_BANDS:
        raise CriteriaError(name, "nhiều nhất {n} mức", n=MAX_BANDS)
    out = []
    for band in bands:
        if (not isinstance(band, (list, tuple)) or len(band) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in band)):
            raise CriteriaError(name, "mỗi mức là một cặp [mức, điểm]")
        low, pts = band
        if not 0 <= low <= 100:
            raise CriteriaError(name, "mức phải từ 0 đến 100 (%), không phải {value}", value=fmt_number(low))
        if not 0 <= pts <= MAX_POINTS:
            raise CriteriaError(name, "điểm phải từ 0 đến {most}, không phải {value}", most=MAX_POINTS,
                                value=fmt_number(pts))
        out.append([low, pts])
    for (hi, hi_pts), (lo, lo_pts) in pairwise(out):
        if lo >= hi:
            raise CriteriaError(name, "các mức phải giảm dần (từ mức cao nhất), {a} rồi {b}",
                                a=fmt_number(hi), b=fmt_number(lo))
        if lo_pts > hi_pts:
            raise CriteriaError(name, "mức thấp hơn không được nhiều điểm hơn ({a}: {p} điểm, {b}: {q} điểm)",
                                a=fmt_number(hi), p=fmt_number(hi_pts), b=fmt_number(lo), q=fmt_number(lo_pts))
    return out


def _check_points(name: str, value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= MAX_POINTS:
        raise CriteriaError(name, "điểm phải từ 0 đến {most}", most=MAX_POINTS)
    return value


def check_criteria(doc) -> dict:
    """``doc`` over the defaults, checked; CriteriaError names the first bad field."""
    if not isinstance(doc, dict):
        raise CriteriaError("score_criteria", "phải là một đối tượng JSON")
    out = copy.deepcopy(DEFAULT_CRITERIA)
    unknown = set(doc) - set(out)
    if unknown:
        raise CriteriaError(min(unknown), "không phải một tiêu chí (các tiêu chí: {names})",
                            names=", ".join(out))
    out.update(copy.deepcopy(doc))
    n = out["min_ratings"]
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 1_000_000:
        raise CriteriaError("min_ratings", "phải là một số nguyên từ 0 đến 1000000")
    for name in ("rate_bands", "on_time_bands", "apology_bands"):
        out[name] = _check_bands(name, out[name])
    for name in ("on_time_none", "nn_points", "apology_none"):
        _check_points(name, out[name])
    if out["nn_cap"] not in ("", None, *CLASSES):
        raise CriteriaError("nn_cap", "phải là một xếp loại ({names}) hoặc để trống",
                            names=", ".join(CLASSES))
    out["nn_cap"] = out["nn_cap"] or ""
    classes = out["classes"]
    wanted = [c for c in CLASSES if c != "yeu"]
    if not isinstance(classes, dict) or set(classes) != set(wanted):
        raise CriteriaError("classes", "cần đúng các mức {names}", names=", ".join(wanted))
    for code in wanted:
        _check_points(f"class_{code}", classes[code])
    for better, worse in pairwise(wanted):
        if classes[worse] >= classes[better]:
            raise CriteriaError(f"class_{worse}", "điểm tối thiểu của «{worse}» phải thấp hơn của «{better}» ({p})",
                                worse=CLASSES[worse], better=CLASSES[better], p=fmt_number(classes[better]))
    out["classes"] = {c: classes[c] for c in wanted}
    return out


def criteria_from_form(form: dict) -> dict:
    """The criteria typed on the scores page, checked (CriteriaError names the field)."""
    doc: dict = {"classes": {}}
    for name, (_label, kind) in FORM_FIELDS.items():
        raw = str(form.get(name, "")).strip()
        if len(raw) > 300:
            raise CriteriaError(name, "quá dài")
        if kind == "cap":
            doc[name] = raw
            continue
        if not raw:
            raise CriteriaError(name, "không được để trống")
        if kind == "bands":
            value = parse_bands(name, raw)
        else:
            value = _number(name, raw)
            if kind == "int" and not isinstance(value, int):
                raise CriteriaError(name, "phải là một số nguyên")
        if name.startswith("class_"):
            doc["classes"][name.removeprefix("class_")] = value
        else:
            doc[name] = value
    return check_criteria(doc)


def criteria(conn) -> dict:
    """The province's criteria (the setting over the defaults); the defaults when what is stored
    cannot be used (it was checked when saved, so only a hand edit of the database gets there)."""
    stored = get_setting(conn, SETTING, {}) or {}
    try:
        return check_criteria(stored)
    except CriteriaError:
        return copy.deepcopy(DEFAULT_CRITERIA)


def save_criteria(conn, doc: dict) -> dict:
    """Store checked criteria (a writable connection); returns them."""
    doc = check_criteria(doc)
    set_setting(conn, SETTING, doc)
    return doc


def is_default(doc: dict) -> bool:
    return check_criteria(doc) == check_criteria({})


def form_values(doc: dict, decimal: str = ",") -> dict[str, str]:
    """The criteria as the form shows them."""
    out = {}
    for name, (_label, kind) in FORM_FIELDS.items():
        if kind == "bands":
            out[name] = bands_text(doc[name], decimal)
        elif kind == "cap":
            out[name] = doc[name]
        elif name.startswith("class_"):
            out[name] = fmt_number(doc["classes"][name.removeprefix("class_")], decimal)
        else:
            out[name] = fmt_number(doc[name], decimal)
    return out


# --- scoring ---------------------------------------------------------------------------

def fmt_number(value, decimal: str = ",") -> str:
    """40 → "40", 92.5 → "92,5" (Vietnamese) or "92.5"; None → "–"."""
    if value is None:
        return "–"
    text = str(int(value)) if float(value) == int(value) else f"{value:.1f}"
    return text.replace(".", decimal)


def fmt_rate(value, decimal: str = ",") -> str:
    """A rate or share as the reports print it: one decimal, "75,0"; None → "–"."""
    return "–" if value is None else f"{value:.1f}".replace(".", decimal)


def band_points(bands, value: float) -> tuple[float, float | None]:
    """(points, the band's lower bound) of ``value``; (0, None) below every band."""
    for low, pts in bands:
        if value >= low:
            return pts, low
    return 0, None


@dataclass
class Criterion:
    code: str
    points: float
    most: float
    why: str


@dataclass
class Score:
    """One unit's or officer's score: the figures it came from, the points per criterion and why."""
    kind: str                         # "unit" | "officer"
    key: str
    name: str
    unit: str | None
    ratings: Figures
    cases: case_figures.CaseFigures
    criteria: list[Criterion] = field(default_factory=list)
    total: float | None = None
    klass: str | None = None          # a CLASSES code; None: not enough ratings
    capped: bool = False              # the classification was lowered by the nhũng nhiễu cap
    note: str = ""                    # why it is not scored, or the cap

    def points(self, code: str) -> float | None:
        return next((c.points for c in self.criteria if c.code == code), None)


@dataclass
class ScoreSheet:
    period: Period
    criteria: dict
    units: list[Score]
    officers: list[Score]
    until: date | None                # the period still runs: figures up to this day
    unit_names: dict[str, str]
    most: float                       # the total a perfect score reaches


def _maximum(doc: dict) -> float:
    return (max(p for _l, p in doc["rate_bands"]) + max(doc["on_time_none"], *(p for _l, p in doc["on_time_bands"]))
            + doc["nn_points"] + max(doc["apology_none"], *(p for _l, p in doc["apology_bands"])))


def _classify(doc: dict, total: float) -> str:
    for code, low in doc["classes"].items():
        if total >= low:
            return code
    return "yeu"


def score_one(doc: dict, s: Score, tr=lambda t: t, decimal: str = ",") -> Score:
    """Fill in ``s``'s criteria, total and classification from its figures under the criteria ``doc``."""
    def _(text, **kw):
        return tr(text).format(**kw)

    def num(v):
        return fmt_number(v, decimal)

    f, c = s.ratings, s.cases
    if f.valid < doc["min_ratings"] or f.rate is None:
        s.note = _("{v} lượt đánh giá hợp lệ, cần ít nhất {n}: chưa đủ số liệu", v=f.valid, n=doc["min_ratings"])
        return s
    out = []
    pts, low = band_points(doc["rate_bands"], f.rate)
    head = _("Tỷ lệ hài lòng {rate}% ({s}/{v} lượt hợp lệ)", rate=fmt_rate(f.rate, decimal), s=f.satisfied, v=f.valid)
    out.append(Criterion("rate", pts, max(p for _l, p in doc["rate_bands"]),
                         head + ", " + (_("đạt mức ≥ {low}%: {p} điểm", low=num(low), p=num(pts)) if low is not None
                                        else _("dưới mọi mức: 0 điểm"))))
    most = max(doc["on_time_none"], *(p for _l, p in doc["on_time_bands"]))
    if c.on_time_share is None:
        pts = doc["on_time_none"]
        why = _("Không có vụ việc phải xử lý trong kỳ: {p} điểm", p=num(pts))
    else:
        pts, low = band_points(doc["on_time_bands"], c.on_time_share)
        why = _("{n}/{d} vụ việc xử lý đúng hạn ({share}%; {late} trễ hạn, {over} quá hạn chưa xử lý)",
                n=c.on_time, d=c.due, share=fmt_rate(c.on_time_share, decimal), late=c.late, over=c.overdue) + ", " + (
            _("đạt mức ≥ {low}%: {p} điểm", low=num(low), p=num(pts)) if low is not None else _("dưới mọi mức: 0 điểm"))
    out.append(Criterion("on_time", pts, most, why))
    if c.unresolved_nn:
        ids = ", ".join(f"#{i}" for i in sorted(c.unresolved_nn)[:10])
        why = _("Còn {n} vụ việc nhũng nhiễu chưa xử lý xong cuối kỳ ({ids}): 0 điểm", n=len(c.unresolved_nn), ids=ids)
        out.append(Criterion("nhung_nhieu", 0, doc["nn_points"], why))
    else:
        out.append(Criterion("nhung_nhieu", doc["nn_points"], doc["nn_points"],
                             _("Không còn vụ việc nhũng nhiễu chưa xử lý xong cuối kỳ: {p} điểm", p=num(doc["nn_points"]))))
    most = max(doc["apology_none"], *(p for _l, p in doc["apology_bands"]))
    if c.apology_share is None:
        pts = doc["apology_none"]
        why = _("Không có vụ việc cần xin lỗi công dân trong kỳ: {p} điểm", p=num(pts))
    else:
        pts, low = band_points(doc["apology_bands"], c.apology_share)
        why = _("{n}/{d} vụ việc cần xin lỗi đã có thư xin lỗi ({share}%)", n=c.apologised, d=c.apology_worthy,
                share=fmt_rate(c.apology_share, decimal)) + ", " + (
            _("đạt mức ≥ {low}%: {p} điểm", low=num(low), p=num(pts)) if low is not None else _("dưới mọi mức: 0 điểm"))
    out.append(Criterion("apology", pts, most, why))
    s.criteria = out
    s.total = sum(x.points for x in out)
    klass = _classify(doc, s.total)
    cap = doc["nn_cap"]
    order = list(CLASSES)
    if c.unresolved_nn and cap and order.index(klass) < order.index(cap):
        s.capped, klass = True, cap
        s.note = _("Còn vụ việc nhũng nhiễu chưa xử lý: xếp loại không quá «{cls}»", cls=tr(CLASSES[cap]))
    s.klass = klass
    return s


def _rank(scores: list[Score]) -> list[Score]:
    return sorted(scores, key=lambda s: (s.total is None, -(s.total or 0), -(s.ratings.rate or 0), s.name, s.key))


def _ratings(stats: Stats, period: Period, unit: str | None) -> tuple[dict[str, Figures], dict[str, Figures]]:
    """(unit → figures, officer → figures) of the period, from the roll-up the dashboard reads.

    One GROUP BY (unit, officer) of the month table for whole months, of the day table
    otherwise — the score needs neither levels, nor desks, nor the trend the dashboard adds.
    A ``Stats`` without roll-up (tests on a bare ratings table) asks its own breakdowns."""
    if not stats.rollup:
        flt = Filter(period, unit=unit)
        return ({f.key: f for f in stats.by("unit", flt) if f.key},
                {f.key: f for f in stats.by("officer", flt) if f.key})
    from sqlalchemy import func, select

    from sync.server.core import rollup
    whole = period.first_day.day == 1 and period.end_day.day == 1
    t = rollup.rollup_month if whole else rollup.rollup_day
    cut = 7 if whole else 10
    where = [t.c.at >= period.first_day.isoformat()[:cut], t.c.at < period.end_day.isoformat()[:cut]]
    if unit:
        where.append(t.c.unit_code == unit)
    q = (select(t.c.unit_code, t.c.officer_id, func.sum(t.c.total), func.sum(t.c.misuse), func.sum(t.c.satisfied))
         .where(*where).group_by(t.c.unit_code, t.c.officer_id))
    units: dict[str, Figures] = {}
    officers: dict[str, Figures] = {}
    with stats.reader.connect() as conn:
        for unit_code, officer_id, total, misuse, satisfied in conn.execute(q):
            total, misuse = int(total or 0), int(misuse or 0)
            fig = Figures(total=total, misuse=misuse, valid=total - misuse, satisfied=int(satisfied or 0))
            for table, key in ((units, unit_code), (officers, officer_id)):
                if key:
                    table.setdefault(key, Figures(key=key)).add(fig)
    return units, officers


def sheet(stats: Stats, conn, period: Period, today: date | None = None, unit: str | None = None,
          tr=lambda t: t, decimal: str = ",", doc: dict | None = None) -> ScoreSheet:
    """Every unit's and officer's score for ``period`` (one unit's, when ``unit`` is given).

    ``stats`` reads the ratings' figures from the roll-up (its own reader); ``conn`` the roster,
    the criteria and the cases (the same database but for the benchmark, which keeps its cases apart).
    """
    from sqlalchemy import select

    doc = doc or criteria(conn)
    by_unit, by_officer = _ratings(stats, period, unit)
    cases = case_figures.figures(conn, period, today, unit=unit)
    named = select(db.units.c.code, db.units.c.name)
    unit_names = dict(conn.execute(named.where(db.units.c.code == unit) if unit else named).all())
    roster = conn.execute(select(db.officers.c.id, db.officers.c.name, db.officers.c.active, db.desks.c.unit_code)
                          .select_from(db.officers.outerjoin(db.desks, db.desks.c.id == db.officers.c.desk_id))).all()
    units = []
    for code in sorted(set(by_unit) | ({unit} if unit else set(unit_names))):
        if unit and code != unit:
            continue
        units.append(score_one(doc, Score("unit", code, unit_names.get(code) or code, code,
                                          by_unit.get(code) or Figures(key=code), cases.unit(code)), tr, decimal))
    officers = []
    seen = set()
    for ident, name, active, unit_code in roster:
        if unit and unit_code != unit:
            continue
        if ident not in by_officer and not active and not cases.by_officer.get(ident):
            continue
        seen.add(ident)
        officers.append(score_one(doc, Score("officer", ident, name or ident, unit_code,
                                             by_officer.get(ident) or Figures(key=ident), cases.officer(ident)),
                                  tr, decimal))
    for ident, f in by_officer.items():      # rated under an id the roster no longer has
        if ident not in seen:
            officers.append(score_one(doc, Score("officer", ident, ident, unit, f, cases.officer(ident)), tr, decimal))
    return ScoreSheet(period, doc, _rank(units), _rank(officers), data_until(period, today) if today else None,
                      unit_names, _maximum(doc))


# --- the Excel table -----------------------------------------------------------------

def write_xlsx(result: ScoreSheet, out, tr=lambda t: t) -> None:
    """The scores as an Excel workbook (openpyxl, the layout of sync/cells.py): units, officers, criteria."""
    from openpyxl import Workbook

    from sync.cells import xlsx_cell, xlsx_finish, xlsx_sheet

    book = Workbook(write_only=True)
    headers = [tr("TT"), tr("Mã"), tr("Tên"), tr("Đơn vị"), tr("Lượt hợp lệ"), tr("Tỷ lệ hài lòng (%)"),
               tr("Vụ việc mở trong kỳ"), tr("Vụ việc phải xử lý"), tr("Đúng hạn (%)"),
               *[tr(v) for v in CRITERIA.values()], tr("Tổng điểm"), tr("Xếp loại"), tr("Căn cứ")]
    widths = [5, 12, 28, 22, 10, 11, 11, 11, 10, 11, 11, 11, 11, 9, 14, 90]
    for title, rows in ((tr("Đơn vị"), result.units), (tr("Cán bộ"), result.officers)):
        ws = xlsx_sheet(book, title, headers, widths)
        for i, s in enumerate(rows, 1):
            why = "; ".join([c.why for c in s.criteria] + ([s.note] if s.note else []))
            ws.append([i, xlsx_cell(ws, s.key), xlsx_cell(ws, s.name),
                       xlsx_cell(ws, result.unit_names.get(s.unit or "", s.unit or "")),
                       s.ratings.valid, s.ratings.rate, s.cases.opened, s.cases.due, s.cases.on_time_share,
                       *[s.points(code) for code in CRITERIA], s.total,
                       tr(CLASSES[s.klass]) if s.klass else tr(NOT_ENOUGH), xlsx_cell(ws, why)])
        xlsx_finish(ws, len(headers), len(rows), printed=len(headers) - 1)
    ws = xlsx_sheet(book, tr("Tiêu chí"), [tr("Tiêu chí"), tr("Giá trị")], [60, 50])
    doc = result.criteria
    rows = [(tr(label), form_values(doc).get(name, "")) for name, (label, _k) in FORM_FIELDS.items()]
    rows.append((tr("Kỳ"), result.period.label(tr)))
    for row in rows:
        ws.append([xlsx_cell(ws, v) for v in row])
    xlsx_finish(ws, 2, len(rows))
    book.save(out)
