"""posts: typed pipeline state, expand (new columns beside options)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:00:00

The first of three steps that move ``posts.options`` into named places: this one adds the
columns (and lets ``options`` be left out); 0007 copies the values over; 0008 drops
``options``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("plan", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("prepared_photos", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("init_attempted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("media_path_owned", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("step_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.alter_column("options", existing_type=sa.JSON(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE posts SET options = '{}' WHERE options IS NULL")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.alter_column("options", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("step_failures")
        batch_op.drop_column("media_path_owned")
        batch_op.drop_column("init_attempted_at")
        batch_op.drop_column("prepared_photos")
        batch_op.drop_column("plan")
        batch_op.drop_column("request")
