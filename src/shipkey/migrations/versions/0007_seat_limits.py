"""seat limits: deactivations per product and how long license files live

``products.max_deactivations`` bounds how often a buyer may free a seat in 30 days, counted
from the activation rows that ``deactivated_by`` marks as freed by the buyer (the seller's reset
is not counted); ``products.license_file_days`` is how long an offline license file lives.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_deactivations", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.add_column(
            sa.Column("license_file_days", sa.Integer(), server_default="7", nullable=False)
        )
    with op.batch_alter_table("license_activations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "deactivated_by",
                sa.Enum("BUYER", "SELLER", name="deactivatedby", native_enum=False, length=16),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("license_activations", schema=None) as batch_op:
        batch_op.drop_column("deactivated_by")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("license_file_days")
        batch_op.drop_column("max_deactivations")
