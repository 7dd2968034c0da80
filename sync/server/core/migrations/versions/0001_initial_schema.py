"""initial schema: kiosks, ratings, batches, alerts, users, tokens, roster, settings

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 15:55:11.736099

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=True),
    sa.Column('seq_from', sa.Integer(), nullable=True),
    sa.Column('seq_to', sa.Integer(), nullable=True),
    sa.Column('rating_id', sa.String(length=36), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('resolved_at', sa.String(length=40), nullable=True),
    sa.Column('acked_by', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_open', ['kiosk_id', 'resolved_at'], unique=False)

    op.create_table('batches',
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=36), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.String(length=40), nullable=True),
    sa.Column('skew_seconds', sa.Float(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('kiosk_id', 'idempotency_key')
    )
    op.create_table('desks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kiosks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('key_hex', sa.String(length=64), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('enrolled_at', sa.String(length=40), nullable=False),
    sa.Column('last_seen', sa.String(length=40), nullable=True),
    sa.Column('acked_through', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=True),
    sa.Column('pending', sa.Integer(), nullable=True),
    sa.Column('quarantined', sa.Integer(), nullable=True),
    sa.Column('kiosk_time', sa.String(length=40), nullable=True),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('printer_state', sa.String(length=200), nullable=True),
    sa.Column('scanner_state', sa.String(length=200), nullable=True),
    sa.Column('clock_skew', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('officers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('desk_id', sa.String(length=64), nullable=True),
    sa.Column('photo', sa.String(length=300), nullable=True),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('pin_hash', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('procedures',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('letter', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('ratings',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('unit_code', sa.String(length=200), nullable=False),
    sa.Column('desk_id', sa.String(length=200), nullable=False),
    sa.Column('officer_id', sa.String(length=200), nullable=False),
    sa.Column('dossier_code', sa.String(length=200), nullable=True),
    sa.Column('procedure_code', sa.String(length=200), nullable=True),
    sa.Column('receipt_id', sa.String(length=200), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('flags', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('sig', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.String(length=40), nullable=False),
    sa.Column('batch_key', sa.String(length=36), nullable=True),
    sa.Column('skew_seconds', sa.Float(), nullable=True),
    sa.Column('corrected_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('id'),
    sa.UniqueConstraint('kiosk_id', 'seq', name='uq_ratings_kiosk_seq')
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index('ix_ratings_corrected_at', ['corrected_at'], unique=False)
        batch_op.create_index('ix_ratings_officer', ['officer_id'], unique=False)

    op.create_table('settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('units',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('users',
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['username'], ['users.username'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('units')
    op.drop_table('settings')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_ratings_officer')
        batch_op.drop_index('ix_ratings_corrected_at')

    op.drop_table('ratings')
    op.drop_table('procedures')
    op.drop_table('officers')
    op.drop_table('kiosks')
    op.drop_table('desks')
    op.drop_table('batches')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_open')

    op.drop_table('alerts')
