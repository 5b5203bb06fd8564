"""The dashboard's forms under bad input: a page saying what to change, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.dashboard.conftest import Browser, csrf_of, post_form
from tests.dashboard.test_compose import compose, error_of
from tests.dashboard.test_posts import in_two_days, publish
from zakipost.dashboard.compose import COVER_NOT_AN_INDEX
from zakipost.plain_text import NUL


class TestSignInForms:
    @pytest.mark.parametrize("page", ["/dashboard/login", "/dashboard/signup"])
    async def test_a_nul_in_the_email_is_refused_before_any_lookup(
        self, client: httpx.AsyncClient, page: str
    ) -> None:
        form = await client.get(page)
        response = await client.post(
            page,
            data={
                "email": "a\x00@example.com",
                "password": "long enough pw",
                "csrf_token": csrf_of(form),
            },
        )
        assert response.status_code == 422, response.text
        assert f"email: {NUL}" in response.text

    async def test_a_nul_in_a_query_parameter(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/dashboard/login?next=%00")
        assert response.status_code == 422, response.text
        assert f"next: {NUL}" in response.text


class TestCompose:
    @pytest.mark.parametrize("cover", ["\u00b2", "-1", "9" * 5000])
    async def test_a_cover_index_that_is_not_an_ascii_number(
        self, browser: Browser, account_id: str, cover: str
    ) -> None:
        response = await compose(
            browser,
            account_id,
            kind="photo",
            photo_urls="https://photos.example.com/1.jpg\nhttps://photos.example.com/2.jpg",
            photo_cover_index=cover,
            privacy_level="SELF_ONLY",
        )
        assert response.status_code == 400, response.text
        assert error_of(response, "media") == COVER_NOT_AN_INDEX

    @pytest.mark.parametrize("offset", ["1440", "-1440", "9" * 40, "\u0663"])
    async def test_a_time_zone_offset_that_is_not_one(
        self, browser: Browser, account_id: str, offset: str
    ) -> None:
        response = await compose(
            browser,
            account_id,
            video_url="https://videos.example.com/clip.mp4",
            privacy_level="SELF_ONLY",
            schedule="on",
            scheduled_at=in_two_days(),
            tz_offset_minutes=offset,
        )
        assert response.status_code == 400, response.text
        assert "time zone offset" in error_of(response, "schedule")

    async def test_real_offsets_at_both_ends_are_taken(
        self, browser: Browser, account_id: str
    ) -> None:
        for offset in ("-840", "720"):
            response = await compose(
                browser,
                account_id,
                video_url="https://videos.example.com/clip.mp4",
                privacy_level="SELF_ONLY",
                schedule="on",
                scheduled_at=in_two_days(),
                tz_offset_minutes=offset,
            )
            assert response.status_code == 303, response.text


class TestReschedule:
    @pytest.mark.parametrize("offset", ["1440", "-99999999999999999999"])
    async def test_a_time_zone_offset_that_is_not_one(
        self, browser: Browser, account_id: str, offset: str
    ) -> None:
        publish_id = await publish(
            browser,
            account_id,
            "https://videos.example.com/clip.mp4",
            schedule="on",
            scheduled_at=in_two_days(),
        )
        page_path = f"/dashboard/posts/{publish_id}"
        response = await post_form(
            browser.client,
            page_path,
            f"{page_path}/reschedule",
            {"scheduled_at": in_two_days(), "tz_offset_minutes": offset},
        )
        assert response.status_code == 400, response.text
        assert 'id="scheduled_at-error"' in response.text
        assert "time zone offset" in response.text
