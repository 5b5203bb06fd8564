"""Zernio's ``/v1`` endpoints for TikTok, as its SDK (``late-sdk``) calls them, over
ZakiPost's services: point ``Zernio(base_url=...)`` at ``<zakipost>/compat/zernio/api`` and
authenticate with a ZakiPost named key (``zp_sk_...``) as the API key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse

from zakipost.auth.dependencies import ApiAccount
from zakipost.compat import posting
from zakipost.compat.zernio import inbound, outbound
from zakipost.compat.zernio.errors import PlatformNotSupported, UnsupportedFeature
from zakipost.connection import service as connection_service
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import SettingsDep, TikTokDep, VaultDep
from zakipost.errors import NotFound
from zakipost.models import Account
from zakipost.post import idempotency
from zakipost.post import service as post_service
from zakipost.storage import staging_dir
from zakipost.storage.dependencies import StoreDep
from zakipost.upload import service as media_service
from zakipost.upload.endpoints import release_connection
from zakipost.upload.intake import receive

PREFIX = "/compat/zernio/api"
router = APIRouter(prefix=f"{PREFIX}/v1", include_in_schema=False)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
# Zernio's SDK sends one x-request-id per call, the same on each retry of it.
RequestId = Annotated[str | None, Header(alias="x-request-id")]


def _request_key(request_id: str | None) -> str | None:
    """The SDK's request id as an idempotency key (in a namespace of its own), when it is
    one an Idempotency-Key could be; otherwise the request is just not deduplicated."""
    if not request_id:
        return None
    key = f"x-request-id:{request_id}"
    return key if len(key) <= idempotency.MAX_KEY_LENGTH and key.isprintable() else None


def profile_id(account: Account) -> str:
    """Zernio groups accounts in profiles; a ZakiPost account is one profile."""
    return str(account.id)


@router.post("/posts")
async def create_post(
    body: Annotated[dict[str, Any], Body()],
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
    request_id: RequestId = None,
) -> JSONResponse:
    async def accept() -> dict[str, Any]:
        translated = inbound.translate(body, public_url=settings.public_url)
        post = await posting.accept(session, settings, account, translated.request)
        detail = await post_service.detail(session, account.id, post.publish_id)
        answer: dict[str, Any] = {
            "message": "Post scheduled." if post.scheduled_at else "Post is publishing.",
            "post": outbound.post_out(detail.post, detail.tiktok_account_id),
        }
        if translated.warnings:
            answer["warnings"] = translated.warnings
        return answer

    key = idempotency_key if idempotency_key is not None else _request_key(request_id)
    status, answer, replayed = await idempotency.once(
        session, account.id, key, f"{PREFIX}/v1/posts", body, accept
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(answer, status_code=201 if status == 200 else status, headers=headers)


@router.get("/posts")
async def list_posts(
    account: ApiAccount,
    session: ReadSessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    status: str | None = None,
    platform: str | None = None,
    date_from: Annotated[str | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[str | None, Query(alias="dateTo")] = None,
) -> dict[str, Any]:
    if date_from or date_to:
        raise UnsupportedFeature(
            "dateFrom and dateTo are not supported by ZakiPost; page through the posts "
            "(newest first) instead.",
            details={"param": "dateFrom" if date_from else "dateTo"},
        )
    statuses = posting.status_groups(outbound.STATUS_FILTER, status)
    if platform not in (None, "", "tiktok"):
        statuses = frozenset()
    rows, total = await posting.page(
        session, account.id, statuses=statuses, limit=limit, offset=(page - 1) * limit
    )
    return {
        "posts": [outbound.post_out(row.post, row.tiktok_account_id) for row in rows],
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "pages": (total + limit - 1) // limit,
        },
    }


@router.get("/posts/{post_id}")
async def get_post(post_id: str, account: ApiAccount, session: ReadSessionDep) -> dict[str, Any]:
    detail = await post_service.detail(session, account.id, post_id)
    return {"post": outbound.post_out(detail.post, detail.tiktok_account_id)}


@router.put("/posts/{post_id}")
async def update_post(
    post_id: str,
    body: Annotated[dict[str, Any], Body()],
    account: ApiAccount,
    session: SessionDep,
) -> dict[str, Any]:
    """Only the schedule of a post that has not reached TikTok yet can change."""
    when = inbound.reschedule_time(body)
    await post_service.reschedule(session, account, post_id, when)
    detail = await post_service.detail(session, account.id, post_id)
    return {
        "message": "Post rescheduled.",
        "post": outbound.post_out(detail.post, detail.tiktok_account_id),
    }


@router.delete("/posts/{post_id}")
async def delete_post(
    post_id: str, account: ApiAccount, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """A post that has not reached TikTok yet is cancelled and its points refunded."""
    await post_service.cancel(session, settings, account, post_id)
    return {"message": "Post cancelled; it will not be published and its points are refunded."}


@router.get("/accounts")
async def list_accounts(
    account: ApiAccount,
    session: ReadSessionDep,
    profile: Annotated[str | None, Query(alias="profileId")] = None,
    platform: str | None = None,
) -> dict[str, Any]:
    connections = await connection_service.list_for(session, account.id)
    if profile not in (None, "", profile_id(account)) or platform not in (None, "", "tiktok"):
        connections = []
    return {
        "accounts": [outbound.account_out(c, profile_id(account)) for c in connections],
        "hasAnalyticsAccess": False,
    }


@router.get("/profiles")
async def list_profiles(account: ApiAccount, session: ReadSessionDep) -> dict[str, Any]:
    connections = await connection_service.list_for(session, account.id)
    return {"profiles": [outbound.profile_out(profile_id(account), len(connections))]}


@router.get("/connect/{platform}")
async def connect(
    platform: str,
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
    vault: VaultDep,
    tiktok: TikTokDep,
    redirect_url: Annotated[str | None, Query(alias="redirectUrl")] = None,
    redirect_url_snake: Annotated[str | None, Query(alias="redirect_url")] = None,
) -> dict[str, Any]:
    """TikTok's consent page for ZakiPost's app; after it the user lands on ``redirectUrl``
    (the SDK's ``redirect_url``) with ``tiktok_account_id`` (the accountId to post with) in
    the query."""
    if platform != "tiktok":
        raise PlatformNotSupported(
            f"ZakiPost connects TikTok accounts only, not {platform!r}.",
            details={"param": "platform"},
        )
    url = await connection_service.begin_connect(
        session,
        settings,
        vault,
        tiktok,
        account,
        redirect_url=redirect_url or redirect_url_snake or None,
    )
    return {"authUrl": url}


@router.post("/media")
async def upload_media(
    request: Request,
    account: ApiAccount,
    auth_session: ReadSessionDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Multipart, the file in the field ``files`` (one per request), as the SDK's
    ``media.upload`` sends it; the URL returned goes in ``mediaItems``."""
    await release_connection(auth_session)
    spooled = await receive(
        request.headers,
        request.stream(),
        staging_dir(settings),
        settings.storage.max_upload_bytes,
        field="files",
    )
    try:
        row = await media_service.accept(session, store, settings, account.id, spooled)
    finally:
        spooled.path.unlink(missing_ok=True)
    return {"files": [outbound.uploaded_file(row, settings.public_url)]}


@router.get("/media/{media_id}")
async def get_media(
    media_id: str, account: ApiAccount, session: ReadSessionDep, settings: SettingsDep
) -> dict[str, Any]:
    row = await media_service.get(session, account.id, media_id)
    return outbound.uploaded_file(row, settings.public_url)


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def not_offered(path: str) -> None:
    raise NotFound(f"/v1/{path} is not part of Zernio's API that ZakiPost offers (TikTok posts).")
