"""customers and services: quickbooks_id, their Ids in QuickBooks Online

Revision ID: 0009_quickbooks_ids
Revises: 0008_vendor_six_decimals
Create Date: 2026-12-06 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_quickbooks_ids'
down_revision: str | None = '0008_vendor_six_decimals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode rebuilds the table on SQLite; reflection does not see AUTOINCREMENT, so say
# it again, or ids could be handed out twice.
KEEP = {"sqlite_autoincrement": True}
TABLES = ('customer', 'service')


def upgrade() -> None:
    # Nullable and without a default: every existing row stays as it is, unmapped.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.add_column(sa.Column('quickbooks_id', sa.String(length=64), nullable=True))
            batch_op.create_index(
                batch_op.f(f'ix_{table}_quickbooks_id'), ['quickbooks_id'], unique=False
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_quickbooks_id'))
            batch_op.drop_column('quickbooks_id')
