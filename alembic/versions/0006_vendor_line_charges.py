"""vendor invoice lines: kind, charge period, subscription ref; services: metered

Revision ID: 0006_vendor_line_charges
Revises: 0005_invoice_line_totals
Create Date: 2026-12-06 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_vendor_line_charges'
down_revision: str | None = '0005_invoice_line_totals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode rebuilds the table on SQLite; reflection does not see AUTOINCREMENT, so say
# it again, or ids could be handed out twice.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table('vendor_invoice_line', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=16), nullable=False, server_default='recurring')
        )
        batch_op.add_column(sa.Column('charge_start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('charge_end', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('subscription_ref', sa.String(length=200), nullable=True))
    # Lines stored before charge periods existed charged their invoice's month: its
    # first and last day (period is 'YYYY-MM').
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "UPDATE vendor_invoice_line SET "
            "charge_start = to_date(period || '-01', 'YYYY-MM-DD'), "
            "charge_end = (to_date(period || '-01', 'YYYY-MM-DD') + INTERVAL '1 month' "
            "- INTERVAL '1 day')::date"
        )
    else:
        op.execute(
            "UPDATE vendor_invoice_line SET "
            "charge_start = date(period || '-01'), "
            "charge_end = date(period || '-01', '+1 month', '-1 day')"
        )
    with op.batch_alter_table('vendor_invoice_line', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.alter_column('charge_start', existing_type=sa.Date(), nullable=False)
        batch_op.alter_column('charge_end', existing_type=sa.Date(), nullable=False)
        batch_op.create_index('ix_vendor_invoice_line_charge_start', ['charge_start'])
        batch_op.create_index('ix_vendor_invoice_line_charge_end', ['charge_end'])
    with op.batch_alter_table('service', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(
            sa.Column('metered', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('service', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('metered')
    with op.batch_alter_table('vendor_invoice_line', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_index('ix_vendor_invoice_line_charge_end')
        batch_op.drop_index('ix_vendor_invoice_line_charge_start')
        batch_op.drop_column('subscription_ref')
        batch_op.drop_column('charge_end')
        batch_op.drop_column('charge_start')
        batch_op.drop_column('kind')
