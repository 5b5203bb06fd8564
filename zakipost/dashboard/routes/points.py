"""Points and plan: the balance, the plan and its expiry, the ledger."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from zakipost.billing import points
from zakipost.billing.plans import all_plans
from zakipost.dashboard.sessions import CurrentUser
from zakipost.dashboard.web import render
from zakipost.db.session import ReadSessionDep
from zakipost.dependencies import SettingsDep
from zakipost.kit.clock import utcnow

router = APIRouter(prefix="/points")

PAGE_SIZE = 50


@router.get("")
async def points_page(
    request: Request,
    user: CurrentUser,
    session: ReadSessionDep,
    settings: SettingsDep,
    page: int = Query(1, ge=1, le=10_000),
) -> Response:
    entries = await points.history(
        session, user.account.id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    account = user.account
    plan = all_plans(settings).get(account.plan)
    expires_at = account.plan_expires_at
    return render(
        request,
        "points.html",
        title="Points and plan",
        nav="points",
        user=user,
        balance=await points.balance(session, account.id),
        cost=settings.billing.publish_cost,
        plan_name=account.plan,
        plan=plan,
        expires_at=expires_at,
        expired=expires_at is not None and expires_at <= utcnow(),
        entries=entries[:PAGE_SIZE],
        page=page,
        has_more=len(entries) > PAGE_SIZE,
    )
