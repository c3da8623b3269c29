"""lists, imports and key pools: list indexes, imported order ids, verbatim keys, key pools

The admin lists page newest first by (created_at, id), filtered by one column: an index for
each. A product records whether it has a key pool. An imported sale keeps its platform's order id (unique per platform); an imported or
pooled license key is kept verbatim and found by exact match.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_created_at_id", ["created_at", "id"], unique=False)

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_pool", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch_op.drop_index(batch_op.f("ix_purchases_email"))
        batch_op.create_index(
            "ix_purchases_status_created_at_id", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_purchases_product_created_at_id", ["product_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_purchases_email_created_at_id", ["email", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "uq_purchases_source_external_id", ["source", "external_id"], unique=True
        )

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verbatim", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.drop_index(batch_op.f("ix_licenses_customer_id"))
        batch_op.create_index(
            "ix_licenses_status_created_at_id", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_licenses_product_created_at_id", ["product_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_licenses_customer_created_at_id", ["customer_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "license_key_pool",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("license_id", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_key_pool_license_id_licenses")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_license_key_pool_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_key_pool")),
        sa.UniqueConstraint("key", name="uq_license_key_pool_key"),
    )
    with op.batch_alter_table("license_key_pool", schema=None) as batch_op:
        batch_op.create_index(
            "ix_license_key_pool_product_free",
            ["product_id", "license_id", "created_at", "seq"],
            unique=False,
        )

    op.create_table(
        "license_key_pool_waits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("purchase_id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_license_key_pool_waits_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
            name=op.f("fk_license_key_pool_waits_purchase_id_purchases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_key_pool_waits")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_license_key_pool_waits_purchase_id")),
    )
    with op.batch_alter_table("license_key_pool_waits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_license_key_pool_waits_open",
            ["product_id", "filled_at", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("license_key_pool_waits", schema=None) as batch_op:
        batch_op.drop_index("ix_license_key_pool_waits_open")
    op.drop_table("license_key_pool_waits")
    with op.batch_alter_table("license_key_pool", schema=None) as batch_op:
        batch_op.drop_index("ix_license_key_pool_product_free")
    op.drop_table("license_key_pool")

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_customer_created_at_id")
        batch_op.drop_index("ix_licenses_product_created_at_id")
        batch_op.drop_index("ix_licenses_status_created_at_id")
        batch_op.create_index(batch_op.f("ix_licenses_customer_id"), ["customer_id"], unique=False)
        batch_op.drop_column("verbatim")

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("uq_purchases_source_external_id")
        batch_op.drop_index("ix_purchases_email_created_at_id")
        batch_op.drop_index("ix_purchases_product_created_at_id")
        batch_op.drop_index("ix_purchases_status_created_at_id")
        batch_op.create_index(batch_op.f("ix_purchases_email"), ["email"], unique=False)
        batch_op.drop_column("external_id")

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("key_pool")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_created_at_id")
