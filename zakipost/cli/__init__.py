"""The ``zakipost`` command: server roles, operator tasks and API client commands."""

from __future__ import annotations

import typer

from zakipost.cli import accounts, jobs, security, server

app = typer.Typer(
    name="zakipost",
    help="ZakiPost: publish to TikTok from anything that can send an HTTP request.",
    no_args_is_help=True,
    add_completion=False,
)
server.register(app)
app.add_typer(accounts.app, name="accounts")
app.add_typer(security.app, name="security")
app.add_typer(jobs.app, name="jobs")


def main() -> None:
    app()
