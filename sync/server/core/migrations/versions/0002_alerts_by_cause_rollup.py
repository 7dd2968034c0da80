"""alerts grouped by cause (subject, month, count, happened_at, open_key); roll-up tables in Alembic

Before this revision the roll-up tables were created by code on first use;
they are created here when missing and left as they are when present (their
content is derivable from ratings, and the cursor says what was folded).

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LEVELS = range(0, 11)


def _counts(name: str) -> None:
    op.create_table(
        name,
        sa.Column("at", sa.String(10), primary_key=True),
        sa.Column("unit_code", sa.String(200), primary_key=True),
        sa.Column("desk_id", sa.String(200), primary_key=True),
        sa.Column("officer_id", sa.String(200), primary_key=True),
        sa.Column("procedure_code", sa.String(200), primary_key=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("misuse", sa.Integer(), nullable=False),
        *[sa.Column(f"l{lv}", sa.Integer(), nullable=False) for lv in LEVELS],
    )


def _reasons(name: str) -> None:
    op.create_table(
        name,
        sa.Column("at", sa.String(10), primary_key=True),
        sa.Column("unit_code", sa.String(200), primary_key=True),
        sa.Column("desk_id", sa.String(200), primary_key=True),
        sa.Column("officer_id", sa.String(200), primary_key=True),
        sa.Column("procedure_code", sa.String(200), primary_key=True),
        sa.Column("code", sa.String(100), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    for name in ("rollup_day", "rollup_month"):
        if name not in have:
            _counts(name)
    for name in ("rollup_reason_day", "rollup_reason_month"):
        if name not in have:
            _reasons(name)
    if "rollup_cursor" not in have:
        op.create_table("rollup_cursor",
                        sa.Column("name", sa.String(40), primary_key=True),
                        sa.Column("pk", sa.Integer(), nullable=False))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("subject", sa.String(200), nullable=True))
        batch.add_column(sa.Column("month", sa.String(7), nullable=True))
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("happened_at", sa.String(40), nullable=True))
        batch.add_column(sa.Column("last_at", sa.String(40), nullable=True))
        batch.add_column(sa.Column("open_key", sa.String(300), nullable=True))
        batch.create_unique_constraint("uq_alerts_open_key", ["open_key"])
    op.execute("UPDATE alerts SET happened_at = created_at, last_at = created_at, subject = kiosk_id")


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_open_key", type_="unique")
        for col in ("open_key", "last_at", "happened_at", "count", "month", "subject"):
            batch.drop_column(col)
