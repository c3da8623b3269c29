"""trust and privacy: the audit log, consent and invoices on purchases, erased buyers

The audit log is append-only and hash-chained; ``audit_chain_head`` is its one-row head,
locked by every append. Purchases record the buyer's consent to immediate delivery (the
right of withdrawal, § 356 (5) BGB) and Stripe's invoice; customers when they were erased.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("details", JSON_OBJECT, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_log_seq")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at_id", ["at", "id"], unique=False)
        batch_op.create_index("ix_audit_log_actor_at", ["actor", "at"], unique=False)
        batch_op.create_index("ix_audit_log_action_at", ["action", "at"], unique=False)
        batch_op.create_index("ix_audit_log_target_at", ["target", "at"], unique=False)
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_accepted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("consent_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("consent_text_version", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("consent_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("stripe_invoice_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("invoice_url", sa.String(length=2048), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("invoice_url")
        batch_op.drop_column("stripe_invoice_id")
        batch_op.drop_column("consent_ip")
        batch_op.drop_column("consent_text_version")
        batch_op.drop_column("consent_text")
        batch_op.drop_column("consent_accepted_at")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target_at")
        batch_op.drop_index("ix_audit_log_action_at")
        batch_op.drop_index("ix_audit_log_actor_at")
        batch_op.drop_index("ix_audit_log_at_id")
    op.drop_table("audit_log")
