"""ZakiPost as an MCP server (``zakipost mcp``, stdio): tools for an agent to list the
connected TikTok accounts, read a creator's info, publish, and read a post's status.

Every tool goes through :class:`zakipost.client.AsyncClient`, configured from the same
environment as the client and the CLI (``ZAKIPOST_API_URL``, ``ZAKIPOST_CLIENT_KEY`` and
``ZAKIPOST_CLIENT_SECRET``, or ``ZAKIPOST_API_KEY``). The privacy level of a publish is
required and must be one the creator's info offers: an agent never gets a default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from zakipost.client import AsyncClient, ZakiPostError
from zakipost.client.models import CreatorCapabilities, PostOut

Privacy = Literal["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
AccountId = Annotated[str, Field(description="The tiktok_account_id, from list_tiktok_accounts.")]
PrivacyArg = Annotated[
    Privacy,
    Field(
        description="Who can see the post. Required, with no default: it must be one of the "
        "privacy_level_options get_creator_info returned for this account; ask the user "
        "which one they want."
    ),
]

INSTRUCTIONS = (
    "Publish to TikTok through ZakiPost. Before publishing, call get_creator_info for the "
    "account and ask the user to choose the privacy level among its privacy_level_options "
    "(never choose one for them); respect its interaction switches and maximum duration. "
    "Then follow the post with get_post_status until it is published, in_inbox or failed."
)


def _client() -> AsyncClient:
    try:
        return AsyncClient()
    except ZakiPostError as exc:
        raise ToolError(exc.message) from None


def _post_summary(post: PostOut) -> dict[str, Any]:
    return {
        "publish_id": post.publish_id,
        "status": post.status,
        "step": post.step,
        "tiktok_account_id": post.tiktok_account_id,
        "kind": post.kind,
        "privacy_level": post.privacy_level,
        "scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None,
        "tiktok_post_ids": post.tiktok_post_ids,
        "error": post.error.model_dump(mode="json") if post.error else None,
        "timeline": [
            {"at": e.at.isoformat(), "status": e.status, "message": e.message}
            for e in post.timeline or []
        ],
        "ended": post.status in ("published", "in_inbox", "failed", "cancelled"),
    }


async def _offered(client: AsyncClient, tiktok_account_id: str, privacy: str) -> None:
    """Refuse a privacy level the creator does not offer, before anything is uploaded."""
    info: CreatorCapabilities = await client.creator_info(tiktok_account_id)
    if not info.can_post:
        raise ToolError(
            f"This creator cannot post now: {info.cannot_post_message or info.cannot_post_reason}"
        )
    if privacy not in info.privacy_level_options:
        raise ToolError(
            f"privacy_level {privacy} is not offered by this creator; ask the user to choose "
            f"one of {', '.join(info.privacy_level_options)}."
        )


def _local(path: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ToolError(f"{path} is not a readable file on this machine.")
    return file


def build_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(name="zakipost", title="ZakiPost", instructions=INSTRUCTIONS)

    @server.tool(description="The user's connected TikTok accounts, with their status.")
    async def list_tiktok_accounts() -> dict[str, Any]:
        try:
            async with _client() as client:
                accounts = await client.list_accounts()
        except ZakiPostError as exc:
            raise ToolError(str(exc)) from None
        return {
            "accounts": [
                {
                    "tiktok_account_id": str(a.tiktok_account_id),
                    "username": a.username,
                    "nickname": a.nickname,
                    "status": a.status.value,
                    "reconnect_warning": a.reconnect_warning,
                }
                for a in accounts
            ]
        }

    @server.tool(
        description="What the creator may do now, fresh from TikTok: the privacy levels they "
        "offer (privacy_level_options), whether comments, Duet and Stitch are turned off, the "
        "longest video they may post, and whether they can post at all. Read it before every "
        "publish."
    )
    async def get_creator_info(tiktok_account_id: AccountId) -> dict[str, Any]:
        try:
            async with _client() as client:
                info = await client.creator_info(tiktok_account_id)
        except ZakiPostError as exc:
            raise ToolError(str(exc)) from None
        return info.model_dump(mode="json")

    @server.tool(
        description="Publish a video to a connected TikTok account, from a URL ZakiPost can "
        "read (video_url) or a file on this machine (file_path, uploaded first). Call "
        "get_creator_info first: privacy_level is required and must be one of its "
        "privacy_level_options, chosen by the user. Returns the publish_id; follow it with "
        "get_post_status."
    )
    async def publish_video(
        tiktok_account_id: AccountId,
        privacy_level: PrivacyArg,
        video_url: Annotated[str | None, Field(description="A direct link to the video.")] = None,
        file_path: Annotated[
            str | None, Field(description="A local video file, instead of video_url.")
        ] = None,
        title: Annotated[str | None, Field(description="Caption; hashtags welcome.")] = None,
        disable_comment: bool | None = None,
        disable_duet: bool | None = None,
        disable_stitch: bool | None = None,
        ai_generated_content: bool = False,
        scheduled_at: Annotated[
            dt.datetime | None, Field(description="ISO 8601 with an offset, to schedule it.")
        ] = None,
    ) -> dict[str, Any]:
        if (video_url is None) == (file_path is None):
            raise ToolError("Give either video_url or file_path (exactly one).")
        options: dict[str, Any] = {
            k: v
            for k, v in {
                "disable_comment": disable_comment,
                "disable_duet": disable_duet,
                "disable_stitch": disable_stitch,
            }.items()
            if v is not None
        }
        if ai_generated_content:
            options["ai_generated_content"] = True
        try:
            async with _client() as client:
                await _offered(client, tiktok_account_id, privacy_level)
                media_id = None
                if file_path is not None:
                    media_id = (await client.upload(_local(file_path))).media_id
                accepted = await client.publish_video(
                    tiktok_account_id,
                    video_url=video_url,
                    media_id=media_id,
                    title=title,
                    privacy_level=privacy_level,
                    scheduled_at=scheduled_at,
                    **options,
                )
        except ZakiPostError as exc:
            raise ToolError(str(exc)) from None
        return {"publish_id": accepted.publish_id, "status": "accepted"}

    @server.tool(
        description="Publish a photo carousel (1 to 35 images: URLs or files on this machine) "
        "to a connected TikTok account. Call get_creator_info first: privacy_level is "
        "required and must be one of its privacy_level_options, chosen by the user."
    )
    async def publish_photos(
        tiktok_account_id: AccountId,
        privacy_level: PrivacyArg,
        photo_urls: Annotated[list[str] | None, Field(description="Direct image links.")] = None,
        file_paths: Annotated[
            list[str] | None, Field(description="Local JPEG, PNG or WebP files.")
        ] = None,
        title: Annotated[str | None, Field(description="At most 90 characters.")] = None,
        description: Annotated[str | None, Field(description="Hashtags welcome.")] = None,
        auto_add_music: bool = False,
    ) -> dict[str, Any]:
        if (photo_urls is None) == (file_paths is None):
            raise ToolError("Give either photo_urls or file_paths (exactly one).")
        try:
            async with _client() as client:
                await _offered(client, tiktok_account_id, privacy_level)
                media_ids = None
                if file_paths is not None:
                    media_ids = [(await client.upload(_local(p))).media_id for p in file_paths]
                accepted = await client.publish_photos(
                    tiktok_account_id,
                    photo_urls=photo_urls,
                    media_ids=media_ids,
                    title=title,
                    description=description,
                    privacy_level=privacy_level,
                    auto_add_music=auto_add_music,
                )
        except ZakiPostError as exc:
            raise ToolError(str(exc)) from None
        return {"publish_id": accepted.publish_id, "status": "accepted"}

    @server.tool(
        description="A post's status (queued, processing, published, in_inbox, failed, ...), "
        "its error if it failed, and its timeline. 'ended' says whether to stop asking."
    )
    async def get_post_status(
        publish_id: Annotated[str, Field(description="From publish_video or publish_photos.")],
    ) -> dict[str, Any]:
        try:
            async with _client() as client:
                post = await client.get_post(publish_id)
        except ZakiPostError as exc:
            raise ToolError(str(exc)) from None
        return _post_summary(post)

    return server


def run_stdio() -> None:
    build_server().run("stdio")
