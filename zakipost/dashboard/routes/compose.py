"""Compose: pick an account, read its fresh creator info, then post a video or photos,
following TikTok's content sharing guidelines. Files are uploaded first (``/media``) with
the same service as ``POST /v1/media``; the post goes through the same service as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from zakipost.billing.readiness import readiness
from zakipost.connection import service as connection_service
from zakipost.connection.schemas import TikTokAccountOut
from zakipost.dashboard.compose import (
    BRANDED_NOT_PRIVATE,
    CHOOSE_PRIVACY,
    DISCLOSURE_INCOMPLETE,
    ComposeForm,
    FormInvalid,
    build_request,
    service_error_field,
)
from zakipost.dashboard.sessions import CurrentUser, DashboardUser, FormUser, ScriptUser
from zakipost.dashboard.web import ReadMakerDep, render
from zakipost.db.session import SessionDep
from zakipost.dependencies import SessionmakerDep, SettingsDep, TikTokDep, TokenVaultDep
from zakipost.errors import AppError
from zakipost.kit.clock import utcnow
from zakipost.models import ConnectionStatus
from zakipost.post import service as post_service
from zakipost.post.schemas import (
    MAX_PHOTOS,
    PHOTO_DESCRIPTION_LIMIT,
    PHOTO_TITLE_LIMIT,
    VIDEO_TITLE_LIMIT,
    PhotoPublishRequest,
)
from zakipost.publishing import daily_cap
from zakipost.storage import staging_dir
from zakipost.storage.dependencies import StoreDep
from zakipost.tiktok import TikTokError
from zakipost.upload import service as media_service
from zakipost.upload.intake import receive
from zakipost.upload.schemas import MediaOut

router = APIRouter()

LIMITS = {
    "video_title": VIDEO_TITLE_LIMIT,
    "photo_title": PHOTO_TITLE_LIMIT,
    "description": PHOTO_DESCRIPTION_LIMIT,
    "photos": MAX_PHOTOS,
}
TEXTS = {
    "choose_privacy": CHOOSE_PRIVACY,
    "disclosure_incomplete": DISCLOSURE_INCOMPLETE,
    "branded_not_private": BRANDED_NOT_PRIVATE,
}


async def _render(
    request: Request,
    user: DashboardUser,
    reader: ReadMakerDep,
    settings: SettingsDep,
    *,
    selected: TikTokAccountOut | None = None,
    form: ComposeForm | None = None,
    stop: str | None = None,
    status: int = 200,
    field_errors: dict[str, str] | None = None,
) -> Response:
    async with reader() as session:
        connections = await connection_service.list_for(session, user.account.id)
        ready = await readiness(session, settings, user.account, utcnow())
    accounts = [TikTokAccountOut.of(c) for c in connections]
    errors = dict(field_errors or {})
    return render(
        request,
        "compose.html",
        status,
        title="Compose a post",
        nav="compose",
        user=user,
        accounts=[a for a in accounts if a.status is ConnectionStatus.active],
        selected=selected,
        creator=selected.creator_info if selected else None,
        stop=stop,
        form=form or ComposeForm(),
        errors=[errors.pop("form")] if "form" in errors else [],
        field_errors=errors,
        limits=LIMITS,
        texts=TEXTS,
        cost=settings.billing.publish_cost,
        balance=ready.balance,
        ready=ready,
        max_upload_bytes=settings.storage.max_upload_bytes,
    )


async def _fresh_account(
    sessionmaker: SessionmakerDep,
    reader: ReadMakerDep,
    tokens: TokenVaultDep,
    tiktok: TikTokDep,
    user: DashboardUser,
    ref: str,
) -> tuple[TikTokAccountOut, str | None]:
    """The account with creator info fetched from TikTok now, and why it cannot post now
    (None when it can)."""
    async with reader() as session:
        connection = await connection_service.get_for(session, user.account.id, ref)
    if connection.status is not ConnectionStatus.active:
        account = TikTokAccountOut.of(connection)
        return account, (
            "This TikTok account must be connected again before it can post: use Connect TikTok "
            "on the Connected accounts page."
        )
    problem = None
    try:
        await connection_service.refresh_creator_info(sessionmaker, tokens, tiktok, connection.id)
    except (AppError, TikTokError) as exc:
        problem = (
            "TikTok could not tell what this account may post right now "
            f"({getattr(exc, 'message', None) or exc}). Try again in a few minutes."
        )
    async with reader() as session:
        connection = await connection_service.get_for(session, user.account.id, ref)
        account = TikTokAccountOut.of(connection, await daily_cap.state(session, connection))
    info = account.creator_info
    if problem is None and info is not None and not info.can_post:
        problem = (
            f"TikTok says {info.nickname or 'this creator'} cannot post right now"
            + (f": {info.cannot_post_message}" if info.cannot_post_message else "")
            + ". Try again later."
        )
    return account, problem


@router.get("/compose")
async def compose_page(
    request: Request,
    user: CurrentUser,
    sessionmaker: SessionmakerDep,
    reader: ReadMakerDep,
    settings: SettingsDep,
    tokens: TokenVaultDep,
    tiktok: TikTokDep,
    account: str = "",
) -> Response:
    if not account:
        return await _render(request, user, reader, settings)
    selected, stop = await _fresh_account(sessionmaker, reader, tokens, tiktok, user, account)
    form = ComposeForm(tiktok_account_id=str(selected.tiktok_account_id))
    return await _render(request, user, reader, settings, selected=selected, form=form, stop=stop)


@router.post("/compose")
async def publish(
    request: Request,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    reader: ReadMakerDep,
    settings: SettingsDep,
) -> Response:
    data = await request.form()
    form = ComposeForm.parse(
        {k: v for k, v in data.items() if isinstance(v, str)},
        [v for v in data.getlist("media_ids") if isinstance(v, str)],
    )
    async with reader() as session:
        selected = TikTokAccountOut.of(
            await connection_service.get_for(session, user.account.id, form.tiktok_account_id)
        )
    try:
        body = build_request(form, selected.creator_info)
        async with sessionmaker() as session, session.begin():
            if isinstance(body, PhotoPublishRequest):
                post = await post_service.accept_photos(session, settings, user.account, body)
            else:
                post = await post_service.accept_video(session, settings, user.account, body)
    except FormInvalid as exc:
        fields = exc.fields
    except AppError as exc:
        fields = {service_error_field(exc.code): exc.message}
    else:
        return RedirectResponse(f"/dashboard/posts/{post.publish_id}?new=1", status_code=303)
    return await _render(
        request,
        user,
        reader,
        settings,
        selected=selected,
        form=form,
        status=400,
        field_errors=fields,
    )


@router.post("/media")
async def upload_media(
    request: Request,
    user: ScriptUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> JSONResponse:
    """The compose page's uploads (one file per request, sent by its script with the CSRF
    token in a header); the answer is the media, as ``POST /v1/media`` gives it."""
    try:
        spooled = await receive(
            request.headers,
            request.stream(),
            staging_dir(settings),
            settings.storage.max_upload_bytes,
            filename=request.query_params.get("filename"),
        )
        try:
            row = await media_service.accept(session, store, settings, user.account.id, spooled)
        finally:
            spooled.path.unlink(missing_ok=True)
    except AppError as exc:
        await session.rollback()
        body: dict[str, Any] = {"message": exc.message, "code": exc.code}
        return JSONResponse(body, status_code=exc.status_code)
    return JSONResponse(MediaOut.of(row).model_dump(mode="json"))
