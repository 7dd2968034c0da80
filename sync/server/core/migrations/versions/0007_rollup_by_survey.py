"""the roll-up is kept per survey, counts on time / late, and the answers of each question

Issue 12 reports per survey and per question: a dashboard filtered by
survey, a campaign's figures beside the one-tap survey's, and each extra
question's answers per level. So:

* the survey id joins the key of every roll-up table (``rollup_day``,
  ``rollup_month`` and the reason tables);
* the count tables gain ``on_time`` and ``late``: valid ratings that carry
  the signed flag of a receipt with the appointment date; and ``comments``:
  ratings with a comment (misuse included), so that the dashboard's "all n
  comments" does not count a year of ratings (2–3 s over 5 M);
* ``rollup_answer_day`` / ``rollup_answer_month``: key + question code +
  value (1 … scale; 0 when the question was skipped) → valid ratings;
* an index on ``ratings`` (survey, corrected_at): what reads one survey's
  own ratings (a campaign's kiosks and first/last rating, "has anyone
  answered it?" before a survey is replaced) reads only those.

The tables hold nothing that is not derivable from ``ratings``: they are
dropped and created again with the new key (portable DDL, no table rebuild
of millions of rows), and the roll-up cursor set back to 0. The server's
background catch-up (core/tasks.py) refolds every rating at start in
chunks of rollup.CHUNK ratings, and a batch that arrives meanwhile folds at
most one chunk in its own transaction (rollup.fold_in's limit). The alert
rules' cursor is kept: no alert is raised twice.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = range(11)
OLD = ("rollup_day", "rollup_reason_day", "rollup_month", "rollup_reason_month")
NEW = (*OLD, "rollup_answer_day", "rollup_answer_month")


def _key(with_survey: bool) -> list:
    cols = [sa.Column("at", sa.String(10), primary_key=True),
            sa.Column("unit_code", sa.String(200), primary_key=True),
            sa.Column("desk_id", sa.String(200), primary_key=True),
            sa.Column("officer_id", sa.String(200), primary_key=True),
            sa.Column("procedure_code", sa.String(200), primary_key=True)]
    if with_survey:
        cols.append(sa.Column("survey", sa.String(64), primary_key=True))
    return cols


def _counts(name: str, new: bool) -> None:
    extra = [sa.Column("on_time", sa.Integer(), nullable=False, server_default="0"),
             sa.Column("late", sa.Integer(), nullable=False, server_default="0"),
             sa.Column("comments", sa.Integer(), nullable=False, server_default="0")] if new else []
    op.create_table(
        name, *_key(new),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("misuse", sa.Integer(), nullable=False),
        *[sa.Column(f"l{lv}", sa.Integer(), nullable=False, server_default="0") for lv in LEVELS],
        sa.Column("satisfied", sa.Integer(), nullable=False, server_default="0"),
        *extra,
    )


def _reasons(name: str, new: bool) -> None:
    op.create_table(
        name, *_key(new),
        sa.Column("code", sa.String(100), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False, server_default="0"),
    )


def _answers(name: str) -> None:
    op.create_table(
        name, *_key(True),
        sa.Column("question", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )


def _create(new: bool) -> None:
    for period in ("day", "month"):
        _counts(f"rollup_{period}", new)
        _reasons(f"rollup_reason_{period}", new)
        if new:
            _answers(f"rollup_answer_{period}")


def _drop(names) -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    for name in names:
        if name in have:
            op.drop_table(name)


def upgrade() -> None:
    _drop(NEW)
    _create(new=True)
    op.create_index("ix_ratings_survey", "ratings", ["survey", "corrected_at"])
    op.execute("UPDATE rollup_cursor SET pk = 0 WHERE name = 'ratings'")


def downgrade() -> None:
    op.drop_index("ix_ratings_survey", "ratings")
    _drop(NEW)
    _create(new=False)
    op.execute("UPDATE rollup_cursor SET pk = 0 WHERE name = 'ratings'")
