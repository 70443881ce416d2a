"""finding resolution: what a fix changed, and which history entries were fixes

Revision ID: 0015_finding_resolution
Revises: 0014_tolerances
Create Date: 2026-12-06 12:20:00

docs/findings.md#fixes: `finding.resolution` holds the fix's `{action, at, changes}` as
JSON, `finding_event.action` the fix action of a history entry. Both nullable: the
findings and history already held are untouched and read as never fixed.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_finding_resolution'
down_revision: str | None = '0014_tolerances'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode rebuilds a table on SQLite to drop a column; reflection does not see
# AUTOINCREMENT, so say it again, or ids could be handed out twice.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table('finding', table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column('resolution', sa.Text(), nullable=True))
    with op.batch_alter_table('finding_event', table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column('action', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('finding_event', table_kwargs=KEEP) as batch:
        batch.drop_column('action')
    with op.batch_alter_table('finding', table_kwargs=KEEP) as batch:
        batch.drop_column('resolution')
