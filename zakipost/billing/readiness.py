"""Whether an account can publish now, and what to do when it cannot: read before the
compose form and on the getting-started page, so nobody fills a form that must fail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.billing import points
from zakipost.billing.plans import require_api_access
from zakipost.config import Settings
from zakipost.errors import Forbidden
from zakipost.models import Account

ASK_OPERATOR = "ask the operator of this ZakiPost"


@dataclass(frozen=True, slots=True)
class Readiness:
    balance: int
    cost: int
    # Why a publish would be refused for points (402), or None.
    points_problem: str | None
    # Why /v1 calls are refused (403: plan without API access, or expired), or None. The
    # dashboard itself still posts.
    api_problem: str | None

    @property
    def can_publish(self) -> bool:
        return self.points_problem is None

    @property
    def posts_left(self) -> int | None:
        """How many publishes the balance pays for; None when publishing is free."""
        return None if self.cost <= 0 else self.balance // self.cost


async def readiness(
    session: AsyncSession, settings: Settings, account: Account, now: dt.datetime
) -> Readiness:
    cost = settings.billing.publish_cost
    balance = await points.balance(session, account.id)
    points_problem = None
    if cost > 0 and balance < cost:
        points_problem = (
            f"Publishing costs {cost} points and your balance is {balance}: {ASK_OPERATOR} "
            "to add points to your account, then come back."
        )
    api_problem = None
    try:
        require_api_access(settings, account.plan, account.plan_expires_at, now)
    except Forbidden as exc:
        api_problem = (
            f"{exc.message} Until then API calls are refused (403); {ASK_OPERATOR} to change "
            "your plan. Posting from this dashboard still works."
        )
    return Readiness(balance, cost, points_problem, api_problem)
