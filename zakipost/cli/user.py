"""The API's user commands, on :mod:`zakipost.client`: ``publish``, ``posts``, ``tiktok``
(connected TikTok accounts) and ``webhooks``.

Configured like the client: ``ZAKIPOST_API_URL``, ``ZAKIPOST_CLIENT_KEY`` and
``ZAKIPOST_CLIENT_SECRET`` (or ``ZAKIPOST_API_KEY``). With ``--json`` stdout holds only JSON;
progress, the timeline and errors go to stderr.

Exit codes: 0 done (published, in the inbox, or accepted without ``--wait``); 1 the post
failed, was cancelled or its fate is unknown; 2 bad usage or no credentials; 3 the API refused
the request or could not be reached; 4 ``--wait`` timed out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from zakipost.cli._common import console, err_console

if TYPE_CHECKING:
    from pydantic import BaseModel

    from zakipost.client import Client
    from zakipost.client.models import PostOut

T = TypeVar("T")

EXIT_POST_FAILED = 1
EXIT_USAGE = 2
EXIT_API_ERROR = 3
EXIT_TIMEOUT = 4

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only (for scripts).")]
PublishIdArg = Annotated[str, typer.Argument(help="The post's publish_id.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the end.")]

posts_app = typer.Typer(
    help="Your posts: list, show, cancel, reschedule, watch.", no_args_is_help=True
)
tiktok_app = typer.Typer(
    help="Your connected TikTok accounts: list, show (creator info), connect, disconnect.",
    no_args_is_help=True,
)
webhooks_app = typer.Typer(
    help="Webhook endpoints that hear when posts end, and their deliveries.",
    no_args_is_help=True,
)


@contextmanager
def _client() -> Iterator[Client]:
    """The API client from the environment; API errors end the command with a message."""
    from zakipost.client import Client, ConfigurationError, WaitTimeout, ZakiPostError

    try:
        client = Client()
    except ConfigurationError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(EXIT_USAGE) from None
    try:
        with client:
            yield client
    except WaitTimeout as exc:
        err_console.print(f"[yellow]{exc.message}[/yellow]")
        raise typer.Exit(EXIT_TIMEOUT) from None
    except ZakiPostError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_API_ERROR) from None


def _dump(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(_dump(value), indent=2))


def _print_fields(model: BaseModel, fields: list[str]) -> None:
    data = model.model_dump(mode="json")
    for name in fields:
        value = data.get(name)
        if value not in (None, [], {}):
            console.print(f"[bold]{name}[/bold]: {value}")


def _post_exit_code(post: PostOut) -> int:
    from zakipost.client import SUCCESS_STATUSES

    return 0 if post.status in SUCCESS_STATUSES else EXIT_POST_FAILED


def _timeline_printer(quiet: bool) -> Callable[[PostOut], None]:
    """Prints each new timeline event (and status change) to stderr as the post moves."""
    shown = 0

    def show(post: PostOut) -> None:
        nonlocal shown
        events = post.timeline or []
        if not quiet:
            for event in events[shown:]:
                step = f" {event.step}" if event.step else ""
                err_console.print(
                    f"[dim]{event.at:%H:%M:%S}[/dim] [bold]{event.status}[/bold]{step}  "
                    f"{event.message}"
                )
        shown = len(events)

    return show


def _follow(client: Client, publish_id: str, timeout: float, quiet: bool) -> PostOut:
    show = _timeline_printer(quiet)
    if quiet:
        return client.wait(publish_id, timeout=timeout, on_update=show)
    from rich.status import Status

    with Status(f"Following {publish_id}…", console=err_console.rich) as status:

        def update(post: PostOut) -> None:
            show(post)
            step = f" ({post.step})" if post.step else ""
            status.update(f"{publish_id}: {post.status}{step}")

        return client.wait(publish_id, timeout=timeout, on_update=update)


def _report_end(post: PostOut, as_json: bool) -> None:
    if as_json:
        _print_json(post)
    else:
        colour = "green" if _post_exit_code(post) == 0 else "red"
        console.print(f"[{colour}]{post.publish_id}: {post.status}[/{colour}]")
        if post.error is not None:
            console.print(f"  {post.error.code}: {post.error.message}")
        if post.tiktok_post_ids:
            console.print(f"  TikTok post ids: {', '.join(post.tiktok_post_ids)}")
    if _post_exit_code(post) != 0:
        raise typer.Exit(EXIT_POST_FAILED)


@contextmanager
def _upload_progress(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr fed by the client's ``progress(sent, total)``."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console.rich,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total)

        yield update


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def publish(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="A video file or URL; or one or more photos (files or URLs) for a carousel.",
            metavar="PATH_OR_URL...",
        ),
    ],
    account: Annotated[
        str, typer.Option("--account", "-a", help="The tiktok_account_id to publish to.")
    ],
    title: Annotated[str | None, typer.Option("--title", help="Caption (video) or title.")] = None,
    privacy: Annotated[
        str | None,
        typer.Option(
            "--privacy",
            help="PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or SELF_ONLY; "
            "one the account offers (`zakipost tiktok show ID`).",
        ),
    ] = None,
    draft: Annotated[
        bool, typer.Option("--draft", help="Send to the creator's TikTok inbox instead.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="Schedule: ISO 8601 with an offset, e.g. 2027-01-31T18:00+01:00."
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the post to its end; the exit code says how.")
    ] = False,
    timeout: TimeoutOpt = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Publish a local file or a URL to a connected TikTok account, with a progress bar for
    the upload and, with --wait, the timeline until the post ends."""
    photos = len(sources) > 1 or sources[0].lower().endswith(_PHOTO_SUFFIXES)
    with _client() as client:
        media_ids: list[str] = []
        urls: list[str] = []
        for source in sources:
            if _is_url(source):
                urls.append(source)
                continue
            path = Path(source)
            if not path.is_file():
                err_console.print(f"[red]{source} is neither a file nor an http(s) URL.[/red]")
                raise typer.Exit(EXIT_USAGE)
            with _upload_progress(not as_json, f"Uploading {path.name}") as progress:
                media = client.upload(path, progress=progress)
            media_ids.append(media.media_id)
        if urls and media_ids:
            err_console.print("[red]Give files or URLs, not both.[/red]")
            raise typer.Exit(EXIT_USAGE)
        common: dict[str, Any] = {
            "title": title,
            "privacy_level": privacy,
            "draft": draft,
            "scheduled_at": at,
        }
        if photos:
            accepted = client.publish_photos(
                account, photo_urls=urls or None, media_ids=media_ids or None, **common
            )
        else:
            accepted = client.publish_video(
                account,
                video_url=urls[0] if urls else None,
                media_id=media_ids[0] if media_ids else None,
                **common,
            )
        if not wait:
            if as_json:
                _print_json(accepted)
            else:
                console.print(f"Accepted: {accepted.publish_id}")
            return
        if not as_json:
            err_console.print(f"Accepted: {accepted.publish_id}")
        post = _follow(client, accepted.publish_id, timeout, quiet=as_json)
        _report_end(post, as_json)


# posts -------------------------------------------------------------------------------------


@posts_app.command("list")
def posts_list(
    status: Annotated[
        str | None, typer.Option("--status", help="Only posts in this status.")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="Only this account's posts.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 20,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of a page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Your posts, newest first."""
    with _client() as client:
        page = client.list_posts(
            status=status, tiktok_account_id=account, limit=limit, cursor=cursor
        )
    if as_json:
        _print_json(page)
        return
    from rich.table import Table

    table = Table("publish_id", "status", "step", "kind", "created", "title")
    for post in page.items:
        table.add_row(
            post.publish_id,
            post.status,
            post.step or "",
            post.kind,
            f"{post.created_at:%Y-%m-%d %H:%M}",
            (post.title or "")[:40],
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"More: --cursor {page.next_cursor}")


@posts_app.command("show")
def posts_show(publish_id: PublishIdArg, as_json: JsonOpt = False) -> None:
    """A post's status, TikTok's ids, its error and timeline."""
    with _client() as client:
        post = client.get_post(publish_id)
    if as_json:
        _print_json(post)
        return
    _print_fields(
        post,
        ["publish_id", "tiktok_account_id", "kind", "post_mode", "status", "step", "title"],
    )
    _print_fields(
        post, ["privacy_level", "scheduled_at", "run_at", "tiktok_publish_id", "tiktok_post_ids"]
    )
    if post.error is not None:
        console.print(f"[red]error[/red]: {post.error.code}: {post.error.message}")
    for event in post.timeline or []:
        console.print(f"  {event.at:%Y-%m-%d %H:%M:%S} {event.status:<10} {event.message}")


@posts_app.command("cancel")
def posts_cancel(publish_id: PublishIdArg, as_json: JsonOpt = False) -> None:
    """Cancel a post that has not reached TikTok yet (its points are refunded)."""
    with _client() as client:
        post = client.cancel_post(publish_id)
    if as_json:
        _print_json(post)
    else:
        console.print(f"{post.publish_id}: {post.status}")


@posts_app.command("reschedule")
def posts_reschedule(
    publish_id: PublishIdArg,
    at: Annotated[str, typer.Argument(help="ISO 8601 with an offset.")],
    as_json: JsonOpt = False,
) -> None:
    """Move a post that has not reached TikTok yet to another time."""
    with _client() as client:
        post = client.reschedule_post(publish_id, at)
    if as_json:
        _print_json(post)
    else:
        console.print(f"{post.publish_id}: {post.status} at {post.scheduled_at}")


@posts_app.command("watch")
def posts_watch(
    publish_id: PublishIdArg, timeout: TimeoutOpt = 600.0, as_json: JsonOpt = False
) -> None:
    """Follow a post's timeline until it ends; the exit code says how (0 published or in
    the inbox)."""
    with _client() as client:
        post = _follow(client, publish_id, timeout, quiet=as_json)
        _report_end(post, as_json)


# tiktok accounts ---------------------------------------------------------------------------

AccountArg = Annotated[str, typer.Argument(help="The tiktok_account_id.")]


@tiktok_app.command("list")
def tiktok_list(as_json: JsonOpt = False) -> None:
    """Your connected TikTok accounts."""
    with _client() as client:
        accounts = client.list_accounts()
    if as_json:
        _print_json(accounts)
        return
    from rich.table import Table

    table = Table("tiktok_account_id", "username", "status", "privacy options", "reconnect by")
    for item in accounts:
        options = item.creator_info.privacy_level_options if item.creator_info else []
        table.add_row(
            str(item.tiktok_account_id),
            item.username or item.nickname or "",
            item.status.value,
            ", ".join(options),
            f"{item.reconnect_by:%Y-%m-%d}" if item.reconnect_by else "",
        )
    console.print(table)


@tiktok_app.command("show")
def tiktok_show(tiktok_account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """One account with fresh creator info (the privacy levels it offers, interactions)."""
    with _client() as client:
        found = client.get_account(tiktok_account_id)
    if as_json:
        _print_json(found)
        return
    _print_fields(found, ["tiktok_account_id", "username", "nickname", "status", "status_reason"])
    if found.creator_info is not None:
        _print_fields(
            found.creator_info,
            [
                "privacy_level_options",
                "comment_disabled",
                "duet_disabled",
                "stitch_disabled",
                "max_video_post_duration_sec",
                "can_post",
                "cannot_post_message",
            ],
        )


@tiktok_app.command("connect")
def tiktok_connect(
    redirect_url: Annotated[
        str | None, typer.Option("--redirect-url", help="Where TikTok sends the user back.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the consent link: open it to connect a TikTok account."""
    with _client() as client:
        started = client.connect(redirect_url)
    if as_json:
        _print_json(started)
        return
    console.print("Open this link to connect a TikTok account (valid 10 minutes):")
    typer.echo(started.authorize_url)


@tiktok_app.command("disconnect")
def tiktok_disconnect(tiktok_account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """Revoke at TikTok and delete the stored tokens."""
    with _client() as client:
        found = client.disconnect(tiktok_account_id)
    if as_json:
        _print_json(found)
    else:
        console.print(f"{found.tiktok_account_id}: {found.status.value}")


# webhooks ----------------------------------------------------------------------------------

WebhookArg = Annotated[str, typer.Argument(help="The webhook endpoint's id.")]
EventsOpt = Annotated[
    list[str] | None,
    typer.Option("--event", help="An event type to send (repeat it); all when omitted."),
]


def _show_endpoint(endpoint: Any, as_json: bool) -> None:
    if as_json:
        _print_json(endpoint)
        return
    _print_fields(endpoint, ["id", "url", "events", "description", "enabled", "disabled_reason"])
    secret = getattr(endpoint, "secret", None)
    if secret:
        console.print(f"[bold]secret[/bold] (shown once, keep it): {secret}")


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOpt = False) -> None:
    """Your webhook endpoints."""
    with _client() as client:
        endpoints = client.list_webhooks()
    if as_json:
        _print_json(endpoints)
        return
    from rich.table import Table

    table = Table("id", "url", "events", "enabled")
    for endpoint in endpoints:
        events = ", ".join(endpoint.events) if endpoint.events else "all"
        table.add_row(str(endpoint.id), endpoint.url, events, str(endpoint.enabled))
    console.print(table)


@webhooks_app.command("create")
def webhooks_create(
    url: Annotated[str, typer.Argument(help="Where deliveries are POSTed (https).")],
    events: EventsOpt = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an endpoint; prints its signing secret once."""
    with _client() as client:
        _show_endpoint(client.create_webhook(url, events=events, description=description), as_json)


@webhooks_app.command("show")
def webhooks_show(webhook_id: WebhookArg, as_json: JsonOpt = False) -> None:
    """One endpoint."""
    with _client() as client:
        _show_endpoint(client.get_webhook(webhook_id), as_json)


@webhooks_app.command("update")
def webhooks_update(
    webhook_id: WebhookArg,
    url: Annotated[str | None, typer.Option("--url")] = None,
    events: EventsOpt = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    rotate_secret: Annotated[
        bool, typer.Option("--rotate-secret", help="New secret, printed once.")
    ] = False,
    overlap_seconds: Annotated[
        int | None,
        typer.Option("--overlap-seconds", min=0, help="How long the old secret still signs."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an endpoint, or rotate its secret."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "url": url,
            "events": events,
            "description": description,
            "enabled": enabled,
            "overlap_seconds": overlap_seconds,
        }.items()
        if v is not None
    }
    if rotate_secret:
        changes["rotate_secret"] = True
    if not changes:
        err_console.print("[red]Nothing to change: give an option (see --help).[/red]")
        raise typer.Exit(EXIT_USAGE)
    with _client() as client:
        _show_endpoint(client.update_webhook(webhook_id, **changes), as_json)


@webhooks_app.command("delete")
def webhooks_delete(webhook_id: WebhookArg, as_json: JsonOpt = False) -> None:
    """Delete an endpoint."""
    with _client() as client:
        client.delete_webhook(webhook_id)
    if as_json:
        _print_json({"id": webhook_id, "deleted": True})
    else:
        console.print(f"{webhook_id}: deleted")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: WebhookArg,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=100)] = None,
    cursor: Annotated[str | None, typer.Option("--cursor")] = None,
    as_json: JsonOpt = False,
) -> None:
    """An endpoint's deliveries, newest first."""
    with _client() as client:
        page = client.list_deliveries(webhook_id, limit=limit, cursor=cursor)
    if as_json:
        _print_json(page)
        return
    from rich.table import Table

    table = Table("id", "event", "status", "attempts", "last code", "created")
    for item in page.items:
        table.add_row(
            str(item.id),
            item.event_type,
            item.status,
            str(item.attempts),
            str(item.last_status_code or ""),
            f"{item.created_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"More: --cursor {page.next_cursor}")


@webhooks_app.command("retry")
def webhooks_retry(
    webhook_id: WebhookArg,
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Send a delivery again now."""
    with _client() as client:
        result = client.retry_delivery(webhook_id, delivery_id)
    _print_json(result) if as_json else console.print(_dump(result))


@webhooks_app.command("test")
def webhooks_test(webhook_id: WebhookArg, as_json: JsonOpt = False) -> None:
    """Send a test event to an endpoint."""
    with _client() as client:
        result = client.test_webhook(webhook_id)
    _print_json(result) if as_json else console.print(_dump(result))


def register(app: typer.Typer) -> None:
    app.command()(publish)
    app.add_typer(posts_app, name="posts")
    app.add_typer(tiktok_app, name="tiktok")
    app.add_typer(webhooks_app, name="webhooks")
