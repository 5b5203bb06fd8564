"""What every CLI command shares: settings loaded with a readable error, the event loop.

The CLI's modules import the server's stack (settings, SQLAlchemy, Alembic, uvicorn) only
inside the commands that need it, so ``zakipost --help`` and the API client commands start
fast; ``tests/test_cli_imports.py`` holds that."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from zakipost.config import Settings

T = TypeVar("T")


class LazyConsole:
    """A Rich console made on first use: importing Rich is a good part of the start-up, and
    ``--help`` never prints through it."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


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
    import asyncio

    return asyncio.run(coro_fn(*args))  # type: ignore[arg-type]
