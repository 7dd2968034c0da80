"""alerts keep their message as kind + parameters; officers can be deactivated

``alerts.params`` (JSON object) holds what a page needs to word an alert in
the reader's language (officer, kiosk, seq range, counts, rates…); the old
``message`` column stays, filled in Vietnamese, for the admin pull and for
alerts raised before this version (params '{}': the page shows message).

``officers.active``: an officer who left is deactivated, not deleted: kept
in history and reports, gone from the kiosk's roster. Every existing
officer is active.

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("params", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("officers") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("officers") as batch:
        batch.drop_column("active")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("params")
