"""users.session_generation: signing out and changing one's password end the account's sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Session cookies are signed and carry a fingerprint of the password hash and of
this number; the server refuses a cookie whose number is not the account's
current one. Signing out and a password change add one, so a cookie copied
before that no longer works anywhere. Existing accounts start at 0 (their
current cookies stay valid until the next sign-out, as before).

Rerunnable after a crash midway: the column is added only if missing.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('users')}
    if 'session_generation' not in present:
        op.add_column('users', sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
