"""Preflight, and what the creator may do: creator info (privacy levels, interactions, the
longest video), the daily cap as ZakiPost counts it and as TikTok reports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.connection.service import creator_info_record, fresh_creator_info
from zakipost.connection.tokens import TokenSnapshot
from zakipost.models import Connection, MediaKind, Post, PostMode, PostPlan
from zakipost.publishing import budget, daily_cap, machine
from zakipost.publishing.failures import PostDeferred, PostFailure
from zakipost.publishing.run import PostRun
from zakipost.publishing.states import PostStep
from zakipost.tiktok import (
    CreatorInfo,
    DailyPostCapReached,
    PrivacyLevelOptionMismatch,
    TikTokPostingRefused,
    UrlOwnershipUnverified,
)

_CONNECTIONS: Table = Connection.__table__  # type: ignore[assignment]
# Built once, the values bound at execution: the cache's two columns, not the whole row.
_CACHED = select(Connection.creator_info, Connection.creator_info_fetched_at).where(
    Connection.id == bindparam("connection_id")
)
_KEEP = (
    update(_CONNECTIONS)
    .where(_CONNECTIONS.c.id == bindparam("connection_id"))
    .values(creator_info=bindparam("record"), creator_info_fetched_at=bindparam("fetched_at"))
)


@dataclass(frozen=True, slots=True)
class Creator:
    """Creator info, and whether TikTok was asked for it now (then it is to be cached)."""

    info: CreatorInfo
    asked: bool


async def creator_info(run: PostRun, post: Post) -> Creator:
    """Fresh creator info (cached briefly on the connection, shared with the API). One
    transaction reads the cache and, when it is stale, spends the budget and reads the
    token; the answer is cached by the preflight's own write (:func:`keep_creator_info`)."""
    cache_for = dt.timedelta(seconds=run.deps.settings.publishing.creator_info_cache_seconds)
    async with run.unfenced() as session:
        row = (await session.execute(_CACHED, {"connection_id": post.connection_id})).first()
        assert row is not None, "a post is deleted with its connection"
        cached = fresh_creator_info(
            row.creator_info, row.creator_info_fetched_at, run.now(), cache_for
        )
        ready = None
        if cached is None:
            ready = await run.ready(session, post.connection_id, budget.Family.creator_info)
    if cached is not None:
        return Creator(cached, asked=False)
    if isinstance(ready, PostDeferred):
        raise ready
    try:
        info = await run.tiktok(post, None, run.deps.tiktok.query_creator_info, token=ready)
    except TikTokPostingRefused as refusal:
        async with run.unfenced() as session:
            locked = await session.get(Connection, post.connection_id, with_for_update=True)
            if locked is not None:
                locked.creator_info = creator_info_record(locked.creator_info, None, refusal)
                locked.creator_info_fetched_at = run.now()
        raise await posting_refused(run, post, refusal) from None
    return Creator(info, asked=True)


async def keep_creator_info(
    session: AsyncSession, post: Post, info: CreatorInfo, now: dt.datetime
) -> None:
    """Cache what TikTok just said the creator may do, on the connection."""
    await session.execute(
        _KEEP,
        {
            "connection_id": post.connection_id,
            "record": creator_info_record(None, info, None),
            "fetched_at": now,
        },
    )


async def posting_refused(run: PostRun, post: Post, refusal: TikTokPostingRefused) -> Exception:
    """TikTok says the creator cannot post now: wait for the cap to free, or fail."""
    if isinstance(refusal, DailyPostCapReached):
        async with run.unfenced() as session:
            await daily_cap.learn(session, post, run.now())
        return await cap_reached(run, post, "TikTok says the creator reached its daily post cap")
    if getattr(refusal, "temporary", False):
        async with run.deps.read_session() as session:
            seen = await daily_cap.window(session, post, run.now())
        return PostDeferred(seen.next_free_slot(), refusal.message or refusal.code)
    if isinstance(refusal, PrivacyLevelOptionMismatch):
        return PostFailure(
            "privacy_level_not_allowed",
            refusal.message or "TikTok refused the privacy level.",
            caller_error=True,
        )
    if isinstance(refusal, UrlOwnershipUnverified):
        return PostFailure(
            "url_ownership_unverified", "TikTok refused to pull the media from an unverified URL."
        )
    return PostFailure(refusal.code, refusal.message or "TikTok refused the post.", retryable=False)


async def cap_reached(
    run: PostRun, post: Post, reason: str, seen: daily_cap.Window | None = None
) -> Exception:
    """Defer to the next free slot, or fail when the caller asked (on_daily_cap: fail)."""
    if post.request.on_daily_cap == "fail":
        return PostFailure(
            "daily_post_cap_reached",
            f"{reason}; the request asked to fail rather than wait (on_daily_cap: fail).",
            retryable=True,
        )
    if seen is None:
        async with run.deps.read_session() as session:
            seen = await daily_cap.window(session, post, run.now())
    return PostDeferred(seen.next_free_slot(), reason)


def _full(seen: daily_cap.Window) -> str:
    return f"The creator reached TikTok's cap of {seen.cap} posts in 24 hours"


async def prepare_init(run: PostRun, post: Post, intent: Callable[[Post], None]) -> TokenSnapshot:
    """Everything before an init, in one fenced transaction: take one of the creator's
    24-hour slots, spend the init budget, record ``intent`` on the post (what a crash must
    find) and read the token. A full window or budget commits what came before it (a slot
    taken is kept, as the retry takes it again) and raises once the transaction has ended.
    A post that fails before TikTok has it gives the slot back (``machine.settle``)."""
    now = run.now()

    async def change(
        session: AsyncSession, row: Post
    ) -> daily_cap.Window | PostDeferred | TokenSnapshot:
        refused = await daily_cap.reserve(session, row, now)
        if refused is not None:
            return refused
        ready = await run.ready(session, row.connection_id, budget.Family.init)
        if not isinstance(ready, PostDeferred):
            intent(row)
        return ready

    ready = await run.write(change)
    if isinstance(ready, daily_cap.Window):
        raise await cap_reached(run, post, _full(ready), ready)
    if isinstance(ready, PostDeferred):
        raise ready
    assert isinstance(ready, TokenSnapshot)
    return ready


@dataclass(frozen=True, slots=True)
class CreatorRule:
    """A request the creator's info rules out: a stable code and what to change."""

    code: str
    message: str


def privacy_rule(privacy: str, info: CreatorInfo) -> CreatorRule | None:
    if privacy in info.privacy_level_options:
        return None
    return CreatorRule(
        "privacy_level_not_allowed",
        f"This TikTok account does not offer {privacy}; choose one of: "
        + ", ".join(info.privacy_level_options)
        + ".",
    )


def interaction_rule(
    kind: MediaKind, asked: Mapping[str, bool | None], info: CreatorInfo
) -> CreatorRule | None:
    """An interaction asked for (``asked["comment"] is False``: allow comments) that the
    creator turned off. Photos have comments only."""
    for name, disabled_by_creator in _switches(kind, info):
        if disabled_by_creator and asked.get(name) is False:
            return CreatorRule(
                f"{name}_disabled_by_creator",
                f"This TikTok account has {name}s turned off in its settings, so they cannot be "
                f"allowed on this post; send disable_{name}: true or leave it out.",
            )
    return None


def _switches(kind: MediaKind, info: CreatorInfo) -> list[tuple[str, bool]]:
    switches = [("comment", info.comment_disabled)]
    if kind is MediaKind.video:
        switches += [("duet", info.duet_disabled), ("stitch", info.stitch_disabled)]
    return switches


def interactions(post: Post, info: CreatorInfo) -> dict[str, bool]:
    """The interaction switches to send: what was asked, within what the creator allows."""
    asked = {name: getattr(post, f"disable_{name}") for name in ("comment", "duet", "stitch")}
    refused = interaction_rule(post.kind, asked, info)
    if refused is not None:
        raise PostFailure(refused.code, refused.message, caller_error=True)
    return {
        f"disable_{name}": bool(asked[name]) or disabled_by_creator
        for name, disabled_by_creator in _switches(post.kind, info)
    }


def _plan(post: Post, info: CreatorInfo) -> tuple[PostPlan, str]:
    """What is sent, within what the creator allows, and the timeline's line; raises
    ``PostFailure`` for what the creator's info rules out."""
    plan = PostPlan(
        max_video_post_duration_sec=info.max_video_post_duration_sec,
        creator_nickname=info.creator_nickname,
    )
    message = f"Creator info checked ({info.creator_nickname or 'creator'})."
    draft = post.post_mode is PostMode.draft
    if post.kind is MediaKind.photo or not draft:
        # Photo drafts carry a privacy level too (TikTok requires one for MEDIA_UPLOAD photos).
        privacy = post.privacy_level or "SELF_ONLY"
        refused = privacy_rule(privacy, info)
        if refused is not None:
            raise PostFailure(refused.code, refused.message, caller_error=True)
        plan = plan.model_copy(update={"privacy_level": privacy})
        if post.privacy_level is None:
            message += (
                " privacy_level was not given: the post is SELF_ONLY (only the creator sees it)."
            )
    if not draft:
        plan = plan.model_copy(update=interactions(post, info))
    return plan, message


async def preflight(run: PostRun, post: Post) -> None:
    """Creator info, the rules it sets, the daily cap; then one fenced transaction caches
    the creator info, checks the cap and records the plan (no I/O between them)."""
    creator = await creator_info(run, post)
    now = run.now()
    try:
        plan, message = _plan(post, creator.info)
    except PostFailure:
        if creator.asked:
            async with run.unfenced() as session:
                await keep_creator_info(session, post, creator.info, now)
        raise
    direct = post.post_mode is not PostMode.draft

    async def change(session: AsyncSession, row: Post) -> daily_cap.Window | None:
        if creator.asked:
            await keep_creator_info(session, row, creator.info, now)
        if direct:
            seen = await daily_cap.window(session, row, now)
            if seen.full:
                return seen  # the cache is kept; the post waits
        machine.step_done(session, row, PostStep.fetching, message, now=now, plan=plan)
        return None

    full = await run.write(change)
    if full is not None:
        raise await cap_reached(run, post, _full(full), full)
