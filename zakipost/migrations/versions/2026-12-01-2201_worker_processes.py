"""worker_processes: each running worker's heartbeat (host, pid, what it serves)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_processes",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("serves", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_processes")),
    )
    with op.batch_alter_table("worker_processes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worker_processes_last_seen_at"), ["last_seen_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("worker_processes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_processes_last_seen_at"))
    op.drop_table("worker_processes")
