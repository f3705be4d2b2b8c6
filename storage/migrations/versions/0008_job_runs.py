"""job_runs: the last run of every scheduler job (for `cur status`)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

One row per job id (``process``, ``deliver``, ``crawl:12`` …): when it last started and finished,
whether it failed and with what message, and where it ran (host, pid; a worker's when the job ran
as a task). Written by the scheduler's job wrapper; read by `cur status`. Rerunnable: the table is
created only if it is not there yet.
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table('job_runs'):
        return
    op.create_table(
        'job_runs',
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('started_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('job_runs')
