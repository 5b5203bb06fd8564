"""The request translations on their own: Zernio's and CodivUpload's bodies into ZakiPost's
publish requests (no database: connections are plain objects)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from zakipost.compat.codivupload import inbound as codiv
from zakipost.compat.posting import CompatValidationFailed
from zakipost.compat.zernio import inbound as zernio
from zakipost.compat.zernio.errors import PlatformNotSupported, UnsupportedFeature
from zakipost.errors import AppError
from zakipost.models import Connection
from zakipost.post.schemas import PhotoPublishRequest, VideoPublishRequest

PUBLIC = "https://zakipost.example.com"
ACCOUNT = "1b7e4f2a-8c3d-4e5f-9a0b-1c2d3e4f5a6b"
CONSENT = {"content_preview_confirmed": True, "express_consent_given": True}


def zernio_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": "Hello #tiktok",
        "mediaItems": [{"type": "video", "url": "https://cdn.example.com/a.mp4"}],
        "platforms": [{"platform": "tiktok", "accountId": ACCOUNT}],
        "tiktokSettings": dict(CONSENT),
        "publishNow": True,
    }
    body.update(changes)
    return body


class TestZernio:
    def test_snake_case_settings_map_to_zakipost_fields(self) -> None:
        body = zernio_body(
            tiktokSettings={
                "privacy_level": "MUTUAL_FOLLOW_FRIENDS",
                "allow_comment": False,
                "allow_duet": True,
                "allow_stitch": False,
                "video_cover_timestamp_ms": 3000,
                "video_made_with_ai": True,
                "commercialContentType": "brand_organic",
                **CONSENT,
            }
        )
        request = zernio.translate(body, public_url=PUBLIC).request
        assert isinstance(request, VideoPublishRequest)
        assert request.video_url == "https://cdn.example.com/a.mp4"
        assert request.title == "Hello #tiktok"
        assert request.privacy_level is not None
        assert request.privacy_level.value == "MUTUAL_FOLLOW_FRIENDS"
        assert (request.disable_comment, request.disable_duet, request.disable_stitch) == (
            True,
            False,
            True,
        )
        assert request.video_cover_timestamp_ms == 3000
        assert request.ai_generated_content is True
        assert request.brand_organic_toggle and not request.brand_content_toggle

    def test_platform_specific_data_wins_over_the_root(self) -> None:
        body = zernio_body(
            tiktokSettings={"privacyLevel": "SELF_ONLY", **CONSENT},
            platforms=[
                {
                    "platform": "tiktok",
                    "accountId": ACCOUNT,
                    "customContent": "Just for TikTok",
                    "platformSpecificData": {"privacy_level": "PUBLIC_TO_EVERYONE"},
                }
            ],
        )
        request = zernio.translate(body, public_url=PUBLIC).request
        assert request.privacy_level is not None
        assert request.privacy_level.value == "PUBLIC_TO_EVERYONE"
        assert isinstance(request, VideoPublishRequest) and request.title == "Just for TikTok"

    def test_photo_content_is_the_title_cut_to_90_and_the_caption_by_default(self) -> None:
        long = "Sea " * 40
        body = zernio_body(
            content=long,
            mediaItems=[
                {"url": "https://cdn.example.com/1.jpg"},
                {"url": "https://cdn.example.com/2.png"},
            ],
        )
        request = zernio.translate(body, public_url=PUBLIC).request
        assert isinstance(request, PhotoPublishRequest)
        assert request.photo_urls == [
            "https://cdn.example.com/1.jpg",
            "https://cdn.example.com/2.png",
        ]
        assert request.title is not None and len(request.title) <= 90
        assert request.description == long

    def test_inbox_draft_sends_only_what_tiktok_takes(self) -> None:
        body = zernio_body(
            tiktokSettings={"draft": True, "privacy_level": "PUBLIC_TO_EVERYONE", **CONSENT}
        )
        request = zernio.translate(body, public_url=PUBLIC).request
        assert request.post_mode.value == "draft"
        assert request.privacy_level is None
        assert isinstance(request, VideoPublishRequest) and request.title is None

    def test_a_naive_schedule_is_read_in_the_given_time_zone(self) -> None:
        local = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(tzinfo=None)
        body = zernio_body(publishNow=None, scheduledFor=local.isoformat(), timezone="Europe/Paris")
        request = zernio.translate(body, public_url=PUBLIC).request
        assert request.scheduled_at is not None
        expected = local.replace(tzinfo=dt.UTC).astimezone(dt.UTC)
        assert abs((request.scheduled_at - expected).total_seconds()) in (3600.0, 7200.0)

    def test_uploaded_media_urls_become_media_ids(self) -> None:
        media_id = "med_" + "a" * 24
        url = f"{PUBLIC}/compat/zernio/api/v1/media/{media_id}"
        request = zernio.translate(
            zernio_body(mediaItems=[{"type": "video", "url": url}]), public_url=PUBLIC
        ).request
        assert isinstance(request, VideoPublishRequest)
        assert request.media_id == media_id and request.video_url is None
        # The same path on another host is just a URL.
        other = url.replace(PUBLIC, "https://elsewhere.example.com")
        request = zernio.translate(
            zernio_body(mediaItems=[{"type": "video", "url": other}]), public_url=PUBLIC
        ).request
        assert isinstance(request, VideoPublishRequest) and request.video_url == other

    def test_reference_only_fields_are_warned_about(self) -> None:
        translated = zernio.translate(zernio_body(hashtags=["a"]), public_url=PUBLIC)
        assert translated.warnings and "hashtags" in translated.warnings[0]

    @pytest.mark.parametrize(
        ("changes", "error", "param"),
        [
            (
                {"platforms": [{"platform": "twitter", "accountId": "x"}]},
                PlatformNotSupported,
                "platforms[0].platform",
            ),
            (
                {"tiktokSettings": {"content_preview_confirmed": True}},
                CompatValidationFailed,
                "tiktokSettings.expressConsentGiven",
            ),
            ({"isDraft": True}, UnsupportedFeature, "isDraft"),
            ({"publishNow": None}, CompatValidationFailed, "scheduledFor"),
            ({"firstComment": "x"}, CompatValidationFailed, "firstComment"),
            (
                {"tiktokSettings": {"musicSoundInfo": {}, **CONSENT}},
                UnsupportedFeature,
                "tiktokSettings.musicSoundInfo",
            ),
            (
                {
                    "mediaItems": [
                        {"url": "https://c.example.com/a.mp4"},
                        {"url": "https://c.example.com/b.jpg"},
                    ]
                },
                CompatValidationFailed,
                "mediaItems",
            ),
            ({"content": "x" * 2201}, CompatValidationFailed, "content"),
        ],
    )
    def test_refusals_name_the_callers_field(
        self, changes: dict[str, Any], error: type[AppError], param: str
    ) -> None:
        with pytest.raises(error) as raised:
            zernio.translate(zernio_body(**changes), public_url=PUBLIC)
        assert raised.value.details["param"] == param


def connection(username: str, display_name: str | None = None) -> Connection:
    return Connection(
        id=uuid.uuid4(),
        internal_token=uuid.uuid4(),
        open_id=f"open-{username}",
        username=username,
        display_name=display_name,
    )


class TestCodivUpload:
    def test_video_description_is_the_caption(self) -> None:
        brand = connection("my_brand")
        request = codiv.translate(
            {
                "platforms": ["tiktok"],
                "profile_name": "My_Brand",
                "post_type": "video",
                "media_urls": ["https://cdn.example.com/clip.mp4"],
                "title": "Dashboard only",
                "description": "Caption #x",
                "tiktok_privacy_level": "PUBLIC_TO_EVERYONE",
                "tiktok_disable_stitch": True,
                "tiktok_brand_content_toggle": True,
            },
            [connection("other"), brand],
        )
        assert isinstance(request, VideoPublishRequest)
        assert request.tiktok_account_id == str(brand.internal_token)
        assert request.title == "Caption #x"
        assert request.disable_stitch is True and request.brand_content_toggle is True

    def test_images_make_a_carousel_and_draft_mode_the_inbox(self) -> None:
        request = codiv.translate(
            {
                "platforms": ["tiktok"],
                "profile_name": "@brand",
                "media_urls": ["https://cdn.example.com/1.jpg", "https://cdn.example.com/2.webp"],
                "title": "T",
                "description": "D",
                "tiktok_post_mode": "DRAFT",
            },
            [connection("brand")],
        )
        assert isinstance(request, PhotoPublishRequest)
        assert request.post_mode.value == "draft"
        assert (request.title, request.description) == ("T", "D")

    def test_a_naive_scheduled_date_is_utc(self) -> None:
        when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
        request = codiv.translate(
            {
                "platforms": ["tiktok"],
                "profile_name": "brand",
                "media_urls": ["https://cdn.example.com/a.mp4"],
                "scheduled_date": when.replace(tzinfo=None).isoformat(),
            },
            [connection("brand")],
        )
        assert request.scheduled_at == when

    @pytest.mark.parametrize(
        ("changes", "code", "param"),
        [
            ({"platforms": ["tiktok", "youtube"]}, "platform_not_supported", "platforms"),
            ({"profile_name": "nobody"}, "profile_not_found", "profile_name"),
            ({"schedule_best_time": True}, "not_supported", "schedule_best_time"),
            ({"tiktok_post_mode": "LATER"}, "validation_error", "tiktok_post_mode"),
            ({"tiktok_auto_add_music": True}, "validation_error", "tiktok_auto_add_music"),
            (
                {"media_urls": ["https://c.example.com/a.mp4", "https://c.example.com/b.mp4"]},
                "validation_error",
                "media_urls",
            ),
            ({"youtube_type": "short"}, "validation_error", "youtube_type"),
            ({"tiktok_privacy_level": "EVERYONE"}, "validation_error", "tiktok_privacy_level"),
        ],
    )
    def test_refusals_name_the_callers_field(
        self, changes: dict[str, Any], code: str, param: str
    ) -> None:
        body = {
            "platforms": ["tiktok"],
            "profile_name": "brand",
            "media_urls": ["https://cdn.example.com/a.mp4"],
            **changes,
        }
        with pytest.raises(AppError) as raised:
            codiv.translate(body, [connection("brand")])
        assert raised.value.code == code
        assert raised.value.details["param"] == param
