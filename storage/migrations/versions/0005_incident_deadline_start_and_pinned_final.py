"""incidents.deadline_start_at and incidents.final_due_pinned: out of the JSON details

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

The incident service kept two values it reads on every answer and reroute in
``incidents.details``: ``deadline_start`` (an ISO string: where the countdown
of the current assignment started) and ``pinned_due`` (a list that only ever
held ``"final"``: a reopening fixed the final due time). They become real
columns; existing values are moved over and the keys removed from
``details``. The downgrade moves them back.

Rerunnable after a crash midway: columns are added only if missing, and a row
is rewritten only while it still has the old keys (the move of one row is one
UPDATE).
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BATCH = 500
_incidents = sa.table(
    'incidents',
    sa.column('id', sa.BigInteger()),
    sa.column('details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')),
    sa.column('deadline_start_at', storage.types.UTCDateTime(timezone=True)),
    sa.column('final_due_pinned', sa.Boolean()),
)


def _rows(bind, *columns):
    """All incidents, ``BATCH`` at a time, by id (each batch read completely before it is written)."""
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_incidents.c.id, *columns).where(_incidents.c.id > after).order_by(_incidents.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    present = {c['name'] for c in sa.inspect(bind).get_columns('incidents')}
    if 'deadline_start_at' not in present:
        op.add_column('incidents', sa.Column('deadline_start_at', storage.types.UTCDateTime(timezone=True), nullable=True))
    if 'final_due_pinned' not in present:
        op.add_column('incidents', sa.Column('final_due_pinned', sa.Boolean(), server_default=sa.false(), nullable=False))
    for incident_id, details in _rows(bind, _incidents.c.details):
        if not isinstance(details, dict) or not ({'deadline_start', 'pinned_due'} & details.keys()):
            continue
        rest = dict(details)
        start = rest.pop('deadline_start', None)
        pinned = rest.pop('pinned_due', None) or []
        values = {'details': rest, 'final_due_pinned': 'final' in pinned}
        if start:
            values['deadline_start_at'] = datetime.fromisoformat(start)
        bind.execute(sa.update(_incidents).where(_incidents.c.id == incident_id).values(**values))


def downgrade() -> None:
    bind = op.get_bind()
    cols = (_incidents.c.details, _incidents.c.deadline_start_at, _incidents.c.final_due_pinned)
    for incident_id, details, start, pinned in _rows(bind, *cols):
        if start is None and not pinned:
            continue
        back = dict(details or {})
        if start is not None:
            back['deadline_start'] = start.isoformat()
        if pinned:
            back['pinned_due'] = ['final']
        bind.execute(sa.update(_incidents).where(_incidents.c.id == incident_id).values(details=back))
    # ALTER TABLE ... DROP COLUMN on both backends (SQLite >= 3.35): a batch rebuild of
    # incidents would DROP the table, which other tables' foreign keys refuse.
    present = {c['name'] for c in sa.inspect(bind).get_columns('incidents')}
    for name in ('final_due_pinned', 'deadline_start_at'):
        if name in present:
            op.drop_column('incidents', name)
