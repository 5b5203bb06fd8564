"""Plans: built-in ``free`` (no API access), ``starter`` (where self-service sign-ups start)
and ``pro``, plus any defined in settings (which may redefine a built-in one)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from zakipost.config import BUILT_IN_PLANS, Settings
from zakipost.errors import Forbidden, ValidationFailed


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    api_access: bool
    monthly_points: int | None = None


BUILT_IN = tuple(Plan(p.name, p.api_access, p.monthly_points) for p in BUILT_IN_PLANS)


class PlanWithoutApiAccess(Forbidden):
    code = "plan_without_api_access"


class SubscriptionExpired(Forbidden):
    code = "subscription_expired"


def all_plans(settings: Settings) -> dict[str, Plan]:
    plans = {p.name: p for p in BUILT_IN}
    for extra in settings.plans:
        plans[extra.name] = Plan(extra.name, extra.api_access, extra.monthly_points)
    return plans


def get_plan(settings: Settings, name: str) -> Plan:
    plans = all_plans(settings)
    if name not in plans:
        known = ", ".join(sorted(plans))
        raise ValidationFailed(f"Unknown plan {name!r}; known plans: {known}.")
    return plans[name]


def require_api_access(
    settings: Settings, plan_name: str, expires_at: dt.datetime | None, now: dt.datetime
) -> None:
    """Refuse with 403, saying which: no API access on this plan, or it has expired."""
    plan = all_plans(settings).get(plan_name)
    if plan is None or not plan.api_access:
        raise PlanWithoutApiAccess(
            f"Your plan ({plan_name}) does not include API access; "
            "upgrade to a plan with API access."
        )
    if expires_at is not None and expires_at <= now:
        raise SubscriptionExpired(
            f"Your {plan_name} subscription expired on {expires_at:%Y-%m-%d %H:%M} UTC; "
            "renew it to use the API."
        )
