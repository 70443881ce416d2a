"""vendor invoice lines: the charge-end index carries charge_start too

Revision ID: 0010_vendor_line_charge_span
Revises: 0009_quickbooks_ids
Create Date: 2026-12-06 10:20:00

docs/vendor-bills.md#reading-lines-by-charge-date: a month's lines are those with
charge_end >= its first day and charge_start <= its last. With both columns in the index,
the lines of later months are passed over inside the index, without reading their rows.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0010_vendor_line_charge_span'
down_revision: str | None = '0009_quickbooks_ids'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_vendor_invoice_line_charge_end', table_name='vendor_invoice_line')
    op.create_index(
        'ix_vendor_invoice_line_charge_span',
        'vendor_invoice_line',
        ['charge_end', 'charge_start'],
    )


def downgrade() -> None:
    op.drop_index('ix_vendor_invoice_line_charge_span', table_name='vendor_invoice_line')
    op.create_index(
        'ix_vendor_invoice_line_charge_end', 'vendor_invoice_line', ['charge_end']
    )
