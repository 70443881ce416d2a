"""event subscriptions: the previous secret, still signing until a time, after a rotation

Revision ID: 0016_event_secret_rotation
Revises: 0015_finding_resolution
Create Date: 2026-12-06 13:30:00

docs/events.md#rotating-the-secret: `POST /event-subscriptions/{id}/secret` gives a new
secret; the one it replaces keeps signing (a second signature) until
`previous_secret_until`. Both nullable: existing subscriptions have no previous secret.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_event_secret_rotation'
down_revision: str | None = '0015_finding_resolution'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode rebuilds a table on SQLite to drop a column; reflection does not see
# AUTOINCREMENT, so say it again, or ids could be handed out twice.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table('event_subscription', table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column('previous_secret', sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column('previous_secret_until', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('event_subscription', table_kwargs=KEEP) as batch:
        batch.drop_column('previous_secret_until')
        batch.drop_column('previous_secret')
