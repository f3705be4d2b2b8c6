"""answer quality: a reading of every official answer, a flag on the incident

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Adds to ``responses`` the answer-quality reading (``quality``: substantive | formulaic | refusal |
rude, ``quality_confidence``, ``quality_cues``), whether it awaits a person's review
(``quality_review``), who reviewed it (``quality_reviewed_by``) and whether the answer closed its
stage (``counted``; true for every existing answer). The incident's flag for the ЦУР head lives in
``incidents.details["answer_flag"]`` (no column). Rerunnable: columns are added only if they are
not there yet.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

RESPONSE_COLUMNS = [
    ('quality', lambda: sa.Column('quality', sa.String(length=16), nullable=True)),
    ('quality_confidence', lambda: sa.Column('quality_confidence', sa.Float(), nullable=True)),
    ('quality_cues', lambda: sa.Column('quality_cues', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True)),
    ('quality_review', lambda: sa.Column('quality_review', sa.Boolean(), server_default=sa.false(), nullable=False)),
    ('quality_reviewed_by', lambda: sa.Column('quality_reviewed_by', sa.String(length=128), nullable=True)),
    ('counted', lambda: sa.Column('counted', sa.Boolean(), server_default=sa.true(), nullable=False)),
]


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    present = {c['name'] for c in insp.get_columns('responses')}
    for name, column in RESPONSE_COLUMNS:
        if name not in present:
            op.add_column('responses', column())


def downgrade() -> None:
    with op.batch_alter_table('responses', schema=None) as batch_op:
        for name, _ in reversed(RESPONSE_COLUMNS):
            batch_op.drop_column(name)
