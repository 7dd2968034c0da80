"""What was done about the ratings in a period: the cases (vụ việc), their actions, the letters.

Read straight from the tables of migration 0006 (``cases``, ``case_events``,
``letters_issued``) as the shared schema defines them; the cases code
(core/cases.py) writes them, this module only reads. A town has hundreds of
cases a year, not millions: the rows of the period are read once and
counted in Python, per unit and per officer at the same time.

The figures of a period ``P`` cut at ``cut`` (the period's end, or today's
end while it is still running — "số liệu đến ngày …"):

* **opened**: ``opened_at`` falls in the period (local calendar);
* **finished**: the case was dealt with in the period — its ``resolved_at``,
  or its ``closed_at`` when it was closed without being marked resolved,
  falls in the period; **on time** when that moment's local date is on or
  before ``due_date`` (the shared schema's "closed on time"), else **late**;
* **overdue**: opened before the cut, not finished by the cut, and due before
  the cut's "today" — today while the period runs, else the day after its last
  (the shared schema's "overdue", read at the cut);
* **on-time share** = on time ÷ (finished + overdue): of the cases that had to
  be dealt with, how many were dealt with in time (None when there were none);
* **unresolved nhũng nhiễu**: cases of kind ``nhung_nhieu`` opened before the
  cut and not finished by it, whatever their due date;
* **actions**: ``case_events`` of kind ``action`` in the period, per action kind;
* **letters**: ``letters_issued`` issued in the period, per letter kind, and how
  many of them were marked sent; **apology-worthy** cases are the cases opened
  in the period whose kind calls for an apology (``APOLOGY_KINDS`` by default),
  **apologised** those of them with an apology letter issued by the cut.

A reopened case lost its earlier resolved_at (the history stays in its log):
it counts as not finished until it is dealt with again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from sync import protocol
from sync.server.core import cases, db
from sync.server.core.clock import VN_TZ, parse_stored
from sync.server.reports.periods import Period

#: action codes of case_events.action and case kinds, with their Vietnamese words: core/cases' own
ACTIONS = cases.ACTION_LABELS
CASE_KINDS = cases.KIND_LABELS
#: the kinds of case whose cause a citizen is owed an apology for (the scoring's default)
APOLOGY_KINDS = ("nhung_nhieu",)
#: letters_issued.kind is a protocol letter kind; the roles' English names are read as the same kinds
_LETTER_ROLES = {"thanks": protocol.LETTER_THANKS, "apology": protocol.LETTER_APOLOGY,
                 "congratulation": protocol.LETTER_CONGRATULATION, "condolence": protocol.LETTER_CONDOLENCE}


def letter_kind(kind: str | None) -> str:
    return _LETTER_ROLES.get(kind or "") or protocol.letter_kind(kind) or (kind or "")


@dataclass
class CaseFigures:
    """The case figures of one subject (the whole filter, a unit, an officer) for a period."""
    opened: int = 0
    finished: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    unresolved_nn: list[int] = field(default_factory=list)    # ids of nhũng nhiễu cases not dealt with
    actions: dict[str, int] = field(default_factory=dict)      # action code → count
    letters: dict[str, int] = field(default_factory=dict)      # letter kind → issued
    letters_sent: dict[str, int] = field(default_factory=dict)  # letter kind → marked sent
    apology_worthy: int = 0
    apologised: int = 0
    opened_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def due(self) -> int:
        """The cases that had to be dealt with by the cut: finished in the period, or overdue."""
        return self.finished + self.overdue

    @property
    def on_time_share(self) -> float | None:
        return round(self.on_time * 100.0 / self.due, 1) if self.due else None

    @property
    def apology_share(self) -> float | None:
        return round(self.apologised * 100.0 / self.apology_worthy, 1) if self.apology_worthy else None

    @property
    def action_total(self) -> int:
        return sum(self.actions.values())

    @property
    def letter_total(self) -> int:
        return sum(self.letters.values())


@dataclass
class CaseReport:
    """The figures of a period: all of them, and per unit and per officer."""
    period: Period
    cut: datetime
    overall: CaseFigures
    by_unit: dict[str, CaseFigures]
    by_officer: dict[str, CaseFigures]

    def unit(self, code: str) -> CaseFigures:
        return self.by_unit.get(code) or CaseFigures()

    def officer(self, ident: str) -> CaseFigures:
        return self.by_officer.get(ident) or CaseFigures()


def cut_of(period: Period, today: date | None) -> datetime:
    """Where a period's figures stop: its end, or the end of ``today`` while it runs."""
    if today is not None and period.first_day <= today < period.end_day:
        return datetime.combine(today + timedelta(days=1), time.min, VN_TZ)
    return period.end


def _local_day(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def _due(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def figures(conn, period: Period, today: date | None = None, unit: str | None = None,
            officer: str | None = None, apology_kinds=APOLOGY_KINDS) -> CaseReport:
    """The case figures of ``period`` (optionally one unit or one officer), cut at ``cut_of``."""
    # compared in UTC, as the times are stored: aware datetimes of two zones compare slowly
    start, cut = period.start.astimezone(UTC), cut_of(period, today).astimezone(UTC)
    # "today" at the cut: a case due before it and not dealt with is overdue (a period that has
    # ended is read on the day after its last; a running one today)
    ref_day = today if today is not None and period.first_day <= today < period.end_day else period.end_day
    apology_kinds = set(apology_kinds)
    c = db.cases
    q = select(c.c.id, c.c.kind, c.c.officer_id, c.c.unit_code, c.c.opened_at, c.c.due_date,
               c.c.resolved_at, c.c.closed_at)
    if unit:
        q = q.where(c.c.unit_code == unit)
    if officer:
        q = q.where(c.c.officer_id == officer)
    overall = CaseFigures()
    by_unit: dict[str, CaseFigures] = {}
    by_officer: dict[str, CaseFigures] = {}

    def one(table: dict, key: str) -> CaseFigures:
        f = table.get(key)
        if f is None:
            f = table[key] = CaseFigures()
        return f

    def targets(unit_code, officer_id) -> list[CaseFigures]:
        """The figures a row counts in: the whole, its unit's, its officer's."""
        out = [overall]
        if unit_code:
            out.append(one(by_unit, unit_code))
        if officer_id:
            out.append(one(by_officer, officer_id))
        return out

    subject: dict[int, list[CaseFigures]] = {}     # case id → the figures it counts in
    worthy: dict[int, list[CaseFigures]] = {}
    for row in conn.execute(q):
        counts = subject[row.id] = targets(row.unit_code, row.officer_id)
        opened = parse_stored(row.opened_at)
        if opened is None or opened >= cut:
            continue
        done = parse_stored(row.resolved_at) or parse_stored(row.closed_at)
        due = _due(row.due_date)
        finished_by_cut = done is not None and done < cut
        for f in counts:
            if opened >= start:
                f.opened += 1
                f.opened_by_kind[row.kind] = f.opened_by_kind.get(row.kind, 0) + 1
                if row.kind in apology_kinds:
                    f.apology_worthy += 1
                    worthy.setdefault(row.id, []).append(f)
            if finished_by_cut and done >= start:
                f.finished += 1
                if due is None or _local_day(done) <= due:
                    f.on_time += 1
                else:
                    f.late += 1
            elif not finished_by_cut and due is not None and due < ref_day:
                f.overdue += 1
            if not finished_by_cut and row.kind == "nhung_nhieu":
                f.unresolved_nn.append(row.id)

    lo, hi = start, cut
    e = db.case_events
    for row in conn.execute(select(e.c.case_id, e.c.at, e.c.action).where(e.c.kind == "action")):
        if row.case_id not in subject:
            continue
        at = parse_stored(row.at)
        if at is None or not lo <= at < hi:
            continue
        code = row.action if row.action in ACTIONS else "other"
        for f in subject[row.case_id]:
            f.actions[code] = f.actions.get(code, 0) + 1

    li = db.letters_issued
    lq = select(li.c.kind, li.c.case_id, li.c.officer_id, li.c.unit_code, li.c.issued_at, li.c.sent_at)
    if unit:
        lq = lq.where(li.c.unit_code == unit)
    if officer:
        lq = lq.where(li.c.officer_id == officer)
    apologised: set[int] = set()
    for row in conn.execute(lq):
        at = parse_stored(row.issued_at)
        if at is None or at >= hi:
            continue
        kind = letter_kind(row.kind)
        if kind == protocol.LETTER_APOLOGY and row.case_id in worthy:
            apologised.add(row.case_id)
        if at < lo:
            continue
        # a case's letter counts where its case does
        counts = subject.get(row.case_id) or targets(row.unit_code, row.officer_id)
        for f in counts:
            f.letters[kind] = f.letters.get(kind, 0) + 1
            if row.sent_at:
                f.letters_sent[kind] = f.letters_sent.get(kind, 0) + 1
    for case_id in apologised:
        for f in worthy[case_id]:
            f.apologised += 1
    return CaseReport(period, cut, overall, by_unit, by_officer)

