"""cancellation deadlines: vendor lines' term_end, vendors' cancel_window_days

Revision ID: 0013_cancellation_deadlines
Revises: 0012_outbound_events
Create Date: 2026-12-06 12:00:00

docs/cancellations.md: two nullable columns. Lines and vendors already held keep their
data; a line without term_end has its term end with its charge, and a vendor without a
window has none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_cancellation_deadlines"
down_revision: str | None = "0012_outbound_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch mode rebuilds the table on SQLite; reflection does not see AUTOINCREMENT, so say
# it again, or ids could be handed out twice.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("vendor_invoice_line", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("term_end", sa.Date(), nullable=True))
    with op.batch_alter_table("vendor", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("cancel_window_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vendor", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column("cancel_window_days")
    with op.batch_alter_table("vendor_invoice_line", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column("term_end")
