"""CodivUpload's endpoints for TikTok, as its SDK (``codivupload``) calls them, over
ZakiPost's services: point ``CodivUpload(base_url=...)`` at
``<zakipost>/compat/codivupload/v1`` and use a ZakiPost named key (``zp_sk_...``) as the
API key. Profiles are the connected TikTok accounts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.auth.dependencies import ApiAccount
from zakipost.compat import posting
from zakipost.compat.codivupload import inbound, outbound
from zakipost.connection import service as connection_service
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import SettingsDep
from zakipost.errors import NotFound
from zakipost.models import Connection
from zakipost.post import idempotency
from zakipost.post import service as post_service

PREFIX = "/compat/codivupload/v1"
router = APIRouter(prefix=PREFIX, include_in_schema=False)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _by_token(connections: Sequence[Connection]) -> dict[str, Connection]:
    return {str(c.internal_token): c for c in connections}


@router.post("/posts")
async def create_post(
    body: Annotated[dict[str, Any], Body()],
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def accept() -> dict[str, Any]:
        connections = await connection_service.list_for(session, account.id)
        request = inbound.translate(body, connections)
        post = await posting.accept(session, settings, account, request)
        connection = _by_token(connections).get(request.tiktok_account_id)
        scheduled = post.scheduled_at is not None
        return {
            "success": True,
            "message": "Post scheduled." if scheduled else "Post accepted; publishing to TikTok.",
            **outbound.post_out(post, connection, request.tiktok_account_id),
        }

    status, answer, replayed = await idempotency.once(
        session, account.id, idempotency_key, f"{PREFIX}/posts", body, accept
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(answer, status_code=201 if status == 200 else status, headers=headers)


@router.get("/posts")
async def list_posts(
    account: ApiAccount,
    session: ReadSessionDep,
    status: str | None = None,
    profile_name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    connections = await connection_service.list_for(session, account.id)
    connection_id = None
    if profile_name:
        connection_id = inbound.find_profile(connections, profile_name).id
    rows, total = await posting.page(
        session,
        account.id,
        statuses=posting.status_groups(outbound.STATUS_FILTER, status),
        limit=limit,
        offset=offset,
        connection_id=connection_id,
    )
    by_token = _by_token(connections)
    return {
        "success": True,
        "posts": [
            outbound.post_out(row.post, by_token.get(row.tiktok_account_id), row.tiktok_account_id)
            for row in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


async def _post(session: AsyncSession, account_id: uuid.UUID, post_id: str) -> dict[str, Any]:
    detail = await post_service.detail(session, account_id, post_id)
    connection = await connection_service.get_for(session, account_id, detail.tiktok_account_id)
    return outbound.post_out(detail.post, connection, detail.tiktok_account_id)


@router.get("/posts/{post_id}")
async def get_post(post_id: str, account: ApiAccount, session: ReadSessionDep) -> dict[str, Any]:
    return {"success": True, **await _post(session, account.id, post_id)}


@router.put("/posts/{post_id}")
async def update_post(
    post_id: str,
    body: Annotated[dict[str, Any], Body()],
    account: ApiAccount,
    session: SessionDep,
) -> dict[str, Any]:
    """Only the schedule of a post that has not reached TikTok yet can change."""
    await post_service.reschedule(session, account, post_id, inbound.reschedule_time(body))
    return {
        "success": True,
        "message": "Post rescheduled.",
        **await _post(session, account.id, post_id),
    }


@router.delete("/posts/{post_id}")
async def delete_post(
    post_id: str, account: ApiAccount, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """A post that has not reached TikTok yet is cancelled and its points refunded."""
    await post_service.cancel(session, settings, account, post_id)
    return {
        "success": True,
        "message": "Post cancelled; it will not be published and its points are refunded.",
        **await _post(session, account.id, post_id),
    }


@router.get("/agency/profiles")
async def list_profiles(account: ApiAccount, session: ReadSessionDep) -> dict[str, Any]:
    connections = await connection_service.list_for(session, account.id)
    return {"success": True, "profiles": [outbound.profile_out(c) for c in connections]}


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def not_offered(path: str) -> None:
    raise NotFound(f"/{path} is not part of CodivUpload's API that ZakiPost offers (TikTok posts).")
