"""vendor lines' quantities and unit costs, and findings' unit figures: 6 decimal places

Revision ID: 0008_vendor_six_decimals
Revises: 0007_import_profiles
Create Date: 2026-12-06 09:30:00

docs/vendor-bills.md#precision. PostgreSQL widens the NUMERIC scale (values kept as they
are); SQLite stores these columns as integers x 10^scale, so the stored values are
multiplied by 100. The downgrade refuses when a value has more than 4 decimals rather
than round it away.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_vendor_six_decimals'
down_revision: str | None = '0007_import_profiles'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    'vendor_invoice_line': ('quantity', 'unit_cost'),
    'finding': (
        'expected_quantity',
        'actual_quantity',
        'expected_unit_amount',
        'actual_unit_amount',
        'previous_unit_cost',
    ),
}
NULLABLE = {'vendor_invoice_line': False, 'finding': True}


def _rescale(scale_from: int, scale_to: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for table, columns in COLUMNS.items():
            for column in columns:
                op.alter_column(
                    table,
                    column,
                    existing_type=sa.Numeric(precision=20, scale=scale_from),
                    type_=sa.Numeric(precision=20, scale=scale_to),
                    existing_nullable=NULLABLE[table],
                )
        return
    for table, columns in COLUMNS.items():
        if scale_to > scale_from:
            factor = 10 ** (scale_to - scale_from)
            sets = ', '.join(f'{c} = {c} * {factor}' for c in columns)
        else:
            factor = 10 ** (scale_from - scale_to)
            sets = ', '.join(f'{c} = {c} / {factor}' for c in columns)
        op.execute(f'UPDATE {table} SET {sets}')


def upgrade() -> None:
    _rescale(4, 6)


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    for table, columns in COLUMNS.items():
        finer = ' OR '.join(
            f'{c} % 100 <> 0' if sqlite else f'{c} <> ROUND({c}, 4)' for c in columns
        )
        count = bind.execute(sa.text(f'SELECT COUNT(*) FROM {table} WHERE {finer}')).scalar()
        if count:
            raise RuntimeError(
                f'{count} rows of {table} hold more than 4 decimal places in '
                f'{", ".join(columns)}: revision 0007 cannot store them'
            )
    _rescale(6, 4)
