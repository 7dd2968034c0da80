"""Figures per survey and per question, and on time beside satisfaction: one place for the rule.

What the dashboard, the officer page, the reports API, the survey pages
and the campaign's Word report read (DESIGN.md "Surveys, scales and
satisfaction rate"):

* each rating is judged by its **own** survey: its headline ``level`` is
  satisfied when it is in that survey's ``satisfied`` set, each answer when
  it is in its question's ``satisfied`` set (a 5-level "3 Bình thường" is
  not satisfied, a 3-level "2 Hài lòng" is);
* ratings flagged as misuse (``rapid_repeat``) or ``duplicate_receipt`` are
  counted in ``total`` and ``misuse`` and nowhere else (not in a rate, not in
  the counts per level or per answer, not on time or late);
* an answer that is ``null`` or missing is **skipped**: a question's rate is
  satisfied ÷ answered, the skipped ones beside it;
* **on time** (đúng hẹn) comes from the dates, not from the citizen: a
  rating from a receipt that carried the appointment date has the signed
  flag ``on_time`` or ``late`` (sync.protocol.timeliness_flag); on-time rate
  = on_time ÷ (on_time + late) × 100, one decimal.

The figures are read from the roll-up (core/rollup.py: counts per day or
month × unit × desk × officer × procedure × survey, and the answers per
question and value), which ingest keeps folded; ``campaign_coverage`` reads
the ratings themselves (distinct desks and kiosks, first and last rating),
through the index on the time column.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, case, func, literal, not_, select

from sync.protocol import LATE_FLAG, ON_TIME_FLAG, satisfaction_rate
from sync.server.core import db, rollup
from sync.server.core.settings import known_surveys
from sync.server.core.sql import contains_code, misuse_expr, satisfied_expr
from sync.server.reports.stats import DIMENSIONS, Filter

TIME_COL = "corrected_at"
#: the headline question's code in question_results (the rating's ``level``)
HEADLINE = "level"
#: the headline's words when the survey document names none
HEADLINE_TEXT = ("Mức độ hài lòng với cán bộ tiếp nhận, giải quyết hồ sơ",
                 "Satisfaction with the officer who received and settled the dossier")


def on_time_rate(on_time: int, late: int) -> float | None:
    """Tỷ lệ đúng hẹn: on_time ÷ (on_time + late) × 100, one decimal; None with no dated rating."""
    return satisfaction_rate(on_time, on_time + late)


@dataclass
class SurveyFigures:
    """The ratings of one survey in the filter."""
    survey_id: str
    title_vi: str
    title_en: str
    by: str
    total: int = 0
    misuse: int = 0
    valid: int = 0
    satisfied: int = 0
    on_time: int = 0
    late: int = 0
    scale: int | None = None
    campaign: bool = False

    @property
    def rate(self) -> float | None:
        return satisfaction_rate(self.satisfied, self.valid)

    @property
    def on_time_rate(self) -> float | None:
        return on_time_rate(self.on_time, self.late)

    def title(self, lang: str = "vi") -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_vi


@dataclass
class QuestionFigures:
    """One question of a survey (the headline first, code ``level``): valid answers per level."""
    code: str
    text_vi: str
    text_en: str
    scale: int
    levels: dict[int, int] = field(default_factory=dict)      # level → valid answers, highest first
    answered: int = 0
    skipped: int = 0
    satisfied: int = 0
    labels: dict[int, tuple[str, str]] = field(default_factory=dict)   # level → (vi, en)
    satisfied_levels: tuple[int, ...] = ()

    @property
    def rate(self) -> float | None:
        """satisfied ÷ answered × 100, one decimal; None when nobody answered or the question
        counts no level as satisfied (a question of fact: how many trips)."""
        if not self.satisfied_levels:
            return None
        return satisfaction_rate(self.satisfied, self.answered)

    def text(self, lang: str = "vi") -> str:
        return self.text_en if lang == "en" and self.text_en else self.text_vi

    def label(self, level: int, lang: str = "vi") -> str:
        vi, en = self.labels.get(level, (str(level), str(level)))
        return en if lang == "en" else vi


@dataclass
class TimelinessFigures:
    """On time beside satisfaction for one officer or procedure."""
    key: str | None
    name: str | None = None
    on_time: int = 0
    late: int = 0
    valid: int = 0
    satisfied: int = 0
    total: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return on_time_rate(self.on_time, self.late)

    @property
    def rate(self) -> float | None:
        return satisfaction_rate(self.satisfied, self.valid)

    @property
    def dated(self) -> int:
        return self.on_time + self.late


# --- survey documents -------------------------------------------------------------

def _text(value, fallback: str = "") -> tuple[str, str]:
    """(vi, en) of a {vi, en} object (or a plain string)."""
    if isinstance(value, dict):
        vi = value.get("vi") if isinstance(value.get("vi"), str) else ""
        en = value.get("en") if isinstance(value.get("en"), str) else ""
        return (vi or en or fallback, en or vi or fallback)
    if isinstance(value, str) and value:
        return value, value
    return fallback, fallback


def title_of(doc: dict | None, lang: str = "vi", fallback: str = "") -> str:
    """A survey's title in a language (the other one, or ``fallback``, when it has none)."""
    vi, en = _text((doc or {}).get("title"), fallback or (doc or {}).get("id") or "")
    return en if lang == "en" else vi


def _labels(doc: dict, scale: int) -> dict[int, tuple[str, str]]:
    raw = doc.get("labels") if isinstance(doc.get("labels"), dict) else {}
    return {lv: _text(raw.get(str(lv)), str(lv)) for lv in range(scale, 0, -1)}


def _levels_of(doc: dict) -> tuple[int, ...]:
    return tuple(sorted({x for x in (doc.get("satisfied") or ()) if isinstance(x, int)}, reverse=True))


def _scale(doc: dict) -> int:
    s = doc.get("scale")
    return s if isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 10 else 3


def questions_of(doc: dict) -> list[dict]:
    """The extra questions of a survey that have a code, in order."""
    return [q for q in (doc.get("questions") or ()) if isinstance(q, dict) and isinstance(q.get("code"), str)]


def _surveys(conn) -> dict[str, dict]:
    return known_surveys(conn)


# --- raw SQL over the ratings -------------------------------------------------------

def _valid_sum(cond):
    r = db.ratings
    return func.sum(case((and_(not_(misuse_expr(r)), cond), literal(1)), else_=0))


def _flag(code: str):
    return contains_code(db.ratings.c.flags, code)


def _common(surveys: dict[str, dict]) -> list:
    r = db.ratings
    return [func.count().label("total"),
            func.sum(case((misuse_expr(r), literal(1)), else_=0)).label("misuse"),
            _valid_sum(satisfied_expr(r, surveys)).label("satisfied"),
            _valid_sum(_flag(ON_TIME_FLAG)).label("on_time"),
            _valid_sum(_flag(LATE_FLAG)).label("late")]


def survey_breakdown_raw(reader, flt: Filter) -> list[SurveyFigures]:
    """survey_breakdown() straight over the ratings (the roll-up's check in the tests)."""
    r = db.ratings
    with reader.connect() as conn:
        surveys = _surveys(conn)
        rows = conn.execute(select(r.c.survey, *_common(surveys)).where(flt.where(r, TIME_COL))
                            .group_by(r.c.survey)).all()
    return _breakdown(rows, surveys)


def _breakdown(rows, surveys: dict[str, dict]) -> list[SurveyFigures]:
    out = []
    for row in rows:
        doc = surveys.get(row.survey) or {}
        vi, en = _text(doc.get("title"), row.survey)
        total, misuse = int(row.total or 0), int(row.misuse or 0)
        out.append(SurveyFigures(survey_id=row.survey, title_vi=vi, title_en=en,
                                 by=doc.get("by") if isinstance(doc.get("by"), str) else "",
                                 total=total, misuse=misuse, valid=total - misuse,
                                 satisfied=int(row.satisfied or 0), on_time=int(row.on_time or 0),
                                 late=int(row.late or 0), scale=_scale(doc) if doc else None,
                                 campaign="from" in doc or "to" in doc))
    return sorted(out, key=lambda f: (-f.total, f.survey_id))


def _empty_questions(survey_doc: dict) -> list[QuestionFigures]:
    scale = _scale(survey_doc)
    head = survey_doc.get("question") or survey_doc.get("text")
    out = [QuestionFigures(HEADLINE, *(_text(head) if head else HEADLINE_TEXT), scale=scale, levels={lv: 0 for lv in range(scale, 0, -1)},
                           labels=_labels(survey_doc, scale), satisfied_levels=_levels_of(survey_doc))]
    for q in questions_of(survey_doc):
        qs = _scale(q)
        out.append(QuestionFigures(q["code"], *_text(q.get("text"), q["code"]), scale=qs,
                                   levels={lv: 0 for lv in range(qs, 0, -1)}, labels=_labels(q, qs),
                                   satisfied_levels=_levels_of(q)))
    return out


def _count_answer(fig: QuestionFigures, value, n: int) -> None:
    """Add n answers of ``value`` to a question (None, 0 or off the scale: skipped)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= fig.scale:
        fig.levels[value] = fig.levels.get(value, 0) + n
        fig.answered += n
        if value in fig.satisfied_levels:
            fig.satisfied += n
    else:
        fig.skipped += n


def question_results_raw(reader, flt: Filter, survey_doc: dict) -> list[QuestionFigures]:
    """question_results() straight over the ratings (the answers' JSON parsed here)."""
    out = _empty_questions(survey_doc)
    sid = survey_doc.get("id")
    if not isinstance(sid, str):
        return out
    flt = replace(flt, survey=sid)
    r = db.ratings
    by_code = {f.code: f for f in out[1:]}
    q = (select(r.c.level, r.c.answers, func.count().label("n"))
         .where(flt.where(r, TIME_COL), r.c.survey == sid, not_(misuse_expr(r)))
         .group_by(r.c.level, r.c.answers))
    with reader.connect() as conn:
        rows = conn.execute(q).all()
    for row in rows:
        _count_answer(out[0], row.level, row.n)
        try:
            answers = json.loads(row.answers or "{}")
        except ValueError:
            answers = {}
        if not isinstance(answers, dict):
            answers = {}
        for code, fig in by_code.items():
            _count_answer(fig, answers.get(code), row.n)
    return out


def _names(conn, dim: str) -> dict[str, str]:
    table = {"unit": (db.units.c.code, db.units.c.name), "desk": (db.desks.c.id, db.desks.c.name),
             "officer": (db.officers.c.id, db.officers.c.name),
             "procedure": (db.procedures.c.code, db.procedures.c.name)}[dim]
    return dict(conn.execute(select(*table)).all())


def _timeliness_order(rows: list[TimelinessFigures]) -> list[TimelinessFigures]:
    """Those with dated ratings first, the lowest on-time rate first (what to look at), then the rest."""
    return sorted(rows, key=lambda f: (f.dated == 0, f.on_time_rate if f.on_time_rate is not None else 101,
                                       -f.dated, f.name or f.key or ""))


def timeliness_raw(reader, flt: Filter, dim: str) -> list[TimelinessFigures]:
    """timeliness() straight over the ratings."""
    if dim not in DIMENSIONS:
        raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}")
    r = db.ratings
    col = r.c[DIMENSIONS[dim]]
    with reader.connect() as conn:
        surveys = _surveys(conn)
        names = _names(conn, dim)
        rows = conn.execute(select(col.label("key"), *_common(surveys)).where(flt.where(r, TIME_COL))
                            .group_by(col)).all()
    return _timeliness_rows(rows, names)


def _timeliness_rows(rows, names: dict[str, str]) -> list[TimelinessFigures]:
    out = []
    for row in rows:
        total, misuse = int(row.total or 0), int(row.misuse or 0)
        key = row.key or None
        out.append(TimelinessFigures(key=key, name=names.get(key) if key else None,
                                     on_time=int(row.on_time or 0), late=int(row.late or 0),
                                     valid=total - misuse, satisfied=int(row.satisfied or 0), total=total))
    return _timeliness_order(out)


def campaign_coverage_raw(reader, flt: Filter) -> dict:
    """Where and how much the filter's ratings cover: the desks and kiosks that sent any, how
    many ratings (valid ones apart), the first and last rating's time (corrected, RFC 3339)."""
    r = db.ratings
    where = flt.where(r, TIME_COL)
    with reader.connect() as conn:
        desks = sorted(v for (v,) in conn.execute(select(r.c.desk_id).where(where).distinct()))
        kiosks = sorted(v for (v,) in conn.execute(select(r.c.kiosk_id).where(where).distinct()))
        row = conn.execute(select(func.count().label("total"),
                                  func.sum(case((misuse_expr(r), literal(1)), else_=0)).label("misuse"),
                                  func.min(r.c[TIME_COL]).label("first"),
                                  func.max(r.c[TIME_COL]).label("last")).where(where)).one()
    total = int(row.total or 0)
    return {"desks": desks, "kiosks": kiosks, "ratings": total, "valid": total - int(row.misuse or 0),
            "first_at": row.first, "last_at": row.last}


# --- from the roll-up (what the pages read) -------------------------------------------

def _tables(flt: Filter):
    """(counts, answers table, lo, hi) of the roll-up for the filter's period: the month tables
    for whole months, the day tables otherwise (the dashboard's own choice)."""
    p = flt.period
    if p.first_day.day == 1 and p.end_day.day == 1:
        return rollup.rollup_month, rollup.rollup_answer_month, p.first_day.isoformat()[:7], p.end_day.isoformat()[:7]
    return rollup.rollup_day, rollup.rollup_answer_day, p.first_day.isoformat(), p.end_day.isoformat()


def _rollup_where(table, flt: Filter, lo: str, hi: str, survey: str | None = None):
    parts = [table.c.at >= lo, table.c.at < hi]
    for d, col in DIMENSIONS.items():
        value = getattr(flt, d)
        if value is not None and value != "":
            parts.append(table.c[col] == value)
    survey = survey or flt.survey
    if survey:
        parts.append(table.c.survey == survey)
    return and_(*parts)


def _sums(t) -> list:
    return [func.sum(t.c.total).label("total"), func.sum(t.c.misuse).label("misuse"),
            func.sum(t.c.satisfied).label("satisfied"), func.sum(t.c.on_time).label("on_time"),
            func.sum(t.c.late).label("late")]


def survey_breakdown(reader, flt: Filter) -> list[SurveyFigures]:
    """Per survey answered in the filter: ratings, satisfaction rate (each rating by its own survey),
    on-time rate; the most ratings first. One GROUP BY of the roll-up."""
    t, _a, lo, hi = _tables(flt)
    with reader.connect() as conn:
        surveys = _surveys(conn)
        rows = conn.execute(select(t.c.survey, *_sums(t)).where(_rollup_where(t, flt, lo, hi))
                            .group_by(t.c.survey)).all()
    return _breakdown(rows, surveys)


def timeliness(reader, flt: Filter, dim: str) -> list[TimelinessFigures]:
    """On time, late and the on-time rate per officer / procedure (any dimension), satisfaction
    beside; dated ones first, the lowest on-time rate first. One GROUP BY of the roll-up."""
    if dim not in DIMENSIONS:
        raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}")
    t, _a, lo, hi = _tables(flt)
    col = t.c[DIMENSIONS[dim]]
    with reader.connect() as conn:
        names = _names(conn, dim)
        rows = conn.execute(select(col.label("key"), *_sums(t)).where(_rollup_where(t, flt, lo, hi))
                            .group_by(col)).all()
    return _timeliness_rows(rows, names)


def question_results(reader, flt: Filter, survey_doc: dict) -> list[QuestionFigures]:
    """The headline (code ``level``) then each question of ``survey_doc`` in order, over the valid
    ratings of the filter that answered that survey (``flt.survey`` is not needed).

    A question's ``skipped`` = the survey's valid ratings − its answers: a null answer and a
    missing one (a citizen who walked away before it) are both skipped."""
    out = _empty_questions(survey_doc)
    sid = survey_doc.get("id")
    if not isinstance(sid, str):
        return out
    flt = replace(flt, survey=sid)
    t, a, lo, hi = _tables(flt)
    head = out[0]
    with reader.connect() as conn:
        row = conn.execute(select(func.sum(t.c.total).label("total"), func.sum(t.c.misuse).label("misuse"),
                                  *[func.sum(t.c[f"l{lv}"]).label(f"l{lv}") for lv in rollup.LEVELS])
                           .where(_rollup_where(t, flt, lo, hi, sid))).one()
        answers = conn.execute(select(a.c.question, a.c.value, func.sum(a.c.n))
                               .where(_rollup_where(a, flt, lo, hi, sid))
                               .group_by(a.c.question, a.c.value)).all() if len(out) > 1 else []
    valid = int(row.total or 0) - int(row.misuse or 0)
    for lv in rollup.LEVELS:
        n = int(row._mapping[f"l{lv}"] or 0)
        if n:
            _count_answer(head, lv, n)
    head.skipped = 0
    by_code = {f.code: f for f in out[1:]}
    for code, value, n in answers:
        fig = by_code.get(code)
        if fig is not None and value:
            _count_answer(fig, value, int(n or 0))
    for fig in out[1:]:
        fig.skipped = max(valid - fig.answered, 0)
    return out


def campaign_coverage(reader, flt: Filter) -> dict:
    """Where and how much the filter's ratings cover: the desks and kiosks that sent any, how
    many ratings (valid ones apart), the first and last rating's time (corrected, RFC 3339).

    The desks and counts come from the roll-up; the kiosks and the first and last time from the
    ratings of the period (the roll-up keeps neither)."""
    t, _a, lo, hi = _tables(flt)
    r = db.ratings
    where = flt.where(r, TIME_COL)
    with reader.connect() as conn:
        rwhere = _rollup_where(t, flt, lo, hi)
        desks = sorted(v for (v,) in conn.execute(select(t.c.desk_id).where(rwhere, t.c.total > 0).distinct()))
        sums = conn.execute(select(func.sum(t.c.total), func.sum(t.c.misuse)).where(rwhere)).one()
        kiosks = sorted(v for (v,) in conn.execute(select(r.c.kiosk_id).where(where).distinct()))
        first, last = conn.execute(select(func.min(r.c[TIME_COL]), func.max(r.c[TIME_COL])).where(where)).one()
    total = int(sums[0] or 0)
    return {"desks": desks, "kiosks": kiosks, "ratings": total, "valid": total - int(sums[1] or 0),
            "first_at": first, "last_at": last}
