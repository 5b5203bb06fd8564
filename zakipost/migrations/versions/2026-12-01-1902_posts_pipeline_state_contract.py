"""posts: typed pipeline state, contract (options dropped)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:02:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Posts accepted after 0007 by code that still wrote only options: copy them over too.
    backfill = context.script.get_revision(down_revision)
    assert backfill is not None
    backfill.module.upgrade()
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.alter_column("request", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("prepared_photos", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("options")


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))
        batch_op.alter_column("prepared_photos", existing_type=sa.JSON(), nullable=True)
        batch_op.alter_column("request", existing_type=sa.JSON(), nullable=True)
