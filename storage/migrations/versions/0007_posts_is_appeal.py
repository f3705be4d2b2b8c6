"""posts.is_appeal: appeals from a feedback platform

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Adds ``posts.is_appeal`` (false for every existing post): set by ``cur import --kind appeals`` and
by file sources with ``kind: appeals``; the classifier skips the relevance question for them.
Rerunnable after a crash midway (SQLite commits ``ALTER TABLE`` at once): the column is added only
if it is not there yet.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('posts')}
    if 'is_appeal' not in present:
        op.add_column('posts', sa.Column('is_appeal', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('is_appeal')
