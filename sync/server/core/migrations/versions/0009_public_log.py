"""the public log: ratings as leaves of an RFC 9162 Merkle tree, its node cache, its signed checkpoints

Issue 15 (docs/public-log.md). ``log_leaves`` gives each rating its leaf
index, in pk order (the town's commit order, core/leases.ratings_lock);
``log_nodes`` caches complete subtrees of 256 leaves and more;
``log_checkpoints`` keeps every signed checkpoint. Existing ratings are
backfilled here in pk order (``row_number()``, SQLite 3.25+ and
PostgreSQL); the node cache of a backfilled log is built by the server at
start (core/tasks.py), not here, so a big town upgrades in seconds.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rating_pk", sa.Integer(), nullable=False, unique=True),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("tree_size", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.execute("INSERT INTO log_leaves (idx, rating_pk) "
               "SELECT row_number() OVER (ORDER BY pk) - 1, pk FROM ratings")


def downgrade() -> None:
    op.drop_table("log_checkpoints")
    op.drop_table("log_nodes")
    op.drop_table("log_leaves")
