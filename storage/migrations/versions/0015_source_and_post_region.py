"""sources.region, posts.region and users.region: many regions in one deployment

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Adds ``sources.region`` and ``posts.region`` (indexed): the region a source and its posts belong to.
Null means the deployment's default region (``settings.region``). Existing rows are filled with the
default region of the deployment that upgrades (``Database.upgrade(default_region=...)``, which
``cur db upgrade`` and every command pass), so that adding regions later never moves old rows; without
it (a bare ``alembic upgrade``) they stay null, which means the same.
Adds ``users.region``: the one region a user works in (null: every region served; not filled).
Rerunnable after a crash midway (SQLite commits ``ALTER TABLE`` at once): each step checks first.
"""
import sqlalchemy as sa
from alembic import context, op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if 'region' not in {c['name'] for c in inspector.get_columns('sources')}:
        op.add_column('sources', sa.Column('region', sa.String(length=64), nullable=True))
    if 'region' not in {c['name'] for c in inspector.get_columns('posts')}:
        op.add_column('posts', sa.Column('region', sa.String(length=64), nullable=True))
    if 'ix_posts_region' not in {i['name'] for i in inspector.get_indexes('posts')}:
        op.create_index('ix_posts_region', 'posts', ['region'], unique=False)
    if 'region' not in {c['name'] for c in inspector.get_columns('users')}:
        op.add_column('users', sa.Column('region', sa.String(length=64), nullable=True))
    region = context.config.attributes.get("default_region")
    if region:
        for table in ('sources', 'posts'):
            op.execute(sa.text(f"UPDATE {table} SET region = :region WHERE region IS NULL").bindparams(region=region))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('region')
    op.drop_index('ix_posts_region', table_name='posts')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('region')
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('region')
