"""api_idempotency: answers to back-office POSTs with an Idempotency-Key

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A back office that retries a POST (a lost answer, a timeout) sends the same
``Idempotency-Key``; the API answers it from this table instead of recording the
answer twice or refusing a second acknowledge. One row per (authority, key);
rows older than a day are removed as new ones are written.

Rerunnable after a crash midway: the table and index are created only if missing.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if 'api_idempotency' not in sa.inspect(bind).get_table_names():
        op.create_table('api_idempotency',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('authority_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['authority_id'], ['authorities.id'], name=op.f('fk_api_idempotency_authority_id_authorities'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency')),
        sa.UniqueConstraint('authority_id', 'key', name='uq_api_idempotency_authority_key'),
        )
    indexes = {i['name'] for i in sa.inspect(bind).get_indexes('api_idempotency')}
    if 'ix_api_idempotency_created_at' not in indexes:
        op.create_index('ix_api_idempotency_created_at', 'api_idempotency', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_api_idempotency_created_at', table_name='api_idempotency')
    op.drop_table('api_idempotency')
