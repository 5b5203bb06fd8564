"""Operator commands for the master keys that encrypt tokens and secrets."""

from __future__ import annotations

from typing import Annotated

import typer

from zakipost.cli._common import console, settings_or_exit

app = typer.Typer(
    help="Master keys: create one, re-encrypt under the newest.", no_args_is_help=True
)


@app.command("new-key")
def new_key(key_id: Annotated[str, typer.Argument(help="An id for the key, e.g. k2.")]) -> None:
    """Print a fresh master key; append it (last) to ZAKIPOST_SECURITY_MASTER_KEYS."""
    from zakipost.kit.crypto import new_master_key

    console.print(new_master_key(key_id))


@app.command()
def reencrypt() -> None:
    """Re-encrypt every stored token and secret under the newest master key."""
    import asyncio

    from zakipost.composition import create_vault
    from zakipost.db.engine import create_engine, create_sessionmaker
    from zakipost.maintenance.reencrypt import reencrypt_all

    settings = settings_or_exit()

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            vault = create_vault(settings)
            async with create_sessionmaker(engine)() as session, session.begin():
                report = await reencrypt_all(session, vault)
            for column, count in report.resealed.items():
                console.print(f"{column}: {count} re-encrypted")
            console.print(f"Done: everything is now under key {vault.current_key_id!r}.")
            return report.total
        finally:
            await engine.dispose()

    asyncio.run(run())
