"""post_analyses.address and sources.municipality: address-level incidents

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Adds ``post_analyses.address`` (the first street address a post names, ``весенний#12``; null for
existing analyses, filled as posts are processed) with an index, and ``sources.municipality`` (the
default municipality of a source's posts that name no place, ``cur sources add --municipality``).
Rerunnable after a crash midway (SQLite commits ``ALTER TABLE`` at once): each step checks first.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if 'address' not in {c['name'] for c in inspector.get_columns('post_analyses')}:
        op.add_column('post_analyses', sa.Column('address', sa.String(length=255), nullable=True))
    if 'ix_post_analyses_address' not in {i['name'] for i in inspector.get_indexes('post_analyses')}:
        op.create_index('ix_post_analyses_address', 'post_analyses', ['address'], unique=False)
    if 'municipality' not in {c['name'] for c in inspector.get_columns('sources')}:
        op.add_column('sources', sa.Column('municipality', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('municipality')
    op.drop_index('ix_post_analyses_address', table_name='post_analyses')
    with op.batch_alter_table('post_analyses', schema=None) as batch_op:
        batch_op.drop_column('address')
