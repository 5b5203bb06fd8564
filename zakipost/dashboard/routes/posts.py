"""Posts: the list (by account and status), one post with its timeline updating live while
it processes, and cancelling or rescheduling a post that has not reached TikTok yet."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from zakipost.connection import service as connection_service
from zakipost.connection.schemas import TikTokAccountOut
from zakipost.dashboard.compose import FormInvalid, scheduled_time
from zakipost.dashboard.sessions import CurrentUser, DashboardUser, FormUser
from zakipost.dashboard.web import render, validation_fields
from zakipost.db.session import ReadSessionDep
from zakipost.dependencies import SessionmakerDep, SettingsDep, get_clock
from zakipost.errors import AppError
from zakipost.models import Post
from zakipost.post import service as post_service
from zakipost.post.schemas import PostOut, ScheduleChange, waits_for_worker
from zakipost.publishing.states import CANCELLABLE, TERMINAL, PostStatus

router = APIRouter(prefix="/posts")

PAGE_SIZE = 25
# Still moving: the page keeps asking for news.
LIVE = frozenset(PostStatus) - TERMINAL - {PostStatus.in_inbox}


@dataclass(frozen=True, slots=True)
class PostView:
    """A post as its page shows it: the API's view, plus the account it went to."""

    post: PostOut
    account: TikTokAccountOut | None

    @property
    def live(self) -> bool:
        return PostStatus(self.post.status) in LIVE

    @property
    def changeable(self) -> bool:
        return PostStatus(self.post.status) in CANCELLABLE

    @property
    def links(self) -> list[str]:
        """TikTok's links to the published post, once TikTok has given its public ids."""
        if self.post.status != PostStatus.published or not self.post.post_url:
            return []
        first = self.post.post_url
        base = first.rsplit("/", 1)[0]
        return [first] + [f"{base}/{i}" for i in self.post.tiktok_post_ids[1:]]


async def _waiting(request: Request, session: ReadSessionDep, posts: list[Post]) -> set[str]:
    """The publish ids among ``posts`` due while no worker is alive (nothing moves them)."""
    now = get_clock(request)()
    if not any(waits_for_worker(p, workers_alive=False, now=now) for p in posts):
        return set()
    alive = await post_service.workers_alive(session, now)
    return {p.publish_id for p in posts if waits_for_worker(p, workers_alive=alive, now=now)}


async def _view(
    session: ReadSessionDep, user: DashboardUser, publish_id: str, request: Request | None = None
) -> PostView:
    detail = await post_service.detail(session, user.account.id, publish_id)
    account = await connection_service.get_for(session, user.account.id, detail.tiktok_account_id)
    waiting = await _waiting(request, session, [detail.post]) if request is not None else set()
    return PostView(
        PostOut.of(
            detail.post,
            detail.tiktok_account_id,
            detail.events,
            waiting_for_worker=detail.post.publish_id in waiting,
            username=detail.username,
        ),
        TikTokAccountOut.of(account),
    )


@router.get("")
async def posts_page(
    request: Request,
    user: CurrentUser,
    session: ReadSessionDep,
    account: str = "",
    status: str = "",
    cursor: str = "",
) -> Response:
    connections = await connection_service.list_for(session, user.account.id)
    by_id = {c.id: TikTokAccountOut.of(c) for c in connections}
    connection_id = None
    if account:
        connection_id = (await connection_service.get_for(session, user.account.id, account)).id
    chosen_status = PostStatus(status) if status in PostStatus.__members__ else None
    page, following = await post_service.list_for(
        session,
        user.account.id,
        status=chosen_status,
        connection_id=connection_id,
        limit=PAGE_SIZE,
        cursor=post_service.Cursor.decode(cursor) if cursor else None,
    )
    waiting = await _waiting(request, session, [row.post for row in page])
    views = [
        PostView(
            PostOut.of(
                row.post,
                row.tiktok_account_id,
                waiting_for_worker=row.post.publish_id in waiting,
                username=row.username,
            ),
            by_id.get(row.post.connection_id),
        )
        for row in page
    ]
    return render(
        request,
        "posts.html",
        title="Posts",
        nav="posts",
        user=user,
        views=views,
        accounts=list(by_id.values()),
        account=account,
        status=chosen_status.value if chosen_status else "",
        statuses=list(PostStatus),
        next_cursor=following.encode() if following else None,
    )


def _post_page(
    request: Request,
    user: DashboardUser,
    view: PostView,
    *,
    status: int = 200,
    notices: list[str] | None = None,
    field_errors: dict[str, str] | None = None,
    errors: list[str] | None = None,
) -> Response:
    return render(
        request,
        "post.html",
        status,
        title="Post",
        nav="posts",
        user=user,
        view=view,
        notices=notices or [],
        errors=errors or [],
        field_errors=field_errors or {},
    )


@router.get("/{publish_id}")
async def post_page(
    request: Request, publish_id: str, user: CurrentUser, session: ReadSessionDep
) -> Response:
    view = await _view(session, user, publish_id, request)
    notices = []
    if request.query_params.get("new"):
        notices.append(
            "Your post was sent to ZakiPost. Processing may take a few minutes; this page "
            "follows it as it goes."
        )
    for key, text in (
        ("cancelled", "Post cancelled; its points were refunded."),
        ("rescheduled", "Post rescheduled."),
    ):
        if request.query_params.get(key):
            notices.append(text)
    return _post_page(request, user, view, notices=notices)


@router.get("/{publish_id}/status")
async def post_status(
    request: Request, publish_id: str, user: CurrentUser, session: ReadSessionDep
) -> Response:
    """The live part of the post's page, which its script fetches every few seconds."""
    view = await _view(session, user, publish_id, request)
    response = render(request, "_post_status.html", view=view, user=user)
    response.headers["X-Post-Live"] = "1" if view.live else "0"
    return response


@router.get("/{publish_id}/cancel")
async def cancel_confirm(
    request: Request, publish_id: str, user: CurrentUser, session: ReadSessionDep
) -> Response:
    view = await _view(session, user, publish_id)
    return render(
        request,
        "confirm.html",
        title="Cancel this post?",
        nav="posts",
        user=user,
        message="The post will not be sent to TikTok, and its points are refunded.",
        action=f"/dashboard/posts/{view.post.publish_id}/cancel",
        confirm_label="Cancel the post",
        back=f"/dashboard/posts/{view.post.publish_id}",
        back_label="Keep it",
        danger=True,
    )


@router.post("/{publish_id}/cancel")
async def cancel(
    request: Request,
    publish_id: str,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    settings: SettingsDep,
    session: ReadSessionDep,
) -> Response:
    try:
        async with sessionmaker() as write, write.begin():
            await post_service.cancel(write, settings, user.account, publish_id)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        view = await _view(session, user, publish_id)
        return _post_page(request, user, view, status=409, errors=[exc.message])
    return RedirectResponse(f"/dashboard/posts/{publish_id}?cancelled=1", status_code=303)


@router.post("/{publish_id}/reschedule")
async def reschedule(
    request: Request,
    publish_id: str,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    session: ReadSessionDep,
    scheduled_at: str = Form(""),
    tz_offset_minutes: str = Form(""),
) -> Response:
    try:
        change = ScheduleChange(scheduled_at=scheduled_time(scheduled_at, tz_offset_minutes))
        async with sessionmaker() as write, write.begin():
            await post_service.reschedule(write, user.account, publish_id, change.scheduled_at)
    except FormInvalid as exc:
        fields = {"scheduled_at": exc.fields["schedule"]}
    except ValidationError as exc:
        fields = validation_fields(exc, ["scheduled_at"], default="scheduled_at")
    except AppError as exc:
        if exc.status_code == 404:
            raise
        fields = {"scheduled_at": exc.message}
    else:
        return RedirectResponse(f"/dashboard/posts/{publish_id}?rescheduled=1", status_code=303)
    view = await _view(session, user, publish_id)
    return _post_page(request, user, view, status=400, field_errors=fields)
