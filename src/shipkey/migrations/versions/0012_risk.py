"""risk: events a rule hit (open until cleared), networks a license was validated from, and a
purchase's review hold

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "DOWNLOAD_SHARING",
                "KEY_SHARING",
                "ACTIVATION_CHURN",
                "REPEAT_REFUNDER",
                "FRAUD_WARNING",
                name="riskkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum("OPEN", "CLEARED", name="riskstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("purchase_id", sa.String(length=32), nullable=True),
        sa.Column("license_id", sa.String(length=32), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "action", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_risk_events_license_id_licenses")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_risk_events_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_events")),
        sa.UniqueConstraint("open_key", name=op.f("uq_risk_events_open_key")),
    )
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.create_index("ix_risk_events_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_events_license_id"), ["license_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_events_purchase_id"), ["purchase_id"], unique=False
        )

    op.create_table(
        "license_sightings",
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_sightings_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("license_id", "day", "network", name=op.f("pk_license_sightings")),
    )

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("under_review_since", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("under_review_since")

    op.drop_table("license_sightings")
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_events_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_risk_events_license_id"))
        batch_op.drop_index("ix_risk_events_created_at_id")

    op.drop_table("risk_events")
