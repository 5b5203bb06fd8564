"""Request and response bodies of the named API keys (free of the ORM: the client uses them)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from zakipost.schemas import Schema
from zakipost.text import Text


class ApiKeyCreate(Schema):
    name: Text = Field(min_length=1, max_length=100, examples=["production"])


class ApiKeyOut(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key; shown only now.", examples=["zp_sk_..."])
