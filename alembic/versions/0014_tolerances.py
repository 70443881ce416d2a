"""tolerances: rules that hold findings back, and what each audit held back

Revision ID: 0014_tolerances
Revises: 0013_cancellation_deadlines
Create Date: 2026-12-06 12:30:00

docs/tolerances.md: one row per rule, its scope (type, customer, service) unique. A
finding held back keeps its row, naming the tolerance; an audit counts what it held back
apart. Existing findings were all shown (tolerance_id null) and existing audits held
nothing back (0, 0.00).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_tolerances"
down_revision: str | None = "0013_cancellation_deadlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode on SQLite rebuilds a table for some changes: it stays AUTOINCREMENT.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "tolerance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column(
            "max_units",
            sa.Numeric(precision=20, scale=6).with_variant(sa.BigInteger(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "max_percent",
            sa.Numeric(precision=20, scale=2).with_variant(sa.BigInteger(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "max_impact",
            sa.Numeric(precision=20, scale=2).with_variant(sa.BigInteger(), "sqlite"),
            nullable=True,
        ),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_tolerance_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_tolerance_service_id_service"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tolerance")),
        sa.UniqueConstraint("scope", name=op.f("uq_tolerance_scope")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("finding", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("tolerance_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("audit", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(
            sa.Column("suppressed_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "suppressed_impact",
                sa.Numeric(precision=20, scale=2).with_variant(sa.BigInteger(), "sqlite"),
                server_default="0",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("audit", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column("suppressed_impact")
        batch_op.drop_column("suppressed_count")
    with op.batch_alter_table("finding", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column("tolerance_id")
    op.drop_table("tolerance")
