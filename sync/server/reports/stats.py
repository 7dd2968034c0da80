"""Satisfaction statistics for a period, computed in SQL (SQLAlchemy Core).

Rules (DESIGN.md "Scale and satisfaction rate"):

* tỷ lệ hài lòng = satisfied ÷ valid ratings × 100, one decimal
  (``sync.protocol.satisfaction_rate``);
* a rating whose flags hold one of ``MISUSE_FLAGS`` ("rapid_repeat") is
  *shown* (counted in ``total`` and ``misuse``) but is not *valid*: it counts
  neither in the rate nor in the counts per level or per reason;
* which level is "satisfied" comes from each rating's own survey
  (``survey`` column; ``sync.protocol.BUILTIN_SURVEYS`` and the server's
  surveys): a 5-level rating's "Bình thường" is not satisfied on a town
  whose default is the 3-level survey. The roll-up counts ``satisfied`` at
  fold time; the per-level counts are kept as they are (levels of the
  default scale are shown).
* ``Filter.survey`` keeps the ratings of one survey (issue 12); ``Stats.for_survey``
  gives its own levels and labels, which ``dashboard()`` takes for itself when the
  filter names a survey. Figures per survey and per question, and on time beside
  satisfaction, are reports/survey_results.py's.

Every figure is one GROUP BY over the ratings of the period, so the work
stays in the database (SQLite now, PostgreSQL later: only portable SQL, plus
two small dialect-specific date functions below). The period filter uses the
time column the reports run on (the server's corrected time), which should be
indexed.

Lists (reasons, flags) are JSON text arrays of codes: a code is matched as
``"code"`` with its quotes, so "thai_do" never matches "thai_do_x".
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Table, and_, case, func, literal, not_, select, text, tuple_
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import DateTime

from sync.protocol import (
    BUILTIN_SURVEYS,
    DEFAULT_REASONS,
    MISUSE_FLAGS,
    SCALES,
    satisfaction_rate,
)
from sync.server.core import db, rollup
from sync.server.core.clock import VN_TZ
from sync.server.core.settings import known_surveys, survey
from sync.server.core.sql import BUCKETS, WeekOfDay, misuse_expr, satisfied_expr
from sync.server.core.sql import contains_code as _contains_code
from sync.server.reports.periods import Period

#: Dimensions a report is broken down by -> column of the ratings table.
DIMENSIONS = {
    "unit": "unit_code",
    "desk": "desk_id",
    "officer": "officer_id",
    "procedure": "procedure_code",
}
TREND_STEPS = ("day", "week", "month")


# --- building blocks ----------------------------------------------------------

def satisfied_levels(scale: int) -> list[int]:
    return [lv for lv, _vi, _en, sat in SCALES[scale] if sat]


def time_bound(col, moment: datetime):
    """A period bound in the form the column stores it.

    town.db keeps times as RFC 3339 text in Vietnam's offset
    ("2026-10-01T08:07:00+07:00", as the kiosks write them), so a bound is
    the local "YYYY-MM-DDTHH:MM:SS": text order is then time order and the
    index on the column serves the range ("...T00:00:00" sorts before
    "...T00:00:00+07:00", which makes the range half-open as wanted).
    A DateTime column (naive = UTC) gets a datetime.
    """
    if isinstance(col.type, DateTime):
        utc = moment.astimezone(UTC)
        return utc if col.type.timezone else utc.replace(tzinfo=None)
    return moment.astimezone(VN_TZ).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Filter:
    """What the admin chose: a period and optionally one unit/desk/officer/procedure."""
    period: Period
    unit: str | None = None
    desk: str | None = None
    officer: str | None = None
    procedure: str | None = None
    #: the id of the survey the ratings answered (None: every survey)
    survey: str | None = None

    def where(self, ratings: Table, time_col: str) -> ColumnElement:
        col = ratings.c[time_col]
        parts = [col >= time_bound(col, self.period.start), col < time_bound(col, self.period.end)]
        for dim, column in DIMENSIONS.items():
            value = getattr(self, dim)
            if value:
                parts.append(ratings.c[column] == value)
        if self.survey and "survey" in ratings.c:
            parts.append(ratings.c.survey == self.survey)
        return and_(*parts)


@dataclass
class Figures:
    """Counts for one group of ratings (the whole filter, a unit, an officer...)."""
    key: str | None = None
    total: int = 0        # every rating, misuse included
    misuse: int = 0       # flagged as misuse: shown, not counted
    valid: int = 0        # total - misuse
    satisfied: int = 0
    levels: dict[int, int] = field(default_factory=dict)   # valid ratings per level
    name: str | None = None

    @property
    def rate(self) -> float | None:
        return satisfaction_rate(self.satisfied, self.valid)

    @property
    def dissatisfied(self) -> int:
        return self.valid - self.satisfied

    def add(self, other: Figures) -> None:
        self.total += other.total
        self.misuse += other.misuse
        self.valid += other.valid
        self.satisfied += other.satisfied
        for lv, n in other.levels.items():
            self.levels[lv] = self.levels.get(lv, 0) + n


@dataclass
class Dashboard:
    """Everything the dashboard shows, from one pass over the period's ratings."""
    overall: Figures
    by: dict[str, list[Figures]]     # dimension -> figures, best rate first
    trend: list[Figures]
    reasons: dict[str, int]          # code → valid ratings naming it, whatever their level
    comments: list[dict]
    #: code → how many of those were satisfied ratings (praise); the rest are complaints.
    #: Every level may tick reasons on the kiosk (the same steps whatever the answer).
    reasons_satisfied: dict[str, int] = field(default_factory=dict)

    def reasons_split(self) -> list[tuple[str, int, int, int]]:
        """(code, all, when satisfied, when not satisfied) in the configured order."""
        return [(code, n, self.reasons_satisfied.get(code, 0), n - self.reasons_satisfied.get(code, 0))
                for code, n in self.reasons.items()]


def _best_first(rows) -> list[Figures]:
    return sorted(rows, key=lambda f: (f.rate is None, -(f.rate or 0), -f.valid, f.key or ""))


class Stats:
    """The statistics of one ratings table on one scale.

    ``engine`` is only read from (the server passes its read-only engine,
    ``app.state.reader``): the roll-up is folded by ingest, never here.
    ``time_col`` is the column periods are cut on (the corrected time).
    """

    def __init__(self, engine, ratings: Table, time_col: str, scale: int = 3,
                 reasons: dict[str, tuple[str, str]] | None = None, rollup: bool = False,
                 surveys: dict[str, dict] | None = None):
        if scale not in SCALES:
            raise ValueError(f"scale: must be one of {sorted(SCALES)}")
        self.engine = engine
        self.reader = engine
        self.r = ratings
        self.time_col = time_col
        self.scale = scale
        self.reasons = dict(reasons or DEFAULT_REASONS)
        self.levels = [lv for lv, *_ in SCALES[scale]]
        self.rollup = rollup
        #: id → survey: a rating is satisfied by its own survey's set (a table without a
        #: survey column: every rating on ``scale``)
        self.surveys = dict(surveys or BUILTIN_SURVEYS)
        #: set by for_survey(): the one survey these figures are of (levels and labels are its own)
        self.survey_id: str | None = None
        self.survey_doc: dict | None = None

    def for_survey(self, survey_id: str) -> Stats:
        """The same statistics for the ratings of one survey: its levels (2 … 10 of them, highest
        first), its labels and its reasons. The filter still has to say ``survey=`` (the
        dashboard does it for itself)."""
        doc = self.surveys.get(survey_id)
        out = copy.copy(self)
        if not isinstance(doc, dict):
            return out
        out.survey_id, out.survey_doc = survey_id, doc
        scale = doc.get("scale")
        if isinstance(scale, int) and 1 <= scale <= 10:
            out.levels = list(range(scale, 0, -1))
            if scale in SCALES:
                out.scale = scale
        if doc is not BUILTIN_SURVEYS.get(survey_id):
            reasons = {}
            for r in doc.get("reasons") or ():
                if isinstance(r, dict) and isinstance(r.get("code"), str):
                    vi = r.get("vi") if isinstance(r.get("vi"), str) else r["code"]
                    reasons[r["code"]] = (vi, r.get("en") if isinstance(r.get("en"), str) else vi)
                elif isinstance(r, str):
                    reasons[r] = DEFAULT_REASONS.get(r, (r, r))
            out.reasons = reasons
        return out

    # the aggregate columns shared by every breakdown
    def _aggregates(self) -> list:
        r = self.r
        bad = misuse_expr(r)
        ok = not_(bad)
        one = literal(1)
        cols = [
            func.count().label("total"),
            func.sum(case((bad, one), else_=0)).label("misuse"),
            func.sum(case((and_(ok, self._satisfied(r)), one), else_=0)).label("satisfied"),
        ]
        for lv in self.levels:
            cols.append(func.sum(case((and_(ok, r.c.level == lv), one), else_=0)).label(f"lv{lv}"))
        return cols

    def _satisfied(self, r: Table):
        if "survey" in r.c:
            return satisfied_expr(r, self.surveys)
        return r.c.level.in_(satisfied_levels(self.scale))

    def _figures(self, row, key=None) -> Figures:
        m = row._mapping
        total = int(m["total"] or 0)
        misuse = int(m["misuse"] or 0)
        return Figures(key=key, total=total, misuse=misuse, valid=total - misuse,
                       satisfied=int(m["satisfied"] or 0),
                       levels={lv: int(m[f"lv{lv}"] or 0) for lv in self.levels})

    def overall(self, flt: Filter) -> Figures:
        q = select(*self._aggregates()).where(flt.where(self.r, self.time_col))
        with self.reader.connect() as conn:
            return self._figures(conn.execute(q).one())

    def by(self, dim: str, flt: Filter) -> list[Figures]:
        """Figures per unit / desk / officer / procedure, best rate first."""
        if dim not in DIMENSIONS:
            raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}")
        col = self.r.c[DIMENSIONS[dim]]
        q = (select(col.label("key"), *self._aggregates())
             .where(flt.where(self.r, self.time_col)).group_by(col))
        with self.reader.connect() as conn:
            rows = [self._figures(row, row.key) for row in conn.execute(q)]
        return _best_first(rows)

    def trend(self, flt: Filter, step: str = "month") -> list[Figures]:
        """Figures per local day / week (key = its Monday) / month, in time order."""
        if step not in TREND_STEPS:
            raise ValueError(f"step: must be one of {', '.join(TREND_STEPS)}")
        bucket = BUCKETS[step](self.r.c[self.time_col]).label("key")
        q = (select(bucket, *self._aggregates())
             .where(flt.where(self.r, self.time_col)).group_by(bucket).order_by(bucket))
        with self.reader.connect() as conn:
            return [self._figures(row, row.key) for row in conn.execute(q)]

    def _reason_sums(self) -> list:
        """Per reason code: valid ratings naming it (r<i>) and, of those, the satisfied ones (s<i>)."""
        r = self.r
        ok = not_(misuse_expr(r))
        cols = []
        for i, code in enumerate(self.reasons):
            named = and_(ok, r.c.reasons.is_not(None), _contains_code(r.c.reasons, code))
            cols.append(func.sum(case((named, literal(1)), else_=0)).label(f"r{i}"))
            cols.append(func.sum(case((and_(named, self._satisfied(r)), literal(1)), else_=0)).label(f"s{i}"))
        return cols

    def dashboard(self, flt: Filter, step: str = "month", comments: int = 20) -> Dashboard:
        """All the dashboard's figures from ONE grouped scan of the period.

        The database groups by (unit, desk, officer, procedure, time bucket):
        a few thousand groups at most, which Python then rolls up into the
        overall figures, each breakdown and the trend. Reading the period's
        rows once instead of once per figure is what keeps a year of a busy
        town under a second.
        """
        if step not in TREND_STEPS:
            raise ValueError(f"step: must be one of {', '.join(TREND_STEPS)}")
        if flt.survey and self.survey_id != flt.survey and flt.survey in self.surveys:
            return self.for_survey(flt.survey).dashboard(flt, step, comments)
        if self.rollup:
            return self._dashboard_rollup(flt, step, comments)
        r = self.r
        dims = [r.c[c].label(d) for d, c in DIMENSIONS.items()]
        bucket = BUCKETS[step](r.c[self.time_col]).label("bucket")
        q = (select(*dims, bucket, *self._aggregates(), *self._reason_sums())
             .where(flt.where(r, self.time_col)).group_by(*dims, bucket))
        overall = Figures()
        groups: dict[str, dict] = {d: {} for d in DIMENSIONS}
        trend: dict[str, Figures] = {}
        reasons = dict.fromkeys(self.reasons, 0)
        pleased = dict.fromkeys(self.reasons, 0)
        with self.reader.connect() as conn:
            for row in conn.execute(q):
                fig = self._figures(row)
                overall.add(fig)
                for d in DIMENSIONS:
                    key = row._mapping[d]
                    groups[d].setdefault(key, Figures(key=key, levels=dict.fromkeys(self.levels, 0))).add(fig)
                trend.setdefault(row.bucket, Figures(key=row.bucket,
                                                     levels=dict.fromkeys(self.levels, 0))).add(fig)
                for i, code in enumerate(self.reasons):
                    reasons[code] += int(row._mapping[f"r{i}"] or 0)
                    pleased[code] += int(row._mapping[f"s{i}"] or 0)
        overall.levels = {lv: overall.levels.get(lv, 0) for lv in self.levels}
        return Dashboard(overall=overall, by={d: _best_first(g.values()) for d, g in groups.items()},
                         trend=[trend[k] for k in sorted(trend)], reasons=reasons,
                         comments=self.latest_comments(flt, comments) if comments else [],
                         reasons_satisfied=pleased)

    def _dashboard_rollup(self, flt: Filter, step: str, comments: int) -> Dashboard:
        """dashboard() read from the roll-up (core/rollup.py), which ingest keeps folded.

        Whole months read the month tables (a year of a town: some 10⁴ rows)
        for every figure but a daily or weekly trend, which reads the day
        tables (a quarter of a province: ~800 k day rows, one GROUP BY);
        anything else reads the day tables. Each figure is one small GROUP BY
        in the database.
        """
        p = flt.period
        whole_months = p.first_day.day == 1 and p.end_day.day == 1
        day_range = (p.first_day.isoformat(), p.end_day.isoformat())
        if whole_months:
            t, tr = rollup.rollup_month, rollup.rollup_reason_month
            lo, hi = p.first_day.isoformat()[:7], p.end_day.isoformat()[:7]
        else:
            t, tr = rollup.rollup_day, rollup.rollup_reason_day
            lo, hi = day_range
        # the trend's table: the month table only for a monthly trend of whole months
        tt = t if whole_months and step == "month" else rollup.rollup_day

        def where(table):
            if table is rollup.rollup_day or table is rollup.rollup_reason_day:
                return self._rollup_where(table, flt, *day_range)
            return self._rollup_where(table, flt, lo, hi)

        def sums_of(table):
            return [func.sum(table.c.total).label("total"), func.sum(table.c.misuse).label("misuse"),
                    func.sum(table.c.satisfied).label("satisfied"),   # each rating by its own survey, at fold time
                    *[func.sum(table.c[f"l{lv}"]).label(f"lv{lv}") for lv in self.levels]]

        if step == "day" or tt is rollup.rollup_month:
            bucket = tt.c.at
        elif step == "week":
            bucket = WeekOfDay(tt.c.at)
        else:
            bucket = func.substr(tt.c.at, 1, 7)
        sums = sums_of(t)
        by = {}
        with self.reader.connect() as conn:
            # PostgreSQL: the overall figures, each breakdown (and the trend when it reads the same table by a
            # column) from ONE scan of the period's roll-up rows, GROUPING SETS; the same rows as one
            # GROUP BY each (issue 13: a province's year, six scans of ~10⁵ month rows)
            same_trend = tt is t and bucket is tt.c.at
            if conn.dialect.name == "postgresql":
                cols = [t.c[col] for col in DIMENSIONS.values()] + ([bucket] if same_trend else [])
                labels = [f"k{i}" for i in range(len(cols))]
                q = (select(*[c.label(k) for c, k in zip(cols, labels)], func.grouping(*cols).label("g"), *sums)
                     .where(where(t)).group_by(func.grouping_sets(text("()"), *[tuple_(c) for c in cols])))
                full = (1 << len(cols)) - 1       # GROUPING(): a bit set for each column not grouped by
                sets: dict[int, list] = {}
                for row in conn.execute(q):
                    sets.setdefault(row.g, []).append(row)
                overall = self._figures(sets[full][0]) if full in sets else Figures(
                    levels=dict.fromkeys(self.levels, 0))
                for i, d in enumerate(DIMENSIONS):
                    rows = sets.get(full ^ (1 << (len(cols) - 1 - i)), [])
                    by[d] = _best_first(self._figures(row, row._mapping[labels[i]] or None) for row in rows)
                if same_trend:
                    rows = sets.get(full ^ 1, [])
                    trend = sorted((self._figures(row, row._mapping[labels[-1]]) for row in rows),
                                   key=lambda f: f.key)
            else:
                overall = self._figures(conn.execute(select(*sums).where(where(t))).one())
                for d, col in DIMENSIONS.items():
                    key = t.c[col].label("key")
                    rows = conn.execute(select(key, *sums).where(where(t)).group_by(key))
                    by[d] = _best_first(self._figures(row, row.key or None) for row in rows)   # "" = none
            if not (same_trend and conn.dialect.name == "postgresql"):
                b = bucket.label("key")
                trend = [self._figures(row, row.key) for row in
                         conn.execute(select(b, *sums_of(tt)).where(where(tt)).group_by(b).order_by(b))]
            counted = {code: (n, sat) for code, n, sat in conn.execute(
                select(tr.c.code, func.sum(tr.c.n), func.sum(tr.c.satisfied)).where(where(tr)).group_by(tr.c.code))}
        reasons = {code: int(counted.get(code, (0, 0))[0] or 0) for code in self.reasons}
        pleased = {code: int(counted.get(code, (0, 0))[1] or 0) for code in self.reasons}
        return Dashboard(overall=overall, by=by, trend=trend, reasons=reasons,
                         comments=self.latest_comments(flt, comments) if comments else [],
                         reasons_satisfied=pleased)

    @staticmethod
    def _rollup_counts(flt: Filter):
        """(count table, lo, hi) of the roll-up for the filter's period: months when whole, else days."""
        p = flt.period
        if p.first_day.day == 1 and p.end_day.day == 1:
            return rollup.rollup_month, p.first_day.isoformat()[:7], p.end_day.isoformat()[:7]
        return rollup.rollup_day, p.first_day.isoformat(), p.end_day.isoformat()

    @staticmethod
    def _rollup_where(table, flt: Filter, lo: str, hi: str):
        parts = [table.c.at >= lo, table.c.at < hi]
        for d, col in DIMENSIONS.items():
            value = getattr(flt, d)
            if value is not None and value != "":
                parts.append(table.c[col] == value)
        if flt.survey:
            parts.append(table.c.survey == flt.survey)
        return and_(*parts)

    def reason_counts(self, flt: Filter) -> dict[str, int]:
        """How many valid ratings named each reason (configured order)."""
        r = self.r
        cols = self._reason_sums()
        if not cols:
            return {}
        q = select(*cols).where(flt.where(r, self.time_col))
        with self.reader.connect() as conn:
            row = conn.execute(q).one()
        return {code: int(row._mapping[f"r{i}"] or 0) for i, code in enumerate(self.reasons)}

    def _with_comment(self, flt: Filter) -> ColumnElement:
        r = self.r
        return and_(flt.where(r, self.time_col), r.c.comment.is_not(None), r.c.comment != "")

    def comment_count(self, flt: Filter, exact: bool = False) -> int:
        """How many ratings of the filter carry a comment (misuse included: they are shown).

        From the roll-up (a few thousand rows for a year) unless ``exact``: the comments page,
        which pages through the ratings themselves, counts them (an index range of the period)."""
        if self.rollup and not exact:
            t, lo, hi = self._rollup_counts(flt)
            q = select(func.sum(t.c.comments)).where(self._rollup_where(t, flt, lo, hi))
            with self.reader.connect() as conn:
                return int(conn.execute(q).scalar() or 0)
        q = select(func.count()).select_from(self.r).where(self._with_comment(flt))
        with self.reader.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def comments(self, flt: Filter, limit: int = 50, offset: int = 0) -> list[dict]:
        """The ratings with a comment, newest first (ties by id, so pages never overlap), ``limit``
        of them from ``offset``; misuse included (marked ``misuse``: they are shown, not counted)."""
        r = self.r
        extra = [r.c.survey] if "survey" in r.c else []
        q = (select(r.c.id, r.c[self.time_col].label("at"), r.c.unit_code, r.c.desk_id,
                    r.c.officer_id, r.c.procedure_code, r.c.level, r.c.reasons, r.c.comment, r.c.flags, *extra)
             .where(self._with_comment(flt))
             .order_by(r.c[self.time_col].desc(), r.c.id.desc()).limit(limit).offset(offset))
        with self.reader.connect() as conn:
            out = []
            for row in conn.execute(q):
                d = dict(row._mapping)
                d["misuse"] = any(f'"{f}"' in (d.pop("flags") or "") for f in MISUSE_FLAGS)
                try:
                    reasons = json.loads(d["reasons"] or "[]")
                except ValueError:
                    reasons = []
                d["reasons"] = [c for c in reasons if isinstance(c, str)] if isinstance(reasons, list) else []
                # the level in the words of the rating's own survey: (vi, en), None when it has none
                d["level_words"] = self._level_words(d.get("survey"), d["level"])
                out.append(d)
            return out

    def _level_words(self, survey_id: str | None, level) -> tuple[str, str] | None:
        doc = self.surveys.get(survey_id) if survey_id else None
        found = ((doc or {}).get("labels") or {}).get(str(level)) if isinstance(doc, dict) else None
        if not isinstance(found, dict) or not isinstance(found.get("vi"), str):
            return None
        return found["vi"], found.get("en") if isinstance(found.get("en"), str) else found["vi"]

    def latest_comments(self, flt: Filter, limit: int = 20) -> list[dict]:
        """The newest ratings with a comment (misuse included: they are shown)."""
        return self.comments(flt, limit)

    def level_label(self, level: int, english: bool = False) -> str:
        if self.survey_doc is not None:
            found = (self.survey_doc.get("labels") or {}).get(str(level))
            if isinstance(found, dict):
                word = found.get("en" if english else "vi") or found.get("vi")
                if isinstance(word, str) and word:
                    return word
        for lv, vi, en, _sat in SCALES[self.scale]:
            if lv == level:
                return en if english else vi
        return str(level)


def town_stats(reader) -> Stats:
    """The statistics of the town's ratings, on its survey's scale and reasons, from the roll-up.

    What the pages, the JSON report and the Word report read; ``reader`` is
    the read-only engine.
    """
    with reader.connect() as conn:
        sv = survey(conn)
        surveys = known_surveys(conn)
    reasons = {c: DEFAULT_REASONS.get(c, (c, c)) for c in sv["reasons"]}
    return Stats(reader, db.ratings, "corrected_at", scale=sv["scale"], reasons=reasons, rollup=True,
                 surveys=surveys)
