"""licensing: license keys and their machine activations

At most one active activation per (license, machine): a partial unique index (SQLite and
PostgreSQL both support ``WHERE`` on an index), so a deactivated machine can activate again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:41:38.922534
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("purchase_id", sa.String(length=32), nullable=True),
        sa.Column(
            "license_type",
            sa.Enum(
                "PERPETUAL",
                "SUBSCRIPTION",
                "TRIAL",
                name="licensetype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "SUSPENDED",
                "REVOKED",
                "EXPIRED",
                name="licensestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("max_activations", sa.Integer(), nullable=False),
        sa.Column("activation_count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "activation_count <= max_activations",
            name=op.f("ck_licenses_activation_count_within_limit"),
        ),
        sa.CheckConstraint(
            "activation_count >= 0", name=op.f("ck_licenses_activation_count_positive")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_licenses_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_licenses_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_licenses_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("key", name=op.f("uq_licenses_key")),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licenses_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licenses_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licenses_purchase_id"), ["purchase_id"], unique=False)

    op.create_table(
        "license_activations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=False),
        sa.Column("machine_id", sa.String(length=255), nullable=False),
        sa.Column("machine_name", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_activations_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_activations")),
    )
    with op.batch_alter_table("license_activations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_activations_license_id"), ["license_id"], unique=False
        )
        batch_op.create_index(
            "uq_license_activations_active_machine",
            ["license_id", "machine_id"],
            unique=True,
            sqlite_where=sa.text("deactivated_at IS NULL"),
            postgresql_where=sa.text("deactivated_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("license_activations", schema=None) as batch_op:
        batch_op.drop_index("uq_license_activations_active_machine")
        batch_op.drop_index(batch_op.f("ix_license_activations_license_id"))

    op.drop_table("license_activations")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licenses_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_licenses_product_id"))
        batch_op.drop_index(batch_op.f("ix_licenses_customer_id"))

    op.drop_table("licenses")
