"""kiosks keep the health summary of their last heartbeat

Issue 14: a kiosk runs unattended for months, so its heartbeat carries a
small health summary (disk free, kiosk.db size, last backup, uptime, the
temperature on a Pi, whether its clock is NTP-synchronised, taps ignored
outside opening hours). ``kiosks.health`` holds it as a JSON object, NULL
until a kiosk of this version reports; the kiosks page shows it.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("health", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("health")
