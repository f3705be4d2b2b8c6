"""fake_claims, fake_marks, fake_thresholds: the registry of debunked claims and the possible-fake marks

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

``fake_claims``: a debunked claim, its refutation and link, who added it and when (removal
deactivates; every change is in the audit log). ``fake_marks``: a post the processing pass found
similar to a claim (scores, the threshold then in force) and the operator's decision.
``fake_thresholds``: the matcher's threshold, one row per change (tuned on decided marks).
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fake_claims',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('claim', sa.Text(), nullable=False),
        sa.Column('refutation', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=1024), nullable=True),
        sa.Column('claim_hash', sa.String(length=64), nullable=False),
        sa.Column('added_by', sa.String(length=128), nullable=False),
        sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fake_claims')),
        sa.UniqueConstraint('claim_hash', name=op.f('uq_fake_claims_claim_hash')),
    )
    op.create_table(
        'fake_marks',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('claim_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('lemma_score', sa.Float(), nullable=False),
        sa.Column('vector_score', sa.Float(), nullable=False),
        sa.Column('threshold', sa.Float(), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('marked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=True),
        sa.Column('decided_by', sa.String(length=128), nullable=True),
        sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['claim_id'], ['fake_claims.id'], name=op.f('fk_fake_marks_claim_id_fake_claims'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_fake_marks_post_id_posts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fake_marks')),
        sa.UniqueConstraint('post_id', 'claim_id', name='uq_fake_marks_post_claim'),
    )
    op.create_index(op.f('ix_fake_marks_post_id'), 'fake_marks', ['post_id'])
    op.create_index(op.f('ix_fake_marks_claim_id'), 'fake_marks', ['claim_id'])
    op.create_index(op.f('ix_fake_marks_decision'), 'fake_marks', ['decision'])
    op.create_table(
        'fake_thresholds',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('threshold', sa.Float(), nullable=False),
        sa.Column('precision', sa.Float(), nullable=True),
        sa.Column('recall', sa.Float(), nullable=True),
        sa.Column('f1', sa.Float(), nullable=True),
        sa.Column('decided', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fake_thresholds')),
    )


def downgrade() -> None:
    op.drop_table('fake_thresholds')
    op.drop_table('fake_marks')
    op.drop_table('fake_claims')
