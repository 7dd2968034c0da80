"""the roll-up counts each reason apart for satisfied and not satisfied ratings

Since issue 10 every level takes the same steps on the kiosk: a satisfied
citizen may tick reasons too ("Thái độ phục vụ" as praise). A reason count
that mixed praise and complaint would mislead, so the reason tables gain
``satisfied``: how many of the ``n`` ratings naming the code were satisfied
on their own survey. The roll-up is emptied and its cursor set back to 0:
the server's background catch-up (core/tasks.py) refolds every rating at
start, in chunks; the alert rules' cursor is kept (no alert raised twice).

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REASONS = ("rollup_reason_day", "rollup_reason_month")
ROLLUP = ("rollup_day", "rollup_reason_day", "rollup_month", "rollup_reason_month")


def upgrade() -> None:
    for name in REASONS:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("satisfied", sa.Integer(), nullable=False, server_default="0"))
    for name in ROLLUP:
        op.execute(f"DELETE FROM {name}")
    op.execute("UPDATE rollup_cursor SET pk = 0 WHERE name = 'ratings'")


def downgrade() -> None:
    for name in REASONS:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("satisfied")
