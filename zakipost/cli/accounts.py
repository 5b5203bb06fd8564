"""Operator commands for accounts, plans, points and keys (they use the database directly)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from zakipost.cli._common import console, err_console, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from zakipost.config import Settings
    from zakipost.kit.crypto import Vault
    from zakipost.models import Account

app = typer.Typer(help="Manage ZakiPost accounts (operators).", no_args_is_help=True)
T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AccountArg = Annotated[str, typer.Argument(help="The account's email or id.")]


@asynccontextmanager
async def _unit_of_work(settings: Settings) -> AsyncIterator[tuple[AsyncSession, Vault]]:
    from zakipost.composition import create_vault
    from zakipost.db.engine import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session, create_vault(settings)
    finally:
        await engine.dispose()


def _run(work: Callable[[AsyncSession, Vault, Settings], Awaitable[T]]) -> T:
    import asyncio

    from zakipost.errors import AppError

    settings = settings_or_exit()

    async def go() -> T:
        async with _unit_of_work(settings) as (session, vault):
            return await work(session, vault, settings)

    try:
        return asyncio.run(go())
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


async def _describe(session: AsyncSession, account: Account) -> dict[str, Any]:
    from zakipost.billing import points as points_service

    return {
        "id": str(account.id),
        "email": account.email,
        "plan": account.plan,
        "plan_expires_at": account.plan_expires_at.isoformat() if account.plan_expires_at else None,
        "points_balance": await points_service.balance(session, account.id),
        "client_key": account.client_key,
        "created_at": account.created_at.isoformat(),
    }


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}")


@app.command()
def create(
    email: Annotated[str, typer.Option("--email", help="The owner's email.")],
    password: Annotated[str, typer.Option("--password", help="At least 8 characters.")],
    plan: Annotated[
        str | None, typer.Option("--plan", help="free, pro, or a configured plan.")
    ] = None,
    points: Annotated[int, typer.Option("--points", min=0, help="Initial points.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Create an account and print its client_key and client_secret."""

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> dict[str, Any]:
        from zakipost.account import service as account_service

        account, credentials = await account_service.create(
            session, settings, vault, email=email, password=password, plan=plan, points_grant=points
        )
        return {**await _describe(session, account), "client_secret": credentials.client_secret}

    _print(_run(work), as_json)


@app.command()
def show(ref: AccountArg, as_json: JsonOpt = False) -> None:
    """Show one account."""

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> dict[str, Any]:
        from zakipost.account import service as account_service

        return await _describe(session, await account_service.find(session, ref))

    _print(_run(work), as_json)


@app.command("list")
def list_accounts(as_json: JsonOpt = False) -> None:
    """List accounts."""

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> list[dict[str, Any]]:
        from zakipost.account import service as account_service

        return [
            await _describe(session, a) for a in await account_service.list_all(session, limit=1000)
        ]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("email", "plan", "expires", "points", "client_key")
    for row in rows:
        table.add_row(
            row["email"],
            row["plan"],
            row["plan_expires_at"] or "-",
            str(row["points_balance"]),
            row["client_key"],
        )
    console.print(table)


@app.command("grant-points")
def grant_points(
    ref: AccountArg,
    amount: Annotated[int, typer.Argument(min=1, help="Points to add.")],
    reason: Annotated[str, typer.Option("--reason")] = "Granted by an operator",
    as_json: JsonOpt = False,
) -> None:
    """Add points to an account's ledger."""

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> dict[str, Any]:
        from zakipost.account import service as account_service

        account = await account_service.find(session, ref)
        from zakipost.billing import points as points_service

        await points_service.grant(session, account.id, amount, reason=reason)
        return await _describe(session, account)

    _print(_run(work), as_json)


@app.command("set-plan")
def set_plan(
    ref: AccountArg,
    plan: Annotated[str, typer.Argument(help="free, pro, or a configured plan.")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="ISO date or datetime (UTC if no offset).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set an account's plan and, optionally, when it expires."""
    expires_at = None
    if expires:
        try:
            expires_at = dt.datetime.fromisoformat(expires)
        except ValueError:
            err_console.print("[red]--expires must be an ISO date like 2027-01-31[/red]")
            raise typer.Exit(2) from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> dict[str, Any]:
        from zakipost.account import service as account_service

        account = await account_service.find(session, ref)
        await account_service.set_plan(session, settings, account, plan=plan, expires_at=expires_at)
        return await _describe(session, account)

    _print(_run(work), as_json)


@app.command("rotate-keys")
def rotate_keys(ref: AccountArg, as_json: JsonOpt = False) -> None:
    """Replace an account's client_key and client_secret (the old pair stops working)."""

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> dict[str, Any]:
        from zakipost.account import service as account_service

        account = await account_service.find(session, ref)
        credentials = await account_service.rotate_credentials(session, vault, account)
        return {**await _describe(session, account), "client_secret": credentials.client_secret}

    _print(_run(work), as_json)


@app.command("show-keys")
def show_keys(ref: AccountArg, as_json: JsonOpt = False) -> None:
    """Print an account's client_key and client_secret."""

    async def work(session: AsyncSession, vault: Vault, settings: Settings) -> dict[str, Any]:
        from zakipost.account import service as account_service

        account = await account_service.find(session, ref)
        credentials = account_service.reveal_credentials(vault, account)
        return {"client_key": credentials.client_key, "client_secret": credentials.client_secret}

    _print(_run(work), as_json)
