"""payments: the Stripe event log, access grants, Stripe ids and refund/dispute state

``webhook_events`` is unique on (provider, event_id): each event takes effect once. Purchases get
Stripe's ids (a Checkout Session id is unique), and their buyer may be unknown until the payment
tells (e-mail and customer nullable).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:13:28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
# A JSON object: JSONB on PostgreSQL, JSON text elsewhere (spelled out here, not imported: a
# migration must not change when the models do).
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "RECEIVED",
                "PROCESSED",
                "WAITING",
                "IGNORED",
                "FAILED",
                name="eventstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("payload", JSON_OBJECT, nullable=False),
        sa.Column("purchase_id", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event_id"),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_events_object_id"), ["object_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_events_purchase_id"), ["purchase_id"], unique=False
        )
        batch_op.create_index("ix_webhook_events_received", ["received_at"], unique=False)

    op.create_table(
        "access_grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("purchase_id", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "COURSE",
                "MEMBERSHIP",
                "SUBSCRIPTION",
                name="accesskind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_access_grants_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grants")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_access_grants_purchase_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_grants_token_hash")),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("amount_refunded", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("stripe_checkout_session_id", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(sa.Column("stripe_customer_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("paid_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("customer_id", existing_type=sa.VARCHAR(length=32), nullable=True)
        batch_op.alter_column("email", existing_type=sa.VARCHAR(length=320), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_purchases_stripe_payment_intent_id"),
            ["stripe_payment_intent_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_purchases_stripe_subscription_id"),
            ["stripe_subscription_id"],
            unique=False,
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_purchases_stripe_checkout_session_id"), ["stripe_checkout_session_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_purchases_stripe_checkout_session_id"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_purchases_stripe_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_purchases_stripe_payment_intent_id"))
        batch_op.alter_column("email", existing_type=sa.VARCHAR(length=320), nullable=False)
        batch_op.alter_column("customer_id", existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.drop_column("ended_at")
        batch_op.drop_column("paid_until")
        batch_op.drop_column("stripe_customer_id")
        batch_op.drop_column("stripe_subscription_id")
        batch_op.drop_column("stripe_payment_intent_id")
        batch_op.drop_column("stripe_checkout_session_id")
        batch_op.drop_column("amount_refunded")
        batch_op.drop_column("disputed_at")
        batch_op.drop_column("failed_at")

    op.drop_table("access_grants")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_received")
        batch_op.drop_index(batch_op.f("ix_webhook_events_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_events_object_id"))

    op.drop_table("webhook_events")
