"""alerts, alert_events: emerging problems

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

``alerts``: a spike of new problem posts in one municipality × sector × category
(``pipeline.alerts``), open while it lasts; ``alert_events``: its every state change.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'alerts',
        sa.Column('id', _ID, nullable=False),
        sa.Column('region', sa.String(length=64), nullable=False),
        sa.Column('municipality', sa.String(length=64), nullable=True),
        sa.Column('sector', sa.String(length=64), nullable=True),
        sa.Column('category', sa.String(length=64), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('opened_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expected', sa.Float(), nullable=False),
        sa.Column('p_value', sa.Float(), nullable=False),
        sa.Column('details', _JSON, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    )
    op.create_index('ix_alerts_region_state', 'alerts', ['region', 'state'])
    op.create_index(op.f('ix_alerts_opened_at'), 'alerts', ['opened_at'])
    op.create_table(
        'alert_events',
        sa.Column('id', _ID, nullable=False),
        sa.Column('alert_id', _ID, nullable=False),
        sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('data', _JSON, nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_events_alert_id_alerts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events')),
    )
    op.create_index(op.f('ix_alert_events_alert_id'), 'alert_events', ['alert_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_alert_events_alert_id'), table_name='alert_events')
    op.drop_table('alert_events')
    op.drop_index(op.f('ix_alerts_opened_at'), table_name='alerts')
    op.drop_index('ix_alerts_region_state', table_name='alerts')
    op.drop_table('alerts')
