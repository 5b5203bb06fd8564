"""TikTok's webhooks seen (to apply each once), and the points refunded per post

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:40:00
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
        "tiktok_webhook_events",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_tiktok_webhook_events")),
    )
    op.create_index(
        "ix_tiktok_webhook_events_received_at",
        "tiktok_webhook_events",
        ["received_at"],
        unique=False,
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("points_refunded", sa.Integer(), server_default="0", nullable=False)
        )
    # Posts refunded before this revision: their refund is in the ledger under publish_id.
    op.execute(
        """
        UPDATE posts SET points_refunded = COALESCE((
            SELECT SUM(point_entries.amount) FROM point_entries
            WHERE point_entries.reference = posts.publish_id
              AND point_entries.account_id = posts.account_id
              AND point_entries.kind = 'refund'
        ), 0)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("points_refunded")
    op.drop_index("ix_tiktok_webhook_events_received_at", table_name="tiktok_webhook_events")
    op.drop_table("tiktok_webhook_events")
