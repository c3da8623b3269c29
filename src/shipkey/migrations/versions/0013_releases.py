"""releases: versions of a product on a channel, and their signed files per platform

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("normalized", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("yanked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yank_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_releases_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("product_id", "normalized", name=op.f("uq_releases_product_id")),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_releases_product_id"), ["product_id"], unique=False)

    op.create_table(
        "release_artifacts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("release_id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_key", sa.String(length=512), nullable=False),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("arch", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("download_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_release_artifacts_release_id_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_artifacts")),
        sa.UniqueConstraint("file_key", name=op.f("uq_release_artifacts_file_key")),
        sa.UniqueConstraint(
            "release_id", "file_name", name=op.f("uq_release_artifacts_release_id")
        ),
    )
    with op.batch_alter_table("release_artifacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_release_artifacts_release_id"), ["release_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("release_artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_artifacts_release_id"))
    op.drop_table("release_artifacts")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_releases_product_id"))
    op.drop_table("releases")
