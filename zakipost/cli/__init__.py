"""The ``zakipost`` command: server roles, operator tasks and API client commands."""

from __future__ import annotations

import typer

from zakipost.cli import accounts, jobs, security, server, user

app = typer.Typer(
    name="zakipost",
    help="ZakiPost: publish to TikTok from anything that can send an HTTP request.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: Rich's help panels cost most of `zakipost --help`'s start-up.
    rich_markup_mode=None,
)
server.register(app)
user.register(app)
app.add_typer(accounts.app, name="accounts")
app.add_typer(security.app, name="security")
app.add_typer(jobs.app, name="jobs")


@app.command()
def mcp() -> None:
    """Run the MCP server on stdio (tools: accounts, creator info, publish, post status), on
    the API client, configured like it (ZAKIPOST_API_URL, ZAKIPOST_CLIENT_KEY, ...)."""
    from zakipost.mcp_server import run_stdio

    run_stdio()


def main() -> None:
    app()
