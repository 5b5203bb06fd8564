"""Content Posting state layer: creator info, the three inits, status, cancel (§3, §5)."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .accounts import Auth
from .errors import ApiError, InvalidParams
from .models import MediaFile, Publish, Stage, Upload
from .payloads import (
    PostInfo,
    SourceInfo,
    parse_photo_init,
    parse_video_post_info,
    parse_video_source_info,
)

if TYPE_CHECKING:
    from .models import Creator
    from .state import Sandbox

DAY = timedelta(hours=24)
# Usable without verification, per the media transfer guide.
DOC_TEST_URL_PREFIX = "https://sf16-va.tiktokcdn.com/obj/eden-va2/"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


class Publishing:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.publishes: dict[str, Publish] = {}
        self.uploads: dict[str, Upload] = {}

    def clear_files(self) -> None:
        for publish in self.publishes.values():
            for media in publish.media:
                with contextlib.suppress(OSError):
                    os.remove(media.path)

    # -- quotas ----------------------------------------------------------------------------

    def _posts_last_day(self, creator: Creator) -> int:
        since = self.sb.clock.now() - DAY
        creator.post_times = [t for t in creator.post_times if t > since]
        return len(creator.post_times)

    def daily_cap_reached(self, creator: Creator) -> bool:
        cap = (
            creator.daily_post_cap
            if creator.daily_post_cap is not None
            else self.sb.config.daily_post_cap
        )
        return creator.daily_cap_forced or self._posts_last_day(creator) >= cap

    def active_user_cap_reached(self, creator: Creator) -> bool:
        config = self.sb.config
        cap = config.active_user_cap
        if cap is None:
            cap = None if config.audited else 5
        if cap is None:
            return False
        since = self.sb.clock.now() - DAY
        active = {p.open_id for p in self.publishes.values() if p.direct and p.created_at > since}
        return creator.open_id not in active and len(active) >= cap

    def _pending_shares(self, creator: Creator) -> int:
        since = self.sb.clock.now() - DAY
        shares = [
            p
            for p in self.publishes.values()
            if p.open_id == creator.open_id and not p.direct and p.created_at > since
        ]
        if self.sb.config.pending_share_mode == "outstanding":
            shares = [p for p in shares if not p.final or p.status == "SEND_TO_USER_INBOX"]
        return len(shares)

    # -- creator info ------------------------------------------------------------------------

    def creator_info(self, auth: Auth, base_url: str) -> dict[str, Any]:
        creator = auth.creator
        # "Cannot post right now" is signalled with HTTP 200 on this endpoint only.
        if creator.banned:
            raise ApiError("spam_risk_user_banned_from_posting", status=200)
        if self.active_user_cap_reached(creator):
            raise ApiError("reached_active_user_cap", status=200)
        if self.daily_cap_reached(creator):
            raise ApiError("spam_risk_too_many_posts", status=200)
        return {
            "creator_avatar_url": f"{base_url}_sandbox/avatars/{creator.username}.jpg",
            "creator_username": creator.username,
            "creator_nickname": creator.nickname,
            "privacy_level_options": list(creator.privacy_level_options),
            "comment_disabled": creator.comment_disabled,
            "duet_disabled": creator.duet_disabled,
            "stitch_disabled": creator.stitch_disabled,
            "max_video_post_duration_sec": creator.max_video_post_duration_sec,
        }

    # -- rules shared by the inits -----------------------------------------------------------

    def _check_direct_post(self, creator: Creator, post_info: PostInfo) -> None:
        privacy = post_info.privacy_level
        if privacy is None or privacy not in creator.privacy_level_options:
            raise ApiError("privacy_level_option_mismatch")
        config = self.sb.config
        if (
            config.enforce_branded_content_privacy
            and post_info.values.get("brand_content_toggle")
            and privacy == "SELF_ONLY"
        ):
            raise InvalidParams("Branded content visibility cannot be set to private.")
        if not config.audited and (not creator.is_private or privacy != "SELF_ONLY"):
            raise ApiError("unaudited_client_can_only_post_to_private_accounts")

    def _check_creator_can_post(self, creator: Creator, direct: bool) -> None:
        if creator.banned:
            raise ApiError("spam_risk_user_banned_from_posting")
        if direct:
            if self.active_user_cap_reached(creator):
                raise ApiError("reached_active_user_cap")
            if self.daily_cap_reached(creator):
                raise ApiError("spam_risk_too_many_posts")
        elif self._pending_shares(creator) >= self.sb.config.pending_share_cap:
            raise ApiError("spam_risk_too_many_pending_share")

    def check_pull_url(self, url: str, field: str) -> None:
        config = self.sb.config
        parts = urlsplit(url)
        allowed_schemes = ("https", "http") if config.allow_http_pull else ("https",)
        if parts.scheme not in allowed_schemes or not parts.hostname:
            raise InvalidParams(f"The {field} must be a valid https URL")
        host = parts.hostname.lower()
        owned = url.startswith(DOC_TEST_URL_PREFIX) or any(
            url.startswith(prefix) for prefix in config.verified_url_prefixes
        )
        owned = owned or any(
            host == d.lower() or host.endswith("." + d.lower()) for d in config.verified_domains
        )
        if not owned:
            raise ApiError("url_ownership_unverified")

    # -- inits ---------------------------------------------------------------------------------

    def init_video(
        self, auth: Auth, body: dict[str, Any], base_url: str, *, inbox: bool
    ) -> dict[str, Any]:
        creator = auth.creator
        post_info = PostInfo({}) if inbox else parse_video_post_info(body, self.sb.config)
        source = parse_video_source_info(body, self.sb.config)
        if not inbox:
            self._check_direct_post(creator, post_info)
        if source.video_url is not None:
            self.check_pull_url(source.video_url, "video_url")
        self._check_creator_can_post(creator, direct=not inbox)
        publish = self._create(
            auth,
            post_mode="MEDIA_UPLOAD" if inbox else "DIRECT_POST",
            media_type="VIDEO",
            source=source,
            endpoint="inbox.init" if inbox else "video.init",
            post_info=post_info,
        )
        publish.is_aigc = bool(post_info.values.get("is_aigc"))
        data: dict[str, Any] = {"publish_id": publish.publish_id}
        if publish.upload is not None:
            upload = publish.upload
            data["upload_url"] = (
                f"{base_url}upload/?upload_id={upload.upload_id}&upload_token={upload.token}"
            )
        return data

    def init_content(self, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
        init = parse_photo_init(body, self.sb.config)
        creator = auth.creator
        direct = init.post_mode == "DIRECT_POST"
        scope = "video.publish" if direct else "video.upload"
        if scope not in auth.grant.scopes:
            raise ApiError("scope_not_authorized")
        if direct:
            self._check_direct_post(creator, init.post_info)
        elif self.sb.config.photo_media_upload_requires_privacy:
            privacy = init.post_info.privacy_level
            if privacy is None or privacy not in creator.privacy_level_options:
                raise ApiError("privacy_level_option_mismatch")
        for url in init.source_info.photo_images:
            self.check_pull_url(url, "photo_images")
        if not direct and _version_tuple(creator.app_version) < (31, 8):
            raise ApiError("app_version_check_failed")
        self._check_creator_can_post(creator, direct=direct)
        publish = self._create(
            auth,
            post_mode=init.post_mode,
            media_type="PHOTO",
            source=init.source_info,
            endpoint="content.init",
            post_info=init.post_info,
        )
        publish.is_aigc = init.is_aigc
        return {"publish_id": publish.publish_id}

    def _create(
        self,
        auth: Auth,
        *,
        post_mode: str,
        media_type: str,
        source: SourceInfo,
        endpoint: str,
        post_info: PostInfo,
    ) -> Publish:
        sb = self.sb
        now = sb.clock.now()
        creator = auth.creator
        publish_id = sb.ids.publish_id(media_type, post_mode, source.source)
        publish = Publish(
            publish_id=publish_id,
            client_key=auth.grant.client_key,
            open_id=creator.open_id,
            grant_id=auth.grant.id,
            post_mode=post_mode,
            media_type=media_type,
            source=source.source,
            endpoint=endpoint,
            created_at=now,
            stage=Stage.UPLOADING if source.source == "FILE_UPLOAD" else Stage.DOWNLOADING,
            post_info={k: v for k, v in post_info.values.items() if v is not None},
            video_url=source.video_url,
            photo_images=list(source.photo_images),
            photo_cover_index=source.photo_cover_index,
        )
        values = post_info.values
        if post_mode == "DIRECT_POST":
            # TikTok forces these off for "No one" settings and private accounts.
            publish.effective_flags = {
                "disable_comment": bool(values.get("disable_comment")) or creator.comment_disabled,
            }
            if media_type == "VIDEO":
                publish.effective_flags["disable_duet"] = (
                    bool(values.get("disable_duet")) or creator.duet_disabled
                )
                publish.effective_flags["disable_stitch"] = (
                    bool(values.get("disable_stitch")) or creator.stitch_disabled
                )
            creator.post_times.append(now)
        publish.forced_fail_reason = sb.faults.take_fail_reason(creator.open_id)
        safe = publish_id.replace("~", "_")
        if source.source == "FILE_UPLOAD":
            assert source.video_size is not None
            assert source.chunk_size is not None
            assert source.total_chunk_count is not None
            path = os.path.join(sb.storage_dir, f"{safe}.video")
            upload = Upload(
                upload_id=sb.ids.upload_id(),
                token=sb.ids.upload_token(),
                publish_id=publish_id,
                video_size=source.video_size,
                chunk_size=source.chunk_size,
                total_chunk_count=source.total_chunk_count,
                expires_at=now + timedelta(seconds=sb.config.upload_url_ttl_seconds),
                path=path,
            )
            open(path, "wb").close()
            publish.upload = upload
            publish.media = [MediaFile(path)]
            self.uploads[upload.upload_id] = upload
        elif media_type == "VIDEO":
            publish.media = [MediaFile(os.path.join(sb.storage_dir, f"{safe}.video"))]
        else:
            publish.media = [
                MediaFile(os.path.join(sb.storage_dir, f"{safe}.{i}.photo"))
                for i in range(len(source.photo_images))
            ]
        self.publishes[publish_id] = publish
        sb.progression.on_created(publish)
        return publish

    # -- status and cancel ----------------------------------------------------------------------

    def lookup(self, auth: Auth, body: dict[str, Any]) -> Publish:
        publish_id = body.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            raise InvalidParams("The publish_id is required")
        publish = self.publishes.get(publish_id)
        if publish is None:
            raise ApiError("invalid_publish_id")
        if publish.open_id != auth.creator.open_id or publish.client_key != auth.grant.client_key:
            raise ApiError("token_not_authorized_for_specified_publish_id")
        return publish

    def status(self, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
        publish = self.lookup(auth, body)
        data: dict[str, Any] = {"status": publish.status}
        if publish.fail_reason:
            data["fail_reason"] = publish.fail_reason
        data["publicaly_available_post_id"] = publish.public_post_ids()
        if publish.source == "FILE_UPLOAD":
            data["uploaded_bytes"] = publish.uploaded_bytes
        else:
            data["downloaded_bytes"] = publish.downloaded_bytes
        return data

    def cancel(self, auth: Auth, body: dict[str, Any]) -> None:
        publish = self.lookup(auth, body)
        if publish.stage is not Stage.DOWNLOADING:
            raise ApiError("publish_not_cancellable")
        self.sb.progression.cancel(publish)

    # -- inspection -----------------------------------------------------------------------------

    def describe(self, p: Publish) -> dict[str, Any]:
        info = p.post_info
        media: dict[str, Any]
        if p.media_type == "VIDEO":
            file = p.media[0]
            media = {
                "media_size": file.size,
                "media_sha256": file.sha256 or None,
                "video_cover_timestamp_ms": info.get("video_cover_timestamp_ms"),
                "video": p.video_meta or None,
            }
        else:
            media = {
                "photo_count": len(p.photo_images),
                "photo_cover_index": p.photo_cover_index,
                "photo_images": list(p.photo_images),
                "media_size": sum(m.size for m in p.media),
                "media_sha256": [m.sha256 or None for m in p.media],
            }
        return {
            "publish_id": p.publish_id,
            "open_id": p.open_id,
            "creator_username": self.sb.accounts.creators[p.open_id].username
            if p.open_id in self.sb.accounts.creators
            else None,
            "client_key": p.client_key,
            "status": p.status,
            "fail_reason": p.fail_reason,
            "post_mode": p.post_mode,
            "media_type": p.media_type,
            "source": p.source,
            "video_url": p.video_url,
            "title": info.get("title"),
            "description": info.get("description"),
            "privacy_level": info.get("privacy_level"),
            "disable_comment": info.get("disable_comment"),
            "disable_duet": info.get("disable_duet"),
            "disable_stitch": info.get("disable_stitch"),
            "effective_flags": dict(p.effective_flags),
            "brand_content_toggle": info.get("brand_content_toggle"),
            "brand_organic_toggle": info.get("brand_organic_toggle"),
            "auto_add_music": info.get("auto_add_music"),
            "is_aigc": p.is_aigc,
            "uploaded_bytes": p.uploaded_bytes,
            "downloaded_bytes": p.downloaded_bytes,
            **media,
            "post_ids": [post.post_id for post in p.posts],
            "publicaly_available_post_id": p.public_post_ids(),
            "created_at": p.created_at.isoformat(),
        }
