"""import profiles: how a distributor's CSV file becomes vendor invoices

Revision ID: 0007_import_profiles
Revises: 0006_vendor_line_charges
Create Date: 2026-12-08 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_import_profiles'
down_revision: str | None = '0006_vendor_line_charges'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_key', sa.String(length=100), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('delimiter', sa.String(length=1), nullable=True),
    sa.Column('decimal_separator', sa.String(length=1), nullable=False),
    sa.Column('date_format', sa.String(length=10), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('cycle_months', sa.JSON(), nullable=False),
    sa.Column('skip', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendor.id'], name=op.f('fk_import_profile_vendor_id_vendor'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_profile')),
    sa.UniqueConstraint('name', name=op.f('uq_import_profile_name')),
    sa.UniqueConstraint('name_key', name=op.f('uq_import_profile_name_key')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('import_profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_profile_vendor_id'), ['vendor_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_profile_vendor_id'))
    op.drop_table('import_profile')
