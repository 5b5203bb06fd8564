"""connections: the access lifetime TikTok stated, the planned refresh, and the record of a
refresh being sent (for answers that are lost)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 19:03:00
"""

import datetime as dt
import random
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lifetime rows issued before this revision had (TikTok's former 24-hour tokens), used
# only when a row does not say when it was last refreshed.
_FORMER_LIFETIME = dt.timedelta(hours=24)


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_expires_in", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("refresh_planned_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("refresh_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refresh_sent_generation", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("refresh_outcome_unknown_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_connections_status_refresh_planned_at",
            ["status", "refresh_planned_at"],
            unique=False,
        )
    _backfill()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _backfill() -> None:
    """Plan each active connection's next refresh from the token it holds, as a new grant
    would (50-75 % of its lifetime, seeded by connection and generation). A plan already in
    the past is picked up by the refresh sweep within minutes."""
    connections = sa.table(
        "connections",
        sa.column("id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("token_generation", sa.Integer()),
        sa.column("access_expires_at", sa.DateTime(timezone=True)),
        sa.column("last_refreshed_at", sa.DateTime(timezone=True)),
        sa.column("access_expires_in", sa.Integer()),
        sa.column("refresh_planned_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            connections.c.id,
            connections.c.token_generation,
            connections.c.access_expires_at,
            connections.c.last_refreshed_at,
        ).where(
            connections.c.status == "active", connections.c.access_expires_at.is_not(None)
        )
    ).all()
    for connection_id, generation, expires_at, refreshed_at in rows:
        expires_at, refreshed_at = _aware(expires_at), _aware(refreshed_at)
        assert expires_at is not None
        lifetime = expires_at - refreshed_at if refreshed_at is not None else _FORMER_LIFETIME
        if lifetime <= dt.timedelta():
            lifetime = _FORMER_LIFETIME
        share = 0.5 + 0.25 * random.Random(f"{connection_id}:{generation}").random()
        bind.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(
                access_expires_in=int(lifetime.total_seconds()),
                refresh_planned_at=expires_at - lifetime + lifetime * share,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index("ix_connections_status_refresh_planned_at")
        batch_op.drop_column("refresh_outcome_unknown_at")
        batch_op.drop_column("refresh_sent_generation")
        batch_op.drop_column("refresh_sent_at")
        batch_op.drop_column("refresh_planned_at")
        batch_op.drop_column("access_expires_in")
