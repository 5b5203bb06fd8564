"""Operator commands for the job queue: what is queued, running, failed, and why; run a job
again or withdraw a queued one. They read the database directly (no SQL needed)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from zakipost.cli._common import console, err_console, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from zakipost.models import Job

app = typer.Typer(
    help="Inspect and steer the job queue (operators): list, show, retry, cancel, workers.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
JobArg = Annotated[str, typer.Argument(help="The job's id (from `zakipost jobs list`).")]
STATES = ("todo", "doing", "succeeded", "failed", "cancelled")
POST_LOCK = "post:"


def _run(work: Any) -> Any:
    """Run ``work(session, now)`` in one transaction; an AppError is a message and exit 1."""
    import asyncio

    from zakipost.db.engine import create_engine, create_sessionmaker
    from zakipost.errors import AppError
    from zakipost.kit.clock import utcnow

    settings = settings_or_exit()

    async def go() -> Any:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session, utcnow())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


def _job_id(value: str) -> Any:
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        err_console.print(f"[red]{value!r} is not a job id (a UUID, as `jobs list` shows).[/red]")
        raise typer.Exit(2) from None


async def _posts_of(session: AsyncSession, jobs: list[Job]) -> dict[str, dict[str, Any]]:
    """The posts the jobs drive (their lock is ``post:<id>``), by lock."""
    import uuid

    from sqlalchemy import select

    from zakipost.models import Post

    ids = []
    for job in jobs:
        if job.lock and job.lock.startswith(POST_LOCK):
            try:
                ids.append(uuid.UUID(job.lock.removeprefix(POST_LOCK)))
            except ValueError:
                continue
    if not ids:
        return {}
    rows = (await session.scalars(select(Post).where(Post.id.in_(ids)))).all()
    return {
        f"{POST_LOCK}{p.id}": {
            "publish_id": p.publish_id,
            "status": p.status.value,
            "step": p.step.value if p.step else None,
        }
        for p in rows
    }


async def _described(session: AsyncSession, jobs: list[Job], now: Any) -> list[dict[str, Any]]:
    from zakipost.worker.inspect import describe

    posts = await _posts_of(session, jobs)
    return [{**describe(j, now=now), "post": posts.get(j.lock or "")} for j in jobs]


async def _post_lock(session: AsyncSession, value: str) -> str:
    """``post:<id>`` of the post named by its publish_id or its id."""
    import uuid

    from sqlalchemy import select

    from zakipost.models import Post
    from zakipost.post.errors import PostNotFound

    query = select(Post.id).where(Post.publish_id == value)
    try:
        query = select(Post.id).where((Post.publish_id == value) | (Post.id == uuid.UUID(value)))
    except ValueError:
        pass
    post_id = await session.scalar(query)
    if post_id is None:
        raise PostNotFound(f"No post with publish_id {value!r}.")
    return f"{POST_LOCK}{post_id}"


def _print_one(job: dict[str, Any], as_json: bool) -> None:
    from rich.markup import escape

    if as_json:
        typer.echo(json.dumps(job, indent=2))
        return
    for key, value in job.items():
        if key == "post" and value:
            value = f"{value['publish_id']} ({value['status']}, step {value['step']})"
        console.print(f"[bold]{key}[/bold]: {escape(str(value))}", highlight=False)


@app.command("list")
def list_(
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help=f"Only this state (repeatable): {', '.join(STATES)}."),
    ] = None,
    post: Annotated[
        str | None, typer.Option("--post", help="Only the jobs of this post (its publish_id).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Jobs, newest first: kind, state, attempts, run_at, lease holder, last error, post."""
    bad = [s for s in state or [] if s not in STATES]
    if bad:
        err_console.print(f"[red]Unknown state {bad[0]!r}: use one of {', '.join(STATES)}.[/red]")
        raise typer.Exit(2)

    async def work(session: AsyncSession, now: Any) -> list[dict[str, Any]]:
        from zakipost.models.job import JobStatus
        from zakipost.worker.inspect import list_jobs

        locks = [await _post_lock(session, post)] if post else []
        jobs = await list_jobs(
            session,
            kinds=kind or (),
            statuses=[JobStatus(s) for s in state or []],
            locks=locks,
            limit=limit,
        )
        return await _described(session, list(jobs), now)

    jobs = _run(work)
    if as_json:
        typer.echo(json.dumps(jobs, indent=2))
        return
    if not jobs:
        console.print("No jobs match.")
        return
    from rich.table import Table

    table = Table("id", "kind", "state", "attempts", "run_at", "lease", "post", "last error")
    for job in jobs:
        lease = ""
        if job["lease_owner"] and job["status"] == "doing":
            alive = "" if job["lease_live"] else " (expired)"
            lease = f"{job['lease_owner']} until {job['lease_expires_at']}{alive}"
        table.add_row(
            job["id"],
            job["kind"],
            job["status"],
            str(job["attempts"]),
            job["run_at"] or "",
            lease,
            job["post"]["publish_id"] if job["post"] else "",
            (job["last_error"] or "")[:80],
        )
    console.print(table)


@app.command()
def show(job_id: JobArg, as_json: JsonOpt = False) -> None:
    """One job in full, with the post it drives."""
    identifier = _job_id(job_id)

    async def work(session: AsyncSession, now: Any) -> dict[str, Any]:
        from zakipost.worker.inspect import get_job

        return (await _described(session, [await get_job(session, identifier)], now))[0]

    _print_one(_run(work), as_json)


@app.command()
def retry(job_id: JobArg, as_json: JsonOpt = False) -> None:
    """Run a failed, cancelled or queued job again now (attempts start over). A post's job
    picks the post up at its recorded step; a finished post's job ends at once."""
    identifier = _job_id(job_id)

    async def work(session: AsyncSession, now: Any) -> dict[str, Any]:
        from zakipost.worker import inspect

        job = await inspect.retry(session, identifier, now=now)
        return (await _described(session, [job], now))[0]

    job = _run(work)
    if as_json:
        typer.echo(json.dumps(job, indent=2))
    else:
        console.print(f"Job {job['id']} ({job['kind']}) is queued to run now.")


@app.command()
def cancel(job_id: JobArg, as_json: JsonOpt = False) -> None:
    """Withdraw a queued job. A post's job is refused: cancel the post instead (dashboard or
    API), so its points are refunded and its status says so."""
    identifier = _job_id(job_id)

    async def work(session: AsyncSession, now: Any) -> dict[str, Any]:
        from zakipost.worker import inspect

        job = await inspect.get_job(session, identifier)
        posts = await _posts_of(session, [job])
        if job.lock in posts:
            post = posts[job.lock]
            raise inspect.JobNotChangeable(
                f"Job {identifier} drives post {post['publish_id']}: cancel the post instead "
                f"(dashboard, or DELETE /v1/tiktok/publish/{post['publish_id']}), so its "
                "points are refunded and its status says so."
            )
        job = await inspect.cancel(session, identifier, now=now)
        return (await _described(session, [job], now))[0]

    job = _run(work)
    if as_json:
        typer.echo(json.dumps(job, indent=2))
    else:
        console.print(f"Job {job['id']} ({job['kind']}) is cancelled.")


@app.command()
def workers(as_json: JsonOpt = False) -> None:
    """The workers that reported in: live ones (seen in the last minute) first."""

    async def work(session: AsyncSession, now: Any) -> list[dict[str, Any]]:
        from zakipost.worker import liveness

        rows = await liveness.all_workers(session)
        return [
            {
                "id": w.id,
                "host": w.host,
                "pid": w.pid,
                "started_at": w.started_at.isoformat(),
                "last_seen_at": w.last_seen_at.isoformat(),
                "live": w.last_seen_at >= now - liveness.LIVE_WINDOW,
                "concurrency": w.concurrency,
                "serves": w.serves,
            }
            for w in rows
        ]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("No worker has reported in (none running, or none since a day).")
        return
    for row in rows:
        state = "live" if row["live"] else "not seen for over a minute"
        console.print(
            f"{row['id']}: {state}, last seen {row['last_seen_at']}, "
            f"{row['concurrency']} at once, {row['serves'].get('tiktok', '')}, "
            f"store {row['serves'].get('store', '')}",
            highlight=False,
            markup=False,
        )
