"""What every CLI command shares: settings loaded with a readable error, the event loop.

The CLI's modules import the server's stack (settings, SQLAlchemy, Alembic, uvicorn) only
inside the commands that need it, so ``zakipost --help`` and the API client commands start
fast; ``tests/test_cli_imports.py`` holds that."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from zakipost.config import Settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def settings_or_exit(**overrides: Any) -> Settings:
    # Imported here: `zakipost --help` and the API client commands never load the settings.
    from zakipost.config import SettingsError, load_settings
    from zakipost.logging import configure_logging

    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, json=settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def run(coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return asyncio.run(coro_fn(*args))  # type: ignore[arg-type]
