"""event cursors (notification sweep progress) and the scheduler lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

``event_cursors`` replaces the two-day window of the notification sweep by a
persisted marker; ``scheduler_leases`` lets one ``cur run`` per database run
the jobs. A database coming from 0001 gets a ``notify:<region>`` cursor for
every region it has incidents of, placed just before the first event of the
last two days: the old sweep's window is swept once more (the outbox dedup
keys make that harmless) and nothing older is sent again years late.
"""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import storage.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

#: The window of the sweep before this revision.
OLD_WINDOW = timedelta(days=2)


def upgrade() -> None:
    # Rerunnable: SQLite (pysqlite) commits DDL at once, so a crash after a CREATE
    # leaves the table behind at revision 0001; a rerun skips what is already there.
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if 'event_cursors' not in present:
        _create_event_cursors()
    if 'scheduler_leases' not in present:
        _create_scheduler_leases()
    _seed_notification_cursors()


def _create_event_cursors() -> None:
    op.create_table('event_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('gaps', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_event_cursors'))
    )


def _create_scheduler_leases() -> None:
    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=255), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('acquired_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renewed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases'))
    )


def _seed_notification_cursors() -> None:
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    cutoff = now - OLD_WINDOW
    events = sa.table('incident_events', sa.column('id', sa.BigInteger()), sa.column('at', storage.types.UTCDateTime(timezone=True)))
    incidents = sa.table('incidents', sa.column('region', sa.String()))
    regions = [r for (r,) in bind.execute(sa.select(incidents.c.region).distinct()) if r]
    if not regions:
        return  # a new database: sweeps start from the first event
    first_recent = bind.execute(sa.select(sa.func.min(events.c.id)).where(events.c.at >= cutoff)).scalar()
    if first_recent is not None:
        last_id = int(first_recent) - 1
    else:
        last_id = int(bind.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)
    cursors = sa.table(
        'event_cursors', sa.column('name', sa.String()), sa.column('last_id', sa.BigInteger()),
        sa.column('gaps', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')), sa.column('updated_at', storage.types.UTCDateTime(timezone=True)),
    )
    have = {n for (n,) in bind.execute(sa.select(cursors.c.name))}
    rows = [{'name': f'notify:{r}', 'last_id': last_id, 'gaps': [], 'updated_at': now} for r in sorted(regions) if f'notify:{r}' not in have]
    if rows:
        op.bulk_insert(cursors, rows)


def downgrade() -> None:
    op.drop_table('scheduler_leases')
    op.drop_table('event_cursors')
