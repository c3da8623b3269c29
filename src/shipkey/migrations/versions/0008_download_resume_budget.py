"""downloads: the bytes a used link has sent as resumes

A used link resumes (Range after byte 0) until it expires, up to the file's size in all;
``resumed_bytes`` is the counter, raised by a conditional UPDATE that is also the check.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("downloads") as batch_op:
        batch_op.add_column(
            sa.Column("resumed_bytes", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("downloads") as batch_op:
        batch_op.drop_column("resumed_bytes")
