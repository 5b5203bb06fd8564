"""Models: secrets stay out of repr/str, text limits, request serialisation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.tiktok.conftest import ACCESS_TOKEN, REFRESH_TOKEN
from zakipost.tiktok import (
    InitResult,
    PhotoPostInfo,
    PublishStatus,
    TokenGrant,
    VideoPostInfo,
    utf16_length,
)

UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"


def grant() -> TokenGrant:
    return TokenGrant(
        access_token=ACCESS_TOKEN,
        expires_in=86400,
        refresh_token=REFRESH_TOKEN,
        refresh_expires_in=31536000,
        open_id="open-1",
        scopes=["video.publish"],
    )


class TestSecretsStayHidden:
    def test_token_grant_repr_and_str(self) -> None:
        text = repr(grant()) + str(grant()) + f"{grant()}"
        assert ACCESS_TOKEN not in text
        assert REFRESH_TOKEN not in text
        assert "open-1" in text

    def test_token_grant_still_dumps_tokens_for_storage(self) -> None:
        assert grant().model_dump()["refresh_token"] == REFRESH_TOKEN

    def test_init_result_hides_the_upload_token(self) -> None:
        result = InitResult(publish_id="v_pub_file~v2-1.1", upload_url=UPLOAD_URL)
        assert "Xza123" not in repr(result) + str(result)
        assert "v_pub_file~v2-1.1" in repr(result)


class TestTextLimits:
    def test_utf16_length_counts_surrogate_pairs(self) -> None:
        assert utf16_length("a😀") == 3

    def test_video_title_limit_is_2200_utf16_units(self) -> None:
        VideoPostInfo(privacy_level="SELF_ONLY", title="a" * 2200)
        with pytest.raises(ValidationError, match="2200"):
            VideoPostInfo(privacy_level="SELF_ONLY", title="😀" * 1101)

    def test_photo_limits(self) -> None:
        PhotoPostInfo(title="a" * 90, description="b" * 4000)
        with pytest.raises(ValidationError, match="90"):
            PhotoPostInfo(title="a" * 91)
        with pytest.raises(ValidationError, match="4000"):
            PhotoPostInfo(description="b" * 4001)

    def test_unknown_privacy_level_and_fields_are_rejected(self) -> None:
        with pytest.raises(ValidationError):
            VideoPostInfo(privacy_level="EVERYONE")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            VideoPostInfo(privacy_level="SELF_ONLY", disable_comments=True)  # type: ignore[call-arg]


class TestPublishStatus:
    def test_inbox_delivery_is_terminal(self) -> None:
        status = PublishStatus(status="SEND_TO_USER_INBOX")
        assert status.is_terminal
        assert not status.is_failed

    def test_constructing_with_the_python_name(self) -> None:
        status = PublishStatus(status="PUBLISH_COMPLETE", publicly_available_post_ids=["1"])
        assert status.publicly_available_post_ids == ["1"]
