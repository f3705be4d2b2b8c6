"""accounts: last sign-in, forced password change, API token last use

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Adds ``users.last_login_at``, ``users.must_change_password`` (false for every
existing account) and ``api_tokens.last_used_at``. ``last_login_at`` is filled
from the audit log: the latest ``login`` entry of each account (its target is
the login), read in one grouped pass over the log. Token use was never
recorded, so ``last_used_at`` starts empty.

Rerunnable after a crash midway: SQLite commits ``ALTER TABLE`` at once, so a
column that is already there is not added again, and the backfill only
recomputes values from the log.
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

NEW_COLUMNS = {
    'users': [
        lambda: sa.Column('last_login_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        lambda: sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False),
    ],
    'api_tokens': [
        lambda: sa.Column('last_used_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    ],
}


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in NEW_COLUMNS.items():
        present = {c['name'] for c in sa.inspect(bind).get_columns(table)}
        for column in (make() for make in columns):
            if column.name not in present:
                op.add_column(table, column)  # a plain ADD COLUMN on both backends (no table copy on SQLite)
    _backfill_last_login()


def _backfill_last_login() -> None:
    bind = op.get_bind()
    log = sa.table('audit_log', sa.column('action', sa.String()), sa.column('target', sa.String()), sa.column('at', storage.types.UTCDateTime(timezone=True)))
    users = sa.table('users', sa.column('login', sa.String()), sa.column('last_login_at', storage.types.UTCDateTime(timezone=True)))
    latest = sa.type_coerce(sa.func.max(log.c.at), storage.types.UTCDateTime(timezone=True))
    rows = bind.execute(
        sa.select(log.c.target, latest).where(log.c.action == 'login', log.c.target.is_not(None)).group_by(log.c.target)
    ).all()
    known = {login for (login,) in bind.execute(sa.select(users.c.login))}
    params = [{'who': login, 'at': at} for login, at in rows if login in known and at is not None]
    if params:
        bind.execute(users.update().where(users.c.login == sa.bindparam('who')).values(last_login_at=sa.bindparam('at')), params)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('last_login_at')
