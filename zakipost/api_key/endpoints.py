"""Named API keys over the API."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from zakipost.api_key import service as api_key_service
from zakipost.api_key.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from zakipost.auth.dependencies import ApiAccount
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.schemas import AUTH_ERRORS, Envelope, error_responses, ok

router = APIRouter(tags=["api keys"], responses=error_responses(*AUTH_ERRORS))


@router.get("/api-keys", summary="List named API keys", response_model=Envelope[list[ApiKeyOut]])
async def list_keys(account: ApiAccount, session: ReadSessionDep) -> Envelope[list[ApiKeyOut]]:
    keys = await api_key_service.list_for(session, account.id)
    return ok([ApiKeyOut.model_validate(k) for k in keys])


@router.post(
    "/api-keys",
    summary="Create a named key (sent as Authorization: Bearer …); shown in full once",
    response_model=Envelope[ApiKeyCreated],
    responses=error_responses(422),
)
async def create_key(
    body: ApiKeyCreate, account: ApiAccount, session: SessionDep
) -> Envelope[ApiKeyCreated]:
    key, value = await api_key_service.create(session, account.id, name=body.name)
    out = ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": value})
    return ok(out, "Key created; copy it now, it will not be shown again.")


@router.delete(
    "/api-keys/{key_id}",
    summary="Revoke a named key",
    response_model=Envelope[ApiKeyOut],
    responses=error_responses(404),
)
async def revoke_key(
    key_id: uuid.UUID, account: ApiAccount, session: SessionDep
) -> Envelope[ApiKeyOut]:
    key = await api_key_service.revoke(session, account.id, key_id)
    return ok(ApiKeyOut.model_validate(key), "Key revoked.")
