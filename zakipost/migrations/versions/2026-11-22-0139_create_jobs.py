"""create jobs: the durable job queue (zakipost.worker)

The two partial unique indexes carry the queue's invariants: one queued (`todo`) job per
queueing_lock, one running (`doing`) job per lock. Both dialects support partial indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:39:59.742030
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
        "jobs",
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_generation", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lock", sa.String(length=200), nullable=True),
        sa.Column("queueing_lock", sa.String(length=200), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_lock"), ["lock"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_queueing_lock"), ["queueing_lock"], unique=False)
        batch_op.create_index("ix_jobs_status_run_at", ["status", "run_at"], unique=False)
        batch_op.create_index(
            "uq_jobs_lock_doing",
            ["lock"],
            unique=True,
            sqlite_where=sa.text("status = 'doing'"),
            postgresql_where=sa.text("status = 'doing'"),
        )
        batch_op.create_index(
            "uq_jobs_queueing_lock_todo",
            ["queueing_lock"],
            unique=True,
            sqlite_where=sa.text("status = 'todo'"),
            postgresql_where=sa.text("status = 'todo'"),
        )



def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_queueing_lock_todo",
            sqlite_where=sa.text("status = 'todo'"),
            postgresql_where=sa.text("status = 'todo'"),
        )
        batch_op.drop_index(
            "uq_jobs_lock_doing",
            sqlite_where=sa.text("status = 'doing'"),
            postgresql_where=sa.text("status = 'doing'"),
        )
        batch_op.drop_index("ix_jobs_status_run_at")
        batch_op.drop_index(batch_op.f("ix_jobs_queueing_lock"))
        batch_op.drop_index(batch_op.f("ix_jobs_lock"))

    op.drop_table("jobs")
