"""Server roles: serve (all in one), web, worker, sandbox, migrate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from zakipost.cli._common import console, err_console, run, settings_or_exit

if TYPE_CHECKING:
    from zakipost.config import Settings

HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to listen on.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on.")]


def _with_server(settings: Settings, host: str | None, port: int | None) -> Settings:
    if host is None and port is None:
        return settings
    update = settings.server.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )
    return settings.model_copy(update={"server": update})


async def _migrate(settings: Settings) -> None:
    from zakipost.db import migrate as migrations
    from zakipost.db.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()


def _banner(settings: Settings, *, sandbox: bool) -> None:
    url = settings.public_url
    console.print(f"[bold]ZakiPost[/bold] on {url}")
    console.print(f"  dashboard      {url}/dashboard")
    console.print(f"  API reference  {url}/docs")
    if sandbox:
        console.print(f"  TikTok sandbox {url}/sandbox (no TikTok app configured)")
    _serving_lines(settings)


def _serving_lines(settings: Settings) -> None:
    from zakipost import layout

    console.print(f"  database       {layout.database_location(settings)}")
    console.print(f"  TikTok         {layout.tiktok_location(settings)}")
    console.print(f"  media store    {layout.store_location(settings)}")


def _apart_or_exit(settings: Settings, role: str) -> None:
    """``web`` and ``worker`` run apart from each other: refuse settings that cannot work
    that way (a store only this process sees, a worker guessing where the sandbox is)."""
    from zakipost import layout
    from zakipost.config import SettingsError

    try:
        layout.check(settings, "web" if role == "web" else "worker")
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How ``serve`` and ``web`` run uvicorn. ``X-Forwarded-For``/``-Proto`` are believed
    only from ``ZAKIPOST_SERVER_TRUSTED_PROXIES`` (none by default, so a client on loopback
    cannot pose as any address it likes, e.g. to get past the per-address log-in limit)."""
    trusted = [str(network) for network in settings.server.trusted_proxies]
    return {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_config": None,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
    }


def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the web app and a worker in one process (and the TikTok sandbox when no TikTok
    app is configured). Migrates the database first."""
    import uvicorn

    from zakipost.main import create_app

    settings = _with_server(settings_or_exit(), host, port)
    run(_migrate, settings)
    app = create_app(settings, run_worker=True)
    _banner(settings, sandbox=app.state.sandbox_app is not None)
    uvicorn.run(app, **uvicorn_options(settings))


def web(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run only the web app (API, dashboard, OAuth callback, media); scale it out freely."""
    import uvicorn

    from zakipost.main import create_app

    settings = _with_server(settings_or_exit(), host, port)
    _apart_or_exit(settings, "web")
    app = create_app(settings, run_worker=False)
    _banner(settings, sandbox=app.state.sandbox_app is not None)
    uvicorn.run(app, **uvicorn_options(settings))


def worker(
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Jobs run at once.")
    ] = None,
) -> None:
    """Run a worker: the publish pipeline and periodic work. Any number may share one
    PostgreSQL. Prints what it serves (database, TikTok, media store, concurrency)."""
    from zakipost.composition import run_worker_process

    settings = settings_or_exit()
    _apart_or_exit(settings, "worker")
    slots = concurrency or settings.worker.concurrency
    console.print(f"[bold]ZakiPost worker[/bold] running {slots} jobs at once")
    _serving_lines(settings)
    run(run_worker_process, settings, slots)


def sandbox(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 9000,
) -> None:
    """Run the TikTok sandbox alone (an emulator of TikTok's OAuth, Content Posting and
    Display APIs) and print its app's credentials."""
    import uvicorn

    from zakipost.composition import standalone_sandbox

    settings = settings_or_exit()
    app, description = standalone_sandbox(f"http://{host}:{port}", settings)
    typer.echo(description)
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=False)


def migrate() -> None:
    """Upgrade the database schema to the newest version."""
    settings = settings_or_exit()
    run(_migrate, settings)
    console.print("Database is up to date.")


def register(app: typer.Typer) -> None:
    for command in (serve, web, worker, sandbox, migrate):
        app.command()(command)
