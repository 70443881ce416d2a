"""outbound events: subscriptions, the outbox of deliveries, their attempts

Revision ID: 0012_outbound_events
Revises: 0011_price_book
Create Date: 2026-12-06 10:45:00

docs/events.md: deliveries are written in the transaction of the change that causes
them; the sender looks them up by (status, next_attempt_at).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_outbound_events"
down_revision: str | None = "0011_price_book"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_subscription")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "event_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["event_subscription.id"],
            name=op.f("fk_event_delivery_subscription_id_event_subscription"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_delivery")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("event_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_event_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_event_delivery_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "event_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["event_delivery.id"],
            name=op.f("fk_event_attempt_delivery_id_event_delivery"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_attempt")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("event_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_attempt_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("event_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_attempt_delivery_id"))

    op.drop_table("event_attempt")
    with op.batch_alter_table("event_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_delivery_subscription_id"))
        batch_op.drop_index("ix_event_delivery_due")

    op.drop_table("event_delivery")
    op.drop_table("event_subscription")
