"""What both surfaces share: ZakiPost's own publish requests built from translated fields
(so every rule of ``/v1/tiktok/publish`` and ``/v1/tiktok/photos`` applies), accepted by the
post service, and posts read back by status group and page number."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.config import Settings
from zakipost.errors import ValidationFailed
from zakipost.models import Account, Post
from zakipost.post import service as post_service
from zakipost.post.repository import PostRepository, PostRow
from zakipost.post.schemas import PhotoPublishRequest, VideoPublishRequest
from zakipost.publishing.states import PostStatus
from zakipost.tiktok import utf16_length

PublishRequest = VideoPublishRequest | PhotoPublishRequest
M = TypeVar("M", bound=BaseModel)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".webm", ".m4v"})


class CompatValidationFailed(ValidationFailed):
    """A field of the other product's request is invalid; ``details.param`` names it."""


def invalid(param: str, message: str) -> CompatValidationFailed:
    return CompatValidationFailed(f"{param}: {message}", details={"param": param})


def build(model: type[M], fields: dict[str, Any], names: Mapping[str, str]) -> M:
    """ZakiPost's request from translated ``fields``; a refusal names the caller's own
    field (``names`` maps ZakiPost's field names back to theirs)."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ())]
            field = ".".join([names.get(loc[0], loc[0]), *loc[1:]]) if loc else "body"
            message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
            for ours, theirs in names.items():
                message = re.sub(rf"\b{re.escape(ours)}\b", theirs, message)
            problems.append({"field": field, "message": message})
        first = problems[0]
        summary = "; ".join(
            f"{p['field']}: {p['message']}" if p["field"] != "body" else p["message"]
            for p in problems[:5]
        )
        raise CompatValidationFailed(
            f"Invalid request: {summary}", details={"param": first["field"], "fields": problems}
        ) from None


async def accept(
    session: AsyncSession, settings: Settings, account: Account, request: PublishRequest
) -> Post:
    if isinstance(request, VideoPublishRequest):
        return await post_service.accept_video(session, settings, account, request)
    return await post_service.accept_photos(session, settings, account, request)


async def page(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    statuses: Collection[PostStatus] | None,
    limit: int,
    offset: int,
    connection_id: uuid.UUID | None = None,
) -> tuple[list[PostRow], int]:
    """One page by number (newest first) and how many posts match in all."""
    repository = PostRepository.from_session(session)
    if statuses is not None and not statuses:
        return [], 0
    rows = await repository.page(
        account_id, statuses=statuses, connection_id=connection_id, limit=limit, offset=offset
    )
    total = await repository.count(account_id, statuses=statuses, connection_id=connection_id)
    return rows, total


def extension(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).suffix.lower()


def looks_like_image(url: str) -> bool:
    return extension(url) in IMAGE_EXTENSIONS


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 units (TikTok's measure), whole characters."""
    while utf16_length(text) > limit:
        text = text[:-1]
    return text.rstrip()


def status_groups(
    groups: Mapping[str, frozenset[PostStatus]], wanted: str | None
) -> frozenset[PostStatus] | None:
    """The ZakiPost statuses behind one of the other product's status names (``None``:
    every status; an empty set: a status ZakiPost never has)."""
    if wanted is None or wanted == "":
        return None
    return groups.get(wanted, frozenset())
