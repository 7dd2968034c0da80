"""Who sees what: the one rule of users scoped to a unit (DESIGN.md, ``create-user --unit``).

A user with a unit (``users.unit_code``: a commune's admin or viewer) sees and
manages that unit's data only; a user without one (a province's, or a town
server with one unit) sees every unit. Every page and admin API route asks
this module, never ``users.unit_code`` itself, so the rule lives here once.

What belongs to a unit:

* a rating: its ``unit_code`` (the kiosk's unit when it was written);
* a desk: its ``unit_code``; an officer: the unit of their desk (an officer
  with no desk belongs to no unit: only every-unit users see them);
* a kiosk: its ``unit_code``;
* an alert: its kiosk's unit, else the unit of the officer (or kiosk) it is
  about (``subject``);
* a case: its ``unit_code``, else its kiosk's unit, else its officer's (as
  core/notify.Roster.unit_of, which tells a case's unit by mail);
* a letter issued: its ``unit_code``, else its officer's.

Settings that hold for every unit (alert thresholds, report issuer, scoring
criteria, surveys and the default survey, the catalogues of units and
procedures) are changed by every-unit admins only: :meth:`Scope.require_all`.

Asking for another unit's thing raises :class:`OutOfScope`; pages answer 403
with a page that says which unit the user may see, the API a 403 JSON error.
A thing found by id (an officer, a case, an alert) that is another unit's is
answered as not found where existence itself would tell something.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select, true
from sqlalchemy.sql import ColumnElement

from sync.server.core import db


class OutOfScope(Exception):
    """A user scoped to ``unit`` asked for something outside it (``what`` says what, in English);
    ``every_unit_only``: the thing is a setting of every unit, not another unit's."""

    def __init__(self, unit: str | None, what: str = "", every_unit_only: bool = False):
        super().__init__(f"user of unit {unit} may not {what}".strip())
        self.unit = unit
        self.what = what
        self.every_unit_only = every_unit_only


@dataclass(frozen=True)
class Scope:
    """The units a user sees: ``unit`` alone, or every unit when it is None."""

    unit: str | None = None

    @classmethod
    def of(cls, user: dict | None) -> "Scope":
        """The scope of a user row (``unit_code`` NULL or empty: every unit)."""
        unit = (user or {}).get("unit_code")
        return cls(unit if isinstance(unit, str) and unit.strip() else None)

    @property
    def every_unit(self) -> bool:
        return self.unit is None

    # --- yes/no about one thing -------------------------------------------------------------

    def allows(self, unit_code: str | None) -> bool:
        """Whether a thing of ``unit_code`` is this user's (a thing of no unit: every-unit users only)."""
        return self.unit is None or unit_code == self.unit

    def check(self, unit_code: str | None, what: str = "see another unit") -> None:
        if not self.allows(unit_code):
            raise OutOfScope(self.unit, what)

    def refuse(self, what: str) -> None:
        """Refuse what a scoped user asked of another unit (or of no unit); every-unit users pass."""
        if self.unit is not None:
            raise OutOfScope(self.unit, what)

    def require_all(self, what: str = "change a setting of every unit") -> None:
        """Only an every-unit user may go on (settings shared by every unit)."""
        if self.unit is not None:
            raise OutOfScope(self.unit, what, every_unit_only=True)

    def unit_of_officer(self, conn, officer_id: str) -> str | None:
        return conn.execute(select(db.desks.c.unit_code).join(db.officers, db.officers.c.desk_id == db.desks.c.id)
                            .where(db.officers.c.id == officer_id)).scalar()

    def unit_of_kiosk(self, conn, kiosk_id: str) -> str | None:
        return conn.execute(select(db.kiosks.c.unit_code).where(db.kiosks.c.id == kiosk_id)).scalar()

    def allows_officer(self, conn, officer_id: str) -> bool:
        return self.unit is None or self.unit_of_officer(conn, officer_id) == self.unit

    def allows_kiosk(self, conn, kiosk_id: str) -> bool:
        return self.unit is None or self.unit_of_kiosk(conn, kiosk_id) == self.unit

    def allows_desk(self, conn, desk_id: str) -> bool:
        return self.unit is None or conn.execute(
            select(db.desks.c.unit_code).where(db.desks.c.id == desk_id)).scalar() == self.unit

    # --- SQL: the rows of this scope (true() for every unit) --------------------------------

    def desk_ids(self):
        return select(db.desks.c.id).where(db.desks.c.unit_code == self.unit)

    def officer_ids(self):
        return select(db.officers.c.id).where(db.officers.c.desk_id.in_(self.desk_ids()))

    def kiosk_ids(self):
        return select(db.kiosks.c.id).where(db.kiosks.c.unit_code == self.unit)

    def units(self, column=db.units.c.code) -> ColumnElement:
        return true() if self.unit is None else column == self.unit

    def ratings(self, column=db.ratings.c.unit_code) -> ColumnElement:
        """Ratings (or roll-up rows, or any table with the rating's unit) of this scope."""
        return true() if self.unit is None else column == self.unit

    def desks(self, table=db.desks) -> ColumnElement:
        return true() if self.unit is None else table.c.unit_code == self.unit

    def officers(self, column=db.officers.c.id) -> ColumnElement:
        """Officers (or rows naming an officer in ``column``) of this scope."""
        return true() if self.unit is None else column.in_(self.officer_ids())

    def kiosks(self, column=db.kiosks.c.id) -> ColumnElement:
        return true() if self.unit is None else column.in_(self.kiosk_ids())

    def alerts(self, table=db.alerts) -> ColumnElement:
        if self.unit is None:
            return true()
        return or_(table.c.kiosk_id.in_(self.kiosk_ids()),
                   and_(table.c.kiosk_id.is_(None),
                        or_(table.c.subject.in_(self.officer_ids()), table.c.subject.in_(self.kiosk_ids()))))

    def cases(self, table=db.cases) -> ColumnElement:
        if self.unit is None:
            return true()
        unset = or_(table.c.unit_code.is_(None), table.c.unit_code == "")
        return or_(table.c.unit_code == self.unit,
                   and_(unset, or_(table.c.kiosk_id.in_(self.kiosk_ids()),
                                   and_(table.c.kiosk_id.is_(None), table.c.officer_id.in_(self.officer_ids())))))

    def letters(self, table=db.letters_issued) -> ColumnElement:
        if self.unit is None:
            return true()
        unset = or_(table.c.unit_code.is_(None), table.c.unit_code == "")
        return or_(table.c.unit_code == self.unit, and_(unset, table.c.officer_id.in_(self.officer_ids())))

    def users(self, table=db.users) -> ColumnElement:
        """The users this scope may name (a case's owner): its unit's, and every-unit users."""
        if self.unit is None:
            return true()
        return or_(table.c.unit_code == self.unit, table.c.unit_code.is_(None), table.c.unit_code == "")


EVERY_UNIT = Scope()

