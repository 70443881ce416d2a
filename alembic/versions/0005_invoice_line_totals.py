"""line count and line total kept on each vendor invoice

Revision ID: 0005_invoice_line_totals
Revises: 0004_targets
Create Date: 2026-11-27 07:25:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_invoice_line_totals'
down_revision: str | None = '0004_targets'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode rebuilds the table on SQLite; reflection does not see AUTOINCREMENT, so say
# it again, or ids could be handed out twice.
KEEP = {"sqlite_autoincrement": True}
AMOUNT = sa.Numeric(precision=20, scale=2).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table('vendor_invoice', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(
            sa.Column('line_count', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(sa.Column('lines_total', AMOUNT, nullable=False, server_default='0'))
    # Invoices already stored get their figures from their lines (on SQLite both columns
    # hold cents as integers, so the sum stays exact there too).
    op.execute(
        "UPDATE vendor_invoice SET "
        "line_count = (SELECT count(*) FROM vendor_invoice_line AS l "
        "WHERE l.invoice_id = vendor_invoice.id), "
        "lines_total = (SELECT coalesce(sum(l.amount), 0) FROM vendor_invoice_line AS l "
        "WHERE l.invoice_id = vendor_invoice.id)"
    )
    with op.batch_alter_table('vendor_invoice', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.alter_column('line_count', server_default=None)
        batch_op.alter_column('lines_total', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('vendor_invoice', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('lines_total')
        batch_op.drop_column('line_count')
