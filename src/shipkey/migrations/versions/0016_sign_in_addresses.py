"""sign-in addresses: the address and user agent a sign-in link was used from

Recorded when the link is used, for the evidence's sign-ins and the sign-in sharing rule; cut
to the network and dropped after SHIPKEY_IP_RETENTION_DAYS like the others.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip_address", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_tokens", schema=None) as batch_op:
        batch_op.drop_column("user_agent")
        batch_op.drop_column("ip_address")
