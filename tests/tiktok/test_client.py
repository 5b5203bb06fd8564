"""Display and Content Posting endpoints: request shapes, parsing, error mapping (§3, §4, §7)."""

from __future__ import annotations

import pytest

from tests.tiktok.conftest import (
    ACCESS_TOKEN,
    API,
    RecordingTransport,
    api_error,
    ok,
)
from zakipost.tiktok import (
    ActiveUserCapReached,
    AppVersionCheckFailed,
    DailyPostCapReached,
    FileUploadSource,
    PhotoPostInfo,
    PublishNotCancellable,
    PullFromUrlSource,
    ScopeNotAuthorized,
    TikTokApiError,
    TikTokClient,
    TooManyPendingShares,
    UserBannedFromPosting,
    VideoPostInfo,
)

UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"
JSON_TYPE = "application/json; charset=UTF-8"


def assert_api_request(
    transport: RecordingTransport, method: str, path: str, *, fields: str | None = None
) -> None:
    request = transport.last.request
    assert request.method == method
    assert f"{request.url.scheme}://{request.url.host}{request.url.path}" == f"{API}{path}"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    if fields is not None:
        assert request.url.params["fields"] == fields
    if method == "POST":
        assert request.headers["Content-Type"] == JSON_TYPE


class TestGetUserInfo:
    async def test_gets_requested_fields(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        user = {"open_id": "o1", "display_name": "Zaki", "follower_count": 12, "new_field": 1}
        transport.queue(ok({"user": user}))
        info = await client.get_user_info(ACCESS_TOKEN, ["open_id", "display_name"])
        assert_api_request(transport, "GET", "/v2/user/info/", fields="open_id,display_name")
        assert transport.last.body == b""
        assert (info.open_id, info.display_name, info.follower_count) == ("o1", "Zaki", 12)
        assert info.username is None
        assert info.model_extra == {"new_field": 1}

    async def test_scope_permission_missed(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(api_error(400, "scope_permission_missed"))
        with pytest.raises(ScopeNotAuthorized):
            await client.get_user_info(ACCESS_TOKEN, ["follower_count"])

    async def test_needs_fields(self, client: TikTokClient) -> None:
        with pytest.raises(ValueError, match="fields"):
            await client.get_user_info(ACCESS_TOKEN, [])


class TestListVideos:
    async def test_posts_cursor_and_count(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        videos = [{"id": 7602997517160123666, "title": "a"}, {"id": "2", "create_time": 1}]
        transport.queue(ok({"videos": videos, "cursor": 1700000000000, "has_more": True}))
        page = await client.list_videos(
            ACCESS_TOKEN, fields=["id", "title"], cursor=1700000000001, max_count=5
        )
        assert_api_request(transport, "POST", "/v2/video/list/", fields="id,title")
        assert transport.last.json() == {"max_count": 5, "cursor": 1700000000001}
        assert [v.id for v in page.videos] == ["7602997517160123666", "2"]
        assert (page.cursor, page.has_more) == (1700000000000, True)

    async def test_first_page_sends_no_cursor(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"videos": [], "cursor": 0, "has_more": False}))
        page = await client.list_videos(ACCESS_TOKEN, fields=["id"])
        assert transport.last.json() == {"max_count": 20}
        assert page.videos == []

    @pytest.mark.parametrize("max_count", [0, 21])
    async def test_max_count_is_bounded(self, client: TikTokClient, max_count: int) -> None:
        with pytest.raises(ValueError, match="max_count"):
            await client.list_videos(ACCESS_TOKEN, fields=["id"], max_count=max_count)


class TestQueryVideos:
    async def test_filters_by_ids(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"videos": [{"id": "1", "cover_image_url": "https://c"}]}))
        videos = await client.query_videos(ACCESS_TOKEN, fields=["id"], video_ids=["1", "2"])
        assert_api_request(transport, "POST", "/v2/video/query/", fields="id")
        assert transport.last.json() == {"filters": {"video_ids": ["1", "2"]}}
        assert videos[0].cover_image_url == "https://c"

    @pytest.mark.parametrize("ids", [[], [str(i) for i in range(21)]])
    async def test_id_count_is_bounded(self, client: TikTokClient, ids: list[str]) -> None:
        with pytest.raises(ValueError, match="video_ids"):
            await client.query_videos(ACCESS_TOKEN, fields=["id"], video_ids=ids)


class TestQueryCreatorInfo:
    async def test_parses_creator_info(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        options = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        data = {
            "creator_avatar_url": "https://a",
            "creator_username": "zaki",
            "creator_nickname": "Zaki",
            "privacy_level_options": options,
            "comment_disabled": False,
            "duet_disabled": True,
            "stitch_disabled": True,
            "max_video_post_duration_sec": 600,
        }
        transport.queue(ok(data))
        info = await client.query_creator_info(ACCESS_TOKEN)
        assert_api_request(transport, "POST", "/v2/post/publish/creator_info/query/")
        assert transport.last.json() == {}
        assert info.privacy_level_options == options
        assert (info.creator_nickname, info.duet_disabled) == ("Zaki", True)
        assert info.max_video_post_duration_sec == 600

    @pytest.mark.parametrize(
        ("code", "cls"),
        [
            ("spam_risk_too_many_posts", DailyPostCapReached),
            ("spam_risk_user_banned_from_posting", UserBannedFromPosting),
            ("reached_active_user_cap", ActiveUserCapReached),
        ],
    )
    async def test_http_200_refusals_raise(
        self, client: TikTokClient, transport: RecordingTransport, code: str, cls: type[Exception]
    ) -> None:
        transport.queue(api_error(200, code))
        with pytest.raises(cls) as caught:
            await client.query_creator_info(ACCESS_TOKEN)
        assert caught.value.http_status == 200  # type: ignore[attr-defined]


class TestInitDirectVideo:
    async def test_file_upload(self, client: TikTokClient, transport: RecordingTransport) -> None:
        transport.queue(ok({"publish_id": "v_pub_file~v2-1.123", "upload_url": UPLOAD_URL}))
        result = await client.init_direct_video(
            ACCESS_TOKEN,
            post_info=VideoPostInfo(privacy_level="SELF_ONLY", title="hi #tag", disable_duet=True),
            source=FileUploadSource(
                video_size=50_000_123, chunk_size=10_000_000, total_chunk_count=5
            ),
        )
        assert_api_request(transport, "POST", "/v2/post/publish/video/init/")
        assert transport.last.json() == {
            "post_info": {
                "privacy_level": "SELF_ONLY",
                "title": "hi #tag",
                "disable_duet": True,
                "disable_stitch": False,
                "disable_comment": False,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 50_000_123,
                "chunk_size": 10_000_000,
                "total_chunk_count": 5,
            },
        }
        assert (result.publish_id, result.upload_url) == ("v_pub_file~v2-1.123", UPLOAD_URL)

    async def test_pull_from_url_with_optional_fields(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"publish_id": "v_pub_url~v2.1"}))
        post_info = VideoPostInfo(
            privacy_level="PUBLIC_TO_EVERYONE",
            video_cover_timestamp_ms=1000,
            brand_organic_toggle=True,
            is_aigc=True,
        )
        result = await client.init_direct_video(
            ACCESS_TOKEN, post_info=post_info, source=PullFromUrlSource(video_url="https://m/v.mp4")
        )
        body = transport.last.json()
        assert body["source_info"] == {"source": "PULL_FROM_URL", "video_url": "https://m/v.mp4"}
        assert body["post_info"]["video_cover_timestamp_ms"] == 1000
        assert body["post_info"]["is_aigc"] is True
        assert body["post_info"]["brand_content_toggle"] is False
        assert "title" not in body["post_info"]
        assert (result.publish_id, result.upload_url) == ("v_pub_url~v2.1", None)

    async def test_file_upload_without_upload_url_is_unexpected(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"publish_id": "v_pub_file~v2-1.123"}))
        with pytest.raises(TikTokApiError, match="upload_url"):
            await client.init_direct_video(
                ACCESS_TOKEN,
                post_info=VideoPostInfo(privacy_level="SELF_ONLY"),
                source=FileUploadSource(video_size=10, chunk_size=10, total_chunk_count=1),
            )


class TestInitInboxVideo:
    async def test_sends_only_source_info(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"publish_id": "v_inbox_file~v2.1", "upload_url": UPLOAD_URL}))
        source = FileUploadSource(video_size=4_194_304, chunk_size=4_194_304, total_chunk_count=1)
        result = await client.init_inbox_video(ACCESS_TOKEN, source=source)
        assert_api_request(transport, "POST", "/v2/post/publish/inbox/video/init/")
        assert transport.last.json() == {"source_info": source.to_api()}
        assert result.upload_url == UPLOAD_URL

    async def test_pending_share_cap(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(api_error(403, "spam_risk_too_many_pending_share"))
        with pytest.raises(TooManyPendingShares) as caught:
            await client.init_inbox_video(ACCESS_TOKEN, source=PullFromUrlSource(video_url="u"))
        assert caught.value.temporary


class TestInitPhoto:
    async def test_direct_post(self, client: TikTokClient, transport: RecordingTransport) -> None:
        transport.queue(ok({"publish_id": "p_pub_url~v2.1"}))
        post_info = PhotoPostInfo(
            title="t", description="d", privacy_level="SELF_ONLY", auto_add_music=True
        )
        result = await client.init_photo(
            ACCESS_TOKEN,
            post_mode="DIRECT_POST",
            post_info=post_info,
            photo_urls=["https://m/1.jpg", "https://m/2.jpg"],
            cover_index=1,
            is_aigc=False,
        )
        assert_api_request(transport, "POST", "/v2/post/publish/content/init/")
        assert transport.last.json() == {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST",
            "post_info": {
                "title": "t",
                "description": "d",
                "privacy_level": "SELF_ONLY",
                "disable_comment": False,
                "auto_add_music": True,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": ["https://m/1.jpg", "https://m/2.jpg"],
                "photo_cover_index": 1,
            },
            "is_aigc": False,
        }
        assert result.publish_id == "p_pub_url~v2.1"

    async def test_media_upload_without_privacy(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"publish_id": "p_inbox_url~v2.1"}))
        await client.init_photo(
            ACCESS_TOKEN,
            post_mode="MEDIA_UPLOAD",
            post_info=PhotoPostInfo(),
            photo_urls=["https://m/1.jpg"],
            cover_index=0,
        )
        body = transport.last.json()
        assert body["post_mode"] == "MEDIA_UPLOAD"
        assert "privacy_level" not in body["post_info"]
        assert "is_aigc" not in body

    @pytest.mark.parametrize(
        ("mode", "info", "urls", "cover", "problem"),
        [
            ("DIRECT_POST", PhotoPostInfo(), ["u"], 0, "privacy_level"),
            ("MEDIA_UPLOAD", PhotoPostInfo(), ["u"], 1, "cover_index"),
            ("MEDIA_UPLOAD", PhotoPostInfo(), [], 0, "photo_urls"),
            ("MEDIA_UPLOAD", PhotoPostInfo(), ["u"] * 36, 0, "photo_urls"),
        ],
    )
    async def test_rejects_invalid_requests_before_sending(
        self,
        client: TikTokClient,
        transport: RecordingTransport,
        mode: str,
        info: PhotoPostInfo,
        urls: list[str],
        cover: int,
        problem: str,
    ) -> None:
        with pytest.raises(ValueError, match=problem):
            await client.init_photo(
                ACCESS_TOKEN, post_mode=mode, post_info=info, photo_urls=urls, cover_index=cover
            )  # type: ignore[arg-type]
        assert transport.requests == []

    async def test_app_version_check_failed(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(api_error(400, "app_version_check_failed"))
        with pytest.raises(AppVersionCheckFailed):
            await client.init_photo(
                ACCESS_TOKEN,
                post_mode="MEDIA_UPLOAD",
                post_info=PhotoPostInfo(),
                photo_urls=["u"],
                cover_index=0,
            )


class TestFetchStatus:
    async def test_reads_the_misspelled_post_ids(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        data = {
            "status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": [7602997517160123666],
            "uploaded_bytes": 10000,
        }
        transport.queue(ok(data))
        status = await client.fetch_status(ACCESS_TOKEN, "v_pub_file~v2-1.1")
        assert_api_request(transport, "POST", "/v2/post/publish/status/fetch/")
        assert transport.last.json() == {"publish_id": "v_pub_file~v2-1.1"}
        assert status.publicly_available_post_ids == ["7602997517160123666"]
        assert (status.uploaded_bytes, status.is_terminal, status.is_failed) == (10000, True, False)

    @pytest.mark.parametrize(
        ("data", "ids"),
        [
            ({"publicly_available_post_id": [1, 2]}, ["1", "2"]),
            ({"publicaly_available_post_id": ["7602997517160123666"]}, ["7602997517160123666"]),
            ({"publicaly_available_post_id": [], "publicly_available_post_id": [3]}, ["3"]),
            ({"publicaly_available_post_id": 4}, ["4"]),
            ({"publicaly_available_post_id": None}, []),
            ({}, []),
        ],
    )
    async def test_tolerates_post_id_variants(
        self, client: TikTokClient, transport: RecordingTransport, data: dict, ids: list[str]
    ) -> None:
        transport.queue(ok({"status": "PUBLISH_COMPLETE", **data}))
        status = await client.fetch_status(ACCESS_TOKEN, "p")
        assert status.publicly_available_post_ids == ids

    async def test_failure_is_a_status_with_a_human_reason(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"status": "FAILED", "fail_reason": "frame_rate_check_failed"}))
        status = await client.fetch_status(ACCESS_TOKEN, "p")
        assert status.is_failed
        assert status.is_terminal
        assert status.uploaded_bytes is None
        assert status.downloaded_bytes is None
        failure = status.describe_failure()
        assert failure is not None
        assert failure.message == "The video's frame rate must be between 23 and 60 fps."

    async def test_processing_is_not_terminal(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({"status": "PROCESSING_DOWNLOAD", "downloaded_bytes": 5}))
        status = await client.fetch_status(ACCESS_TOKEN, "p")
        assert not status.is_terminal
        assert status.describe_failure() is None

    async def test_missing_status_is_unexpected(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok({}))
        with pytest.raises(TikTokApiError, match="status"):
            await client.fetch_status(ACCESS_TOKEN, "p")


class TestCancel:
    async def test_posts_publish_id_and_accepts_no_data(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(ok())
        assert await client.cancel(ACCESS_TOKEN, "v_pub_url~v2.1") is None
        assert_api_request(transport, "POST", "/v2/post/publish/cancel/")
        assert transport.last.json() == {"publish_id": "v_pub_url~v2.1"}

    async def test_not_cancellable(
        self, client: TikTokClient, transport: RecordingTransport
    ) -> None:
        transport.queue(api_error(400, "publish_not_cancellable"))
        with pytest.raises(PublishNotCancellable):
            await client.cancel(ACCESS_TOKEN, "p")
