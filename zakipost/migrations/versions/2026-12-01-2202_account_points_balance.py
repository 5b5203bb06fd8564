"""accounts: the points balance kept beside the ledger, updated with each entry

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("points_balance", sa.BigInteger(), server_default="0", nullable=False)
        )
    # The balance of every existing account is its ledger's sum, as it was computed so far.
    op.execute(
        "UPDATE accounts SET points_balance = COALESCE("
        "(SELECT SUM(amount) FROM point_entries WHERE point_entries.account_id = accounts.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("points_balance")
