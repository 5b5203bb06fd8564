"""``POST /v1/tiktok/publish`` (the contract) and reading posts back."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.auth.dependencies import ApiAccount
from zakipost.config import Settings
from zakipost.connection import service as connection_service
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import ClockDep, SettingsDep
from zakipost.models import Account, Post, PostMode
from zakipost.post import idempotency
from zakipost.post import service as post_service
from zakipost.post.schemas import (
    PhotoPublishRequest,
    PostJobOut,
    PostOut,
    PostPage,
    PublishAccepted,
    ScheduleChange,
    VideoPublishRequest,
    waits_for_worker,
)
from zakipost.publishing.states import PostStatus
from zakipost.schemas import AUTH_ERRORS, Envelope, error_responses, ok
from zakipost.worker import inspect

router = APIRouter(prefix="/tiktok", tags=["publishing"], responses=error_responses(*AUTH_ERRORS))

PUBLISH_STARTED = "Publishing process started."
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key and body within 24 hours returns the first "
        "answer and publishes once; the same key with another body is a 409.",
    ),
]


@router.post(
    "/publish",
    summary="Publish a video to a connected TikTok account",
    response_model=Envelope[PublishAccepted],
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "message": PUBLISH_STARTED,
                        "data": {"publish_id": "v_pub_a1B2c3D4e5F6g7H8"},
                    }
                }
            }
        },
        **error_responses(402, 404, 409, 422),
    },
)
async def publish(
    body: VideoPublishRequest,
    account: ApiAccount,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Accepted at once; the worker fetches the video, sends it to TikTok and checks the
    outcome. Read progress with ``GET /v1/tiktok/publish/{publish_id}``."""
    settings: Settings = request.app.state.settings
    async with _committed(request) as session:
        return await _idempotent(
            session,
            account,
            idempotency_key,
            "/v1/tiktok/publish",
            body,
            lambda: _accept_video(session, settings, account, body),
        )


@contextlib.asynccontextmanager
async def _committed(request: Request) -> AsyncIterator[AsyncSession]:
    """What ``SessionDep`` gives (commit when the block succeeds, before the answer is sent;
    roll back when it raises) without a generator dependency: FastAPI's dependency solving
    and exit stack were a measurable share of a publish."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


def _post_out(detail: post_service.PostDetail) -> PostOut:
    return PostOut.of(
        detail.post, detail.tiktok_account_id, detail.events, username=detail.username
    )


async def _waiting(session: ReadSessionDep, clock: ClockDep, posts: list[Post]) -> set[str]:
    """The publish ids among ``posts`` that are due while no worker is alive."""
    now = clock()
    if not any(waits_for_worker(p, workers_alive=False, now=now) for p in posts):
        return set()  # nothing due: no need to ask about workers
    alive = await post_service.workers_alive(session, now)
    return {p.publish_id for p in posts if waits_for_worker(p, workers_alive=alive, now=now)}


def _accepted_message(post: Post) -> str:
    if post.status is PostStatus.scheduled and post.scheduled_at is not None:
        message = f"Post scheduled for {post.scheduled_at:%Y-%m-%d %H:%M} UTC."
    else:
        message = PUBLISH_STARTED
    if post.post_mode is PostMode.draft:
        message += (
            " It goes to the creator's TikTok inbox as a draft: the creator must open TikTok's "
            "inbox notification to finish the post."
        )
    return message


def _accepted_body(post: Post) -> dict[str, Any]:
    # Envelope[PublishAccepted] as JSON, written out: the same body without building and
    # dumping two models on every publish (tests/post check it against the schema).
    return {
        "success": True,
        "message": _accepted_message(post),
        "data": {"publish_id": post.publish_id},
    }


async def _accept_video(
    session: SessionDep, settings: SettingsDep, account: Account, body: VideoPublishRequest
) -> dict[str, Any]:
    return _accepted_body(await post_service.accept_video(session, settings, account, body))


async def _accept_photos(
    session: SessionDep, settings: SettingsDep, account: Account, body: PhotoPublishRequest
) -> dict[str, Any]:
    return _accepted_body(await post_service.accept_photos(session, settings, account, body))


@router.post(
    "/photos",
    summary="Publish a photo carousel (1 to 35 images) to a connected TikTok account",
    response_model=Envelope[PublishAccepted],
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "message": PUBLISH_STARTED,
                        "data": {"publish_id": "p_pub_a1B2c3D4e5F6g7H8"},
                    }
                }
            }
        },
        **error_responses(402, 404, 409, 422, 429),
    },
)
async def publish_photos(
    body: PhotoPublishRequest,
    account: ApiAccount,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Images are fetched (or taken from uploads), converted to JPEG or WebP and resized to
    TikTok's limits when needed (the timeline says which), and served to TikTok from
    ZakiPost's media URL, which TikTok pulls."""
    settings: Settings = request.app.state.settings
    async with _committed(request) as session:
        return await _idempotent(
            session,
            account,
            idempotency_key,
            "/v1/tiktok/photos",
            body,
            lambda: _accept_photos(session, settings, account, body),
        )


@router.delete(
    "/publish/{publish_id}",
    summary="Cancel a post that has not reached TikTok yet (points are refunded)",
    response_model=Envelope[PostOut],
    responses=error_responses(404, 409),
)
async def cancel_post(
    publish_id: str, account: ApiAccount, session: SessionDep, settings: SettingsDep
) -> Envelope[PostOut]:
    post = await post_service.cancel(session, settings, account, publish_id)
    return ok(
        _post_out(await post_service.detail(session, account.id, post.publish_id)),
        "Post cancelled.",
    )


@router.patch(
    "/publish/{publish_id}",
    summary="Reschedule a post that has not reached TikTok yet",
    response_model=Envelope[PostOut],
    responses=error_responses(404, 409, 422),
)
async def reschedule_post(
    publish_id: str, body: ScheduleChange, account: ApiAccount, session: SessionDep
) -> Envelope[PostOut]:
    post = await post_service.reschedule(session, account, publish_id, body.scheduled_at)
    return ok(
        _post_out(await post_service.detail(session, account.id, post.publish_id)),
        "Post rescheduled.",
    )


async def _idempotent(
    session: SessionDep,
    account: Account,
    key: str | None,
    path: str,
    request: BaseModel,
    accept: Any,
) -> JSONResponse:
    status, body, replayed = await idempotency.once(
        session,
        account.id,
        key,
        path,
        # Only a keyed request is fingerprinted.
        lambda: request.model_dump(mode="json", exclude_unset=True),
        accept,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)


@router.get(
    "/publish/{publish_id}",
    summary="A post's status, TikTok's ids, the error if any, and its timeline",
    response_model=Envelope[PostOut],
    responses={
        200: {
            "headers": {
                "Retry-After": {
                    "description": "Until the post ends: seconds before reading it again is "
                    "worth it (its scheduled or deferred time; 2 while queued or processing).",
                    "schema": {"type": "integer"},
                }
            }
        },
        **error_responses(404),
    },
)
async def get_post(
    publish_id: str,
    account: ApiAccount,
    session: ReadSessionDep,
    clock: ClockDep,
    response: Response,
) -> Envelope[PostOut]:
    """While the post has not ended, ``Retry-After`` says when reading it again is worth
    it: at its scheduled or deferred time, or in a moment while it is queued or processed.
    ``waiting_for`` is ``"worker"`` while the post is due and no worker was seen in the
    last minute."""
    detail = await post_service.detail(session, account.id, publish_id)
    hint = poll_hint(detail.post, clock())
    if hint is not None:
        response.headers["Retry-After"] = str(hint)
    waiting = await _waiting(session, clock, [detail.post])
    return ok(
        PostOut.of(
            detail.post,
            detail.tiktok_account_id,
            detail.events,
            waiting_for_worker=detail.post.publish_id in waiting,
            username=detail.username,
        )
    )


POLL_WHILE_WORKING = 2  # seconds; a post is normally live within about 15 s
POLL_WHEN_UNKNOWN = 30


def poll_hint(post: Post, now: dt.datetime) -> int | None:
    """Seconds until a caller following ``post`` should read it again; None once it ended."""
    if post.status in (PostStatus.scheduled, PostStatus.deferred):
        at = post.run_at or post.scheduled_at
        if at is not None:
            return max(POLL_WHILE_WORKING, math.ceil((at - now).total_seconds()))
        return POLL_WHILE_WORKING
    if post.status in (PostStatus.queued, PostStatus.processing):
        return POLL_WHILE_WORKING
    if post.status is PostStatus.unknown:
        return POLL_WHEN_UNKNOWN
    return None


@router.get(
    "/publish",
    summary="The caller's posts, newest first",
    response_model=Envelope[PostPage],
    responses=error_responses(404, 422),
)
async def list_posts(
    account: ApiAccount,
    session: ReadSessionDep,
    clock: ClockDep,
    status: Annotated[PostStatus | None, Query(description="Only posts in this status.")] = None,
    tiktok_account_id: Annotated[
        str | None, Query(description="Only this account's posts.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Envelope[PostPage]:
    connection_id = None
    if tiktok_account_id is not None:
        connection = await connection_service.get_for(session, account.id, tiktok_account_id)
        connection_id = connection.id
    page, following = await post_service.list_for(
        session,
        account.id,
        status=status,
        connection_id=connection_id,
        limit=limit,
        cursor=post_service.Cursor.decode(cursor) if cursor else None,
    )
    waiting = await _waiting(session, clock, [row.post for row in page])
    return ok(
        PostPage(
            items=[
                PostOut.of(
                    row.post,
                    row.tiktok_account_id,
                    waiting_for_worker=row.post.publish_id in waiting,
                    username=row.username,
                )
                for row in page
            ],
            next_cursor=following.encode() if following else None,
        )
    )


@router.get(
    "/publish/{publish_id}/jobs",
    summary="The queue's jobs that drive a post (read-only): why a post is waiting",
    response_model=Envelope[list[PostJobOut]],
    responses=error_responses(404),
)
async def post_jobs(
    publish_id: str, account: ApiAccount, session: ReadSessionDep, clock: ClockDep
) -> Envelope[list[PostJobOut]]:
    """Each job of the post, newest first: its kind, state, attempts, when it is due,
    whether a worker holds it and until when, and its last error. Operators see every job,
    and which worker holds it, with ``zakipost jobs``."""
    post = await post_service.get(session, account.id, publish_id)
    now = clock()
    jobs = await inspect.list_jobs(session, locks=[post_service.job_lock(post.id)])
    return ok(
        [
            PostJobOut(
                id=str(job.id),
                kind=job.kind,
                status=job.status.value,
                attempts=job.attempts,
                max_attempts=job.max_attempts,
                run_at=job.run_at,
                running=inspect.lease_live(job, now=now),
                lease_expires_at=job.lease_expires_at,
                last_error=job.last_error,
                created_at=job.created_at,
                finished_at=job.finished_at,
            )
            for job in jobs
        ]
    )
