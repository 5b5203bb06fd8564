"""The publishing domain's API schemas, free of the ORM and the web stack (the client
imports them)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from zakipost.schemas import Schema

PENDING_DRAFTS_LIMIT = 5


class CapState(Schema):
    """Where the creator stands against TikTok's rolling 24-hour limits, as ZakiPost saw it."""

    daily_post_cap: int = Field(
        description="TikTok's cap for this creator, as learnt (15 at first)."
    )
    posts_last_24h: int
    next_free_slot_at: dt.datetime | None = Field(
        None, description="When a post slot frees, if the cap is reached now."
    )
    pending_drafts: int = Field(description="Drafts sent to the inbox in the last 24 hours.")
    pending_drafts_limit: int = PENDING_DRAFTS_LIMIT
