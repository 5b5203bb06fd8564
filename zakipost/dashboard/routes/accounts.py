"""Connected TikTok accounts: Connect TikTok (also how to reconnect), the list with what each
account may do, and disconnecting."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from zakipost.connection import service as connection_service
from zakipost.connection.schemas import TikTokAccountOut
from zakipost.dashboard.sessions import CurrentUser, FormUser
from zakipost.dashboard.web import ReadMakerDep, render
from zakipost.db.session import ReadSessionDep
from zakipost.dependencies import SessionmakerDep, SettingsDep, TikTokDep, VaultDep
from zakipost.publishing import daily_cap

router = APIRouter(prefix="/accounts")


@router.get("")
async def accounts_page(request: Request, user: CurrentUser, session: ReadSessionDep) -> Response:
    connections = await connection_service.list_for(session, user.account.id)
    notices = []
    if request.query_params.get("connected"):
        notices.append("TikTok account connected.")
    if request.query_params.get("disconnected"):
        notices.append("TikTok account disconnected; ZakiPost deleted its tokens.")
    return render(
        request,
        "accounts.html",
        title="Connected accounts",
        nav="accounts",
        user=user,
        accounts=[TikTokAccountOut.of(c, await daily_cap.state(session, c)) for c in connections],
        notices=notices,
    )


@router.post("/connect")
async def connect(
    user: FormUser,
    settings: SettingsDep,
    vault: VaultDep,
    tiktok: TikTokDep,
    sessionmaker: SessionmakerDep,
) -> Response:
    """Also the way to reconnect: TikTok's consent for the same creator updates the account."""
    async with sessionmaker() as session, session.begin():
        url = await connection_service.begin_connect(session, settings, vault, tiktok, user.account)
    return RedirectResponse(url, status_code=303)


@router.get("/{tiktok_account_id}/disconnect")
async def disconnect_confirm(
    request: Request, tiktok_account_id: str, user: CurrentUser, session: ReadSessionDep
) -> Response:
    account = TikTokAccountOut.of(
        await connection_service.get_for(session, user.account.id, tiktok_account_id)
    )
    name = f"@{account.username}" if account.username else account.nickname or "this account"
    return render(
        request,
        "confirm.html",
        title=f"Disconnect {name}?",
        nav="accounts",
        user=user,
        message="ZakiPost asks TikTok to revoke its access and deletes the account's tokens. "
        "Posts still waiting for this account will fail. To post with it again, connect it "
        "again with Connect TikTok.",
        action=f"/dashboard/accounts/{account.tiktok_account_id}/disconnect",
        confirm_label="Disconnect",
        back="/dashboard/accounts",
        danger=True,
    )


@router.post("/{tiktok_account_id}/disconnect")
async def disconnect(
    tiktok_account_id: str,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    reader: ReadMakerDep,
    vault: VaultDep,
    tiktok: TikTokDep,
) -> Response:
    async with reader() as session:
        connection = await connection_service.get_for(session, user.account.id, tiktok_account_id)
    await connection_service.disconnect(sessionmaker, vault, tiktok, connection)
    return RedirectResponse("/dashboard/accounts?disconnected=1", status_code=303)
