"""Connect TikTok over the API, the OAuth callback, and the connected accounts."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from zakipost.auth.dependencies import ApiAccount
from zakipost.connection import service as connection_service
from zakipost.connection.schemas import ConnectRequest, ConnectStarted, TikTokAccountOut
from zakipost.connection.service import STATE_LIFETIME, CallbackParams
from zakipost.dashboard.errors import ACCOUNTS_ACTION, message_page
from zakipost.dashboard.sessions import optional_user
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import (
    SessionmakerDep,
    SettingsDep,
    TikTokDep,
    TokenVaultDep,
    VaultDep,
)
from zakipost.kit.clock import utcnow
from zakipost.publishing import daily_cap
from zakipost.schemas import AUTH_ERRORS, Envelope, error_responses, ok

router = APIRouter(
    prefix="/tiktok", tags=["tiktok accounts"], responses=error_responses(*AUTH_ERRORS)
)
callback_router = APIRouter(include_in_schema=False)


@router.post(
    "/connect",
    summary="Start connecting a TikTok account; send the user to authorize_url",
    response_model=Envelope[ConnectStarted],
    responses=error_responses(400),
)
async def connect(
    account: ApiAccount,
    session: SessionDep,
    settings: SettingsDep,
    vault: VaultDep,
    tiktok: TikTokDep,
    body: ConnectRequest | None = None,
) -> Envelope[ConnectStarted]:
    url = await connection_service.begin_connect(
        session, settings, vault, tiktok, account, redirect_url=body.redirect_url if body else None
    )
    return ok(
        ConnectStarted(authorize_url=url, expires_at=utcnow() + STATE_LIFETIME),
        "Send the user to authorize_url to connect their TikTok account.",
    )


@router.get(
    "/accounts",
    summary="The caller's connected TikTok accounts and what each may do now",
    response_model=Envelope[list[TikTokAccountOut]],
)
async def list_accounts(
    account: ApiAccount, session: ReadSessionDep
) -> Envelope[list[TikTokAccountOut]]:
    connections = await connection_service.list_for(session, account.id)
    return ok([TikTokAccountOut.of(c, await daily_cap.state(session, c)) for c in connections])


@router.get(
    "/accounts/{tiktok_account_id}",
    summary="One connected TikTok account, with fresh creator info",
    response_model=Envelope[TikTokAccountOut],
    responses=error_responses(404),
)
async def get_account(
    tiktok_account_id: str,
    account: ApiAccount,
    sessionmaker: SessionmakerDep,
    tokens: TokenVaultDep,
    tiktok: TikTokDep,
) -> Envelope[TikTokAccountOut]:
    async with sessionmaker() as session:
        connection = await connection_service.get_for(session, account.id, tiktok_account_id)
    if connection.status.value == "active":
        await connection_service.refresh_creator_info(sessionmaker, tokens, tiktok, connection.id)
    async with sessionmaker() as session:
        connection = await connection_service.get_for(session, account.id, tiktok_account_id)
        cap = await daily_cap.state(session, connection)
    return ok(TikTokAccountOut.of(connection, cap))


@router.delete(
    "/accounts/{tiktok_account_id}",
    summary="Disconnect: revoke at TikTok and delete the stored tokens",
    response_model=Envelope[TikTokAccountOut],
    responses=error_responses(404),
)
async def delete_account(
    tiktok_account_id: str,
    account: ApiAccount,
    sessionmaker: SessionmakerDep,
    vault: VaultDep,
    tiktok: TikTokDep,
) -> Envelope[TikTokAccountOut]:
    async with sessionmaker() as session:
        connection = await connection_service.get_for(session, account.id, tiktok_account_id)
    await connection_service.disconnect(sessionmaker, vault, tiktok, connection)
    async with sessionmaker() as session:
        connection = await connection_service.get_for(session, account.id, tiktok_account_id)
    return ok(TikTokAccountOut.of(connection), "TikTok account disconnected.")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@callback_router.get("/connect/tiktok/callback")
async def callback(
    request: Request,
    sessionmaker: SessionmakerDep,
    settings: SettingsDep,
    vault: VaultDep,
    tiktok: TikTokDep,
) -> Response:
    q = request.query_params
    params = CallbackParams(
        state=q.get("state"),
        code=q.get("code"),
        scopes=q.get("scopes"),
        error=q.get("error"),
        error_description=q.get("error_description"),
    )
    user = await optional_user(request)
    signed_in = user.account.id if user else None
    result = await connection_service.complete_connect(
        sessionmaker, settings, vault, tiktok, params, signed_in_account=signed_in
    )
    if result.redirect_url:
        if result.ok and result.connection is not None:
            query = {"tiktok_account_id": str(result.connection.internal_token)}
        else:
            query = {
                "error": result.error or "error",
                "error_description": result.error_description or "",
            }
        return RedirectResponse(_with_query(result.redirect_url, query), status_code=303)
    if result.ok and result.connection is not None:
        if signed_in is not None:
            return RedirectResponse("/dashboard/accounts?connected=1", status_code=303)
        name = result.connection.username or result.connection.display_name or "your account"
        return message_page(
            request,
            200,
            "TikTok account connected",
            [
                (
                    f"@{name} is connected. Its tiktok_account_id is "
                    f"{result.connection.internal_token}."
                )
            ],
            actions=[ACCOUNTS_ACTION],
        )
    reason = result.error_description or result.error or "TikTok did not say why."
    if user is not None:
        # Starting again makes a fresh state, so a stale or used link cannot block it.
        return message_page(
            request,
            400,
            "Could not connect TikTok",
            [reason, "Nothing was connected. Try again, or go back to your accounts."],
            actions=[ACCOUNTS_ACTION],
            user=user,
            retry_connect=True,
        )
    return message_page(
        request,
        400,
        "Could not connect TikTok",
        [
            reason,
            (
                "Nothing was connected. To try again, start Connect TikTok again where you began "
                "(log in to ZakiPost to do it from the dashboard)."
            ),
        ],
        actions=[("/dashboard/login?next=/dashboard/accounts", "Log in to try again")],
    )
