"""protocol v2: ratings carry survey, answers, wire_version and server_flags; roll-up counts satisfied

Existing ratings are protocol v1 records (hailong 0.1): their sealed fields
are not touched. They get wire_version 1 (the admin pull returns them
without survey and answers, as sealed), answers '{}' and server_flags '[]',
and the survey the town counted them on until now: the built-in survey of
the ``survey`` setting's scale (hl3 when none), so that no figure changes at
the upgrade.

The roll-up gains a ``satisfied`` count per group, computed at fold time
from each rating's own survey. Its rows are emptied and the roll-up cursor
set back to 0: the server's background catch-up (core/tasks.py) refolds
every rating at start, in chunks; the rating rules' own cursor is kept, so
no alert is raised twice.

Revision ID: 0003
Revises: 0002
"""
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COUNTS = ("rollup_day", "rollup_month")
ROLLUP = ("rollup_day", "rollup_reason_day", "rollup_month", "rollup_reason_month")


def _old_scale(bind) -> int:
    row = bind.execute(sa.text("SELECT value FROM settings WHERE key = 'survey'")).first()
    try:
        scale = int((json.loads(row[0]) or {}).get("scale", 3)) if row else 3
    except (ValueError, TypeError, AttributeError):
        scale = 3
    return scale if scale in (3, 4, 5) else 3


def upgrade() -> None:
    bind = op.get_bind()
    survey = f"hl{_old_scale(bind)}"
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("survey", sa.String(64), nullable=False, server_default="hl3"))
        batch.add_column(sa.Column("answers", sa.Text(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("wire_version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("server_flags", sa.Text(), nullable=False, server_default="[]"))
    if survey != "hl3":   # what they were counted on; rows to come default to hl3, as a v1 record is read
        op.execute(sa.text("UPDATE ratings SET survey = :s").bindparams(s=survey))
    op.create_index("ix_ratings_receipt", "ratings", ["receipt_id"])
    for name in COUNTS:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("satisfied", sa.Integer(), nullable=False, server_default="0"))
    for name in ROLLUP:
        op.execute(f"DELETE FROM {name}")
    op.execute("UPDATE rollup_cursor SET pk = 0 WHERE name = 'ratings'")


def downgrade() -> None:
    for name in COUNTS:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("satisfied")
    op.drop_index("ix_ratings_receipt", "ratings")
    with op.batch_alter_table("ratings") as batch:
        for col in ("server_flags", "wire_version", "answers", "survey"):
            batch.drop_column(col)
