"""price book: a service's standard unit cost from a day on

Revision ID: 0011_price_book
Revises: 0010_vendor_line_charge_span
Create Date: 2026-12-06 10:40:00

docs/price-book.md: one row per (service, effective_from), the unit cost at 6 places as
vendor lines carry it. A new table: the data already held is untouched, and a service
with no entry keeps its own unit_cost as the standard.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_price_book'
down_revision: str | None = '0010_vendor_line_charge_span'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'service_cost',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column(
            'unit_cost',
            sa.Numeric(precision=20, scale=6).with_variant(sa.BigInteger(), 'sqlite'),
            nullable=False,
        ),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['service_id'],
            ['service.id'],
            name=op.f('fk_service_cost_service_id_service'),
            ondelete='RESTRICT',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_cost')),
        sa.UniqueConstraint(
            'service_id', 'effective_from', name=op.f('uq_service_cost_service_id_effective_from')
        ),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table('service_cost')
