from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from zakipost.billing.kinds import PointEntryKind
from zakipost.schemas import Schema


class AccountOverview(Schema):
    id: uuid.UUID
    email: str
    plan: str
    plan_expires_at: dt.datetime | None
    api_access: bool
    points_balance: int
    publish_cost: int
    client_key: str = Field(examples=["zp_key_0123456789abcdefghijklmnopqrstuv"])


class CredentialsOut(Schema):
    client_key: str = Field(examples=["zp_key_0123456789abcdefghijklmnopqrstuv"])
    client_secret: str = Field(examples=["Q2xpZW50U2VjcmV0MDEyMzQ1Njc4OWFiY2RlZmdo"])


class PointEntryOut(Schema):
    id: uuid.UUID
    kind: PointEntryKind
    amount: int
    reason: str
    reference: str | None
    created_at: dt.datetime


class PointsOut(Schema):
    balance: int
    publish_cost: int
    entries: list[PointEntryOut]
