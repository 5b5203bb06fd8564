"""The calling account: overview, its fixed key pair, points."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from zakipost.account import service as account_service
from zakipost.account.schemas import AccountOverview, CredentialsOut, PointEntryOut, PointsOut
from zakipost.auth.dependencies import ApiAccount
from zakipost.billing import points as points_service
from zakipost.billing.plans import all_plans
from zakipost.db.session import ReadSessionDep, SessionDep
from zakipost.dependencies import SettingsDep, VaultDep
from zakipost.schemas import AUTH_ERRORS, INT32_MAX, Envelope, error_responses, ok

router = APIRouter(tags=["account"], responses=error_responses(*AUTH_ERRORS))


@router.get("/account", summary="The calling account", response_model=Envelope[AccountOverview])
async def get_account(
    account: ApiAccount, session: ReadSessionDep, settings: SettingsDep
) -> Envelope[AccountOverview]:
    plan = all_plans(settings).get(account.plan)
    return ok(
        AccountOverview(
            id=account.id,
            email=account.email,
            plan=account.plan,
            plan_expires_at=account.plan_expires_at,
            api_access=bool(plan and plan.api_access),
            points_balance=await points_service.balance(session, account.id),
            publish_cost=settings.billing.publish_cost,
            client_key=account.client_key,
        )
    )


@router.post(
    "/account/credentials/rotate",
    summary="Replace the fixed key pair; the old pair stops working at once",
    response_model=Envelope[CredentialsOut],
)
async def rotate_credentials(
    account: ApiAccount, session: SessionDep, vault: VaultDep
) -> Envelope[CredentialsOut]:
    owned = await account_service.get(session, account.id)
    credentials = await account_service.rotate_credentials(session, vault, owned)
    return ok(
        CredentialsOut(client_key=credentials.client_key, client_secret=credentials.client_secret),
        "Keys rotated; the previous pair no longer works.",
    )


@router.get("/points", summary="Points balance and ledger", response_model=Envelope[PointsOut])
async def get_points(
    account: ApiAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> Envelope[PointsOut]:
    entries = await points_service.history(session, account.id, limit=limit, offset=offset)
    return ok(
        PointsOut(
            balance=await points_service.balance(session, account.id),
            publish_cost=settings.billing.publish_cost,
            entries=[PointEntryOut.model_validate(e) for e in entries],
        )
    )
