"""Run Alembic migrations from inside the application (CLI, ``serve`` start, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPTS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config() -> Config:
    # Scripts live inside the package so an installed ZakiPost can migrate without a checkout.
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


# The migration environment opens its own transaction (on SQLite it must set a pragma
# before one begins), so these hand it a connection that has none yet.


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade, revision)
        await conn.commit()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(_downgrade, revision)
        await conn.commit()


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
