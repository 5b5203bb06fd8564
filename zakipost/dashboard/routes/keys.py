"""The API keys page: the fixed pair (secret shown on request), its rotation, named keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from zakipost.account import service as account_service
from zakipost.api_key import service as api_key_service
from zakipost.dashboard.sessions import CurrentUser, DashboardUser, FormUser
from zakipost.dashboard.web import app_error_fields, render
from zakipost.db.session import ReadSessionDep
from zakipost.dependencies import SessionmakerDep, VaultDep
from zakipost.errors import AppError

router = APIRouter(prefix="/keys")


async def _keys_page(
    request: Request,
    user: DashboardUser,
    session: ReadSessionDep,
    vault: VaultDep,
    *,
    status: int = 200,
    show_secret: bool = False,
    new_key: tuple[str, str] | None = None,
    name: str = "",
    field_errors: dict[str, str] | None = None,
    notices: list[str] | None = None,
) -> Response:
    credentials = account_service.reveal_credentials(vault, user.account)
    return render(
        request,
        "keys.html",
        status,
        title="API keys",
        nav="keys",
        user=user,
        client_key=credentials.client_key,
        # The secret is in the page only when asked for.
        client_secret=credentials.client_secret if show_secret else None,
        named_keys=await api_key_service.list_for(session, user.account.id),
        new_key=new_key,
        name=name,
        field_errors=field_errors or {},
        notices=notices or [],
    )


@router.get("")
async def keys_page(
    request: Request, user: CurrentUser, session: ReadSessionDep, vault: VaultDep
) -> Response:
    notices = []
    if request.query_params.get("rotated"):
        notices.append(
            "New key pair created; the previous pair no longer works. Show the secret to copy it."
        )
    if request.query_params.get("revoked"):
        notices.append("Key revoked: requests with it are refused from now on.")
    return await _keys_page(request, user, session, vault, notices=notices)


@router.post("/secret")
async def show_secret(
    request: Request, user: FormUser, session: ReadSessionDep, vault: VaultDep
) -> Response:
    return await _keys_page(request, user, session, vault, show_secret=True)


@router.get("/rotate")
async def rotate_confirm(request: Request, user: CurrentUser) -> Response:
    return render(
        request,
        "confirm.html",
        title="Rotate the key pair?",
        nav="keys",
        user=user,
        message="A new client_key and client_secret replace the current pair. Requests that "
        "send the current pair are refused from the moment you confirm, so update every "
        "program that uses it. Named keys are not affected.",
        action="/dashboard/keys/rotate",
        confirm_label="Rotate the key pair",
        back="/dashboard/keys",
        danger=True,
    )


@router.post("/rotate")
async def rotate(user: FormUser, sessionmaker: SessionmakerDep, vault: VaultDep) -> Response:
    async with sessionmaker() as session, session.begin():
        account = await account_service.get(session, user.account.id)
        await account_service.rotate_credentials(session, vault, account)
    # Redirected, so reloading the page can never rotate the pair a second time.
    return RedirectResponse("/dashboard/keys?rotated=1", status_code=303)


@router.post("/named")
async def create_named(
    request: Request,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    session: ReadSessionDep,
    vault: VaultDep,
    name: str = Form(""),
) -> Response:
    try:
        async with sessionmaker() as write, write.begin():
            key, value = await api_key_service.create(write, user.account.id, name=name)
    except AppError as exc:
        fields = {field: exc.message for field in app_error_fields(exc)} or {"name": exc.message}
        return await _keys_page(
            request, user, session, vault, status=400, name=name, field_errors=fields
        )
    return await _keys_page(request, user, session, vault, new_key=(key.name, value))


@router.get("/named/{key_id}/revoke")
async def revoke_confirm(
    request: Request, key_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> Response:
    keys = {k.id: k for k in await api_key_service.list_for(session, user.account.id)}
    key = keys.get(key_id)
    if key is None:
        raise api_key_service.ApiKeyNotFound("No such API key.")
    return render(
        request,
        "confirm.html",
        title=f"Revoke the key “{key.name}”?",
        nav="keys",
        user=user,
        message=f"Requests sending the key {key.prefix}… are refused from the moment you "
        "confirm. This cannot be undone: create a new key if you need one again.",
        action=f"/dashboard/keys/named/{key.id}/revoke",
        confirm_label="Revoke the key",
        back="/dashboard/keys",
        danger=True,
    )


@router.post("/named/{key_id}/revoke")
async def revoke(key_id: uuid.UUID, user: FormUser, sessionmaker: SessionmakerDep) -> Response:
    async with sessionmaker() as session, session.begin():
        await api_key_service.revoke(session, user.account.id, key_id)
    return RedirectResponse("/dashboard/keys?revoked=1", status_code=303)
