"""scale: indexes for the seller's lists, searches and dashboard, and for pruning; the
dashboard's settled days

Every admin list is paged newest first by ``(created_at, id)`` (keyset), so each has an index
on that pair. The dashboard counts per day from covering indexes (index-only scans). The
searches match any part of an e-mail address or a license key: on PostgreSQL trigram GIN
indexes (``pg_trgm``) answer those; SQLite keeps its plain scans. Pruning finds old finished
jobs, sent e-mails whose bodies are still kept, old webhook events and spent sign-in links by
index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BODIES_KEPT = "status = 'SENT' AND text_body <> ''"

INDEXES: list[tuple[str, str, list[str], dict[str, object]]] = [
    ("purchases", "ix_purchases_created_id", ["created_at", "id"], {}),
    (
        "purchases",
        "ix_purchases_completed_sales",
        ["completed_at", "status", "currency", "amount"],
        {},
    ),
    ("purchases", "ix_purchases_status", ["status"], {}),
    ("licenses", "ix_licenses_created_id", ["created_at", "id"], {}),
    ("mail_messages", "ix_mail_messages_created_id", ["created_at", "id"], {}),
    ("mail_messages", "ix_mail_messages_kind_status_sent", ["kind", "status", "sent_at"], {}),
    (
        "mail_messages",
        "ix_mail_messages_bodies_kept",
        ["sent_at"],
        {"sqlite_where": sa.text(BODIES_KEPT), "postgresql_where": sa.text(BODIES_KEPT)},
    ),
    ("downloads", "ix_downloads_downloaded_at", ["downloaded_at"], {}),
    ("jobs", "ix_jobs_status_finished", ["status", "finished_at"], {}),
    ("login_tokens", "ix_login_tokens_expires_at", ["expires_at"], {}),
]

TRIGRAMS = [
    ("purchases", "ix_purchases_email_trgm", "email"),
    ("customers", "ix_customers_email_trgm", "email"),
    ("licenses", "ix_licenses_key_trgm", "key"),
]


def upgrade() -> None:
    op.create_table(
        "dashboard_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", "currency", name=op.f("pk_dashboard_days")),
    )
    for table, name, columns, options in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False, **options)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, name, column in TRIGRAMS:
            op.create_index(
                name,
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _column in TRIGRAMS:
            op.drop_index(name, table_name=table)
    for table, name, _columns, _options in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    op.drop_table("dashboard_days")
