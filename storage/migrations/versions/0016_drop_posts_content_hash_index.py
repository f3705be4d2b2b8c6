"""posts: drop the index on content_hash, which no query uses

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

``ix_posts_content_hash`` indexed the sha256 of every post's text. No query looks posts up by it
(the hash is read with the post and compared in memory: analyses, grouping), so it only cost writes:
a 64-character random key, one B-tree insert at a random place per post. Once the index outgrew
what a batch of posts dirties (about 100k posts), every imported post wrote one more page, and it was
the larger of the two randomly-ordered indexes behind SQLite's growing per-post import cost
(docs/import.md, Scale). Rerunnable: dropped only if present.
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if 'ix_posts_content_hash' in {i['name'] for i in sa.inspect(op.get_bind()).get_indexes('posts')}:
        op.drop_index('ix_posts_content_hash', table_name='posts')


def downgrade() -> None:
    op.create_index('ix_posts_content_hash', 'posts', ['content_hash'], unique=False)
