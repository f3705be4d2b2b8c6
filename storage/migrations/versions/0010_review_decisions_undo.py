"""review_decisions: details, reverted_at, reverted_by (undo of a review decision)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

An operator may undo a review decision: the row stays (``reverted_at``, ``reverted_by`` are set),
the post returns to the queue, and what the decision changed is put back from ``details``
(the incident the post joined or was taken from, the classification before a correction).
Existing decisions get empty details and are not reverted. Rerunnable after a crash midway.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('review_decisions')}
    if 'details' not in present:
        op.add_column('review_decisions', sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                                                    server_default='{}', nullable=False))
    if 'reverted_at' not in present:
        op.add_column('review_decisions', sa.Column('reverted_at', storage.types.UTCDateTime(timezone=True), nullable=True))
    if 'reverted_by' not in present:
        op.add_column('review_decisions', sa.Column('reverted_by', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_column('reverted_by')
        batch_op.drop_column('reverted_at')
        batch_op.drop_column('details')
