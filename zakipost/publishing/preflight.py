"""Preflight, and what the creator may do: creator info (privacy levels, interactions, the
longest video), the daily cap as ZakiPost counts it and as TikTok reports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from zakipost.connection.service import cached_creator_info, creator_info_record
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


async def creator_info(run: PostRun, post: Post) -> CreatorInfo:
    """Fresh creator info (cached briefly on the connection, shared with the API)."""
    async with run.deps.sessionmaker() as session:
        connection = await session.get(Connection, post.connection_id)
    assert connection is not None
    cache_for = dt.timedelta(seconds=run.deps.settings.publishing.creator_info_cache_seconds)
    cached = cached_creator_info(connection, run.now(), cache_for)
    if cached is not None:
        return cached
    try:
        info = await run.tiktok(
            post, budget.Family.creator_info, run.deps.tiktok.query_creator_info
        )
        refusal = None
    except TikTokPostingRefused as exc:
        info, refusal = None, exc
    async with run.unfenced() as session:
        row = await session.get(Connection, post.connection_id, with_for_update=True)
        if row is not None:
            row.creator_info = creator_info_record(row.creator_info, info, refusal)
            row.creator_info_fetched_at = run.now()
    if refusal is not None:
        raise await posting_refused(run, post, refusal)
    assert info is not None
    return info


async def posting_refused(run: PostRun, post: Post, refusal: TikTokPostingRefused) -> Exception:
    """TikTok says the creator cannot post now: wait for the cap to free, or fail."""
    if isinstance(refusal, DailyPostCapReached):
        async with run.unfenced() as session:
            await daily_cap.learn(session, post, run.now())
        return await cap_reached(run, post, "TikTok says the creator reached its daily post cap")
    if getattr(refusal, "temporary", False):
        async with run.deps.sessionmaker() as session:
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
        async with run.deps.sessionmaker() as session:
            seen = await daily_cap.window(session, post, run.now())
    return PostDeferred(seen.next_free_slot(), reason)


def _full(seen: daily_cap.Window) -> str:
    return f"The creator reached TikTok's cap of {seen.cap} posts in 24 hours"


async def check_daily_cap(run: PostRun, post: Post) -> None:
    async with run.deps.sessionmaker() as session:
        seen = await daily_cap.window(session, post, run.now())
    if seen.full:
        raise await cap_reached(run, post, _full(seen), seen)


async def take_daily_slot(run: PostRun, post: Post) -> None:
    """Take one of the creator's 24-hour slots before an init; a post that fails before
    TikTok has it gives the slot back (``machine.settle``)."""
    now = run.now()
    refused: daily_cap.Window | None = await run.write(
        lambda session, row: daily_cap.reserve(session, row, now)
    )
    if refused is not None:
        raise await cap_reached(run, post, _full(refused), refused)


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


async def preflight(run: PostRun, post: Post) -> None:
    info = await creator_info(run, post)
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
        await check_daily_cap(run, post)
    await machine.advance(run, PostStep.fetching, message, plan=plan)
