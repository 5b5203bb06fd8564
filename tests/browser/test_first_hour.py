"""A new user's first hour, in Chromium, with the default billing settings (no points or
plan given by an operator): the API reference works with no internet and its "Try it out"
publishes with a real key; sign-up leads through the checklist to a published post."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import connect, screenshot, sign_up
from tests.browser.server import LiveApp
from tests.fixtures.media_server import MediaServer
from tests.sandbox.media import make_video
from zakipost.dashboard.routes.start import EXAMPLE_VIDEO_URL

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Route, expect
else:
    try:
        from playwright.async_api import BrowserContext, Page, Route, expect
    except ImportError:  # conftest skips these tests (and fails them in CI)
        BrowserContext = Page = Route = Any
        expect = None

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app with the default billing settings: what a sign-up gets is what it has."""
    server = LiveApp(tmp_path_factory.mktemp("live"), worker={"poll_interval_seconds": 0.2})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """A video where the gateway can fetch it (on loopback, allowed by the test settings)."""
    root = tmp_path_factory.mktemp("origin")
    (root / "clip.mp4").write_bytes(make_video(seconds=4))
    server = MediaServer(root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def offline(context: BrowserContext) -> list[str]:
    """Every request leaving this machine is refused and recorded, as with no internet."""
    attempted: list[str] = []

    async def handle(route: Route) -> None:
        url = route.request.url
        scheme = urlsplit(url).scheme
        if scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname not in LOCAL_HOSTS:
            attempted.append(url)
            await route.abort("internetdisconnected")
            return
        await route.continue_()

    await context.route("**/*", handle)
    return attempted


async def create_key(page: Page) -> str:
    """The checklist's first step; the new key, shown once."""
    await page.goto("/dashboard/start")
    await page.get_by_role("button", name="Create a key").click()
    key = await page.locator("#new-key").inner_text()
    assert re.fullmatch(r"zp_sk_[A-Za-z0-9]{40}", key), key
    return key


async def test_docs_render_offline_and_try_it_out_publishes(
    page: Page, live: LiveApp, origin: MediaServer, offline: list[str]
) -> None:
    await sign_up(page, "docs@example.com")
    key = await create_key(page)
    account_id = await connect(page, "Sandbox Creator")

    sent: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: sent.append(r.headers) if r.url.endswith("/v1/tiktok/publish") else None,
    )
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("ZakiPost")
    await screenshot(page, "docs")

    # Authorize with the named key (the pair's two headers are offered beside it).
    await page.locator("button.authorize").first.click()
    dialog = page.locator(".modal-ux")
    for scheme in ("ClientKey", "ClientSecret", "NamedKey"):
        await expect(dialog.get_by_text(scheme, exact=False).first).to_be_visible()
    named = dialog.locator(".auth-container", has_text="NamedKey")
    await named.locator("input").fill(key)
    await named.locator("button.authorize").click()
    await expect(named.locator("button", has_text="Logout")).to_be_visible()
    await named.locator("button.btn-done").click()

    # Try it out on the documented example, with this account's id and a video it can read.
    operation = page.locator("#operations-publishing-publish_v1_tiktok_publish_post")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    editor = operation.locator("textarea.body-param__text")
    example = json.loads(await editor.input_value())
    assert set(example) >= {"video_url", "tiktok_account_id", "privacy_level", "title"}
    example.update(tiktok_account_id=account_id, video_url=origin.url("clip.mp4"))
    await editor.fill(json.dumps(example, indent=2))
    await operation.get_by_role("button", name="Execute").click()

    live_response = operation.locator(".live-responses-table tbody tr.response").first
    await expect(live_response.locator(".response-col_status")).to_have_text("200")
    body = live_response.locator(".response-col_description pre").first
    await expect(body).to_contain_text("Publishing process started.")
    publish_id = json.loads(await body.inner_text())["data"]["publish_id"]
    assert sent and sent[-1].get("authorization") == f"Bearer {key}"
    await screenshot(page, "docs-try-it-out")

    # The post it started is real: it goes live.
    await page.goto(f"/dashboard/posts/{publish_id}")
    await expect(page.locator("#status")).to_have_text("published", timeout=60_000)

    # ReDoc renders from local files too.
    await page.goto("/redoc")
    heading = page.get_by_role("heading", name="Publish a video to a connected TikTok account")
    await expect(heading.first).to_be_visible()
    assert offline == [], f"requests that needed the internet: {offline}"


async def test_sign_up_follow_the_checklist_and_publish(
    page: Page, live: LiveApp, origin: MediaServer, tmp_path: Path
) -> None:
    await sign_up(page, "first@example.com")
    steps = page.locator(".checklist .step")
    await expect(steps).to_have_count(3)
    for number in (1, 2, 3):
        await expect(page.locator(f'.step[data-step="{number}"]')).to_have_attribute(
            "data-done", "no"
        )
    # The default settings pay for a few posts: nothing for an operator to do.
    await expect(page.locator("#balance-hint")).to_contain_text("2000 points: 5 posts")
    await expect(page.locator("#cannot-publish")).to_have_count(0)
    await expect(page.locator("#no-api-access")).to_have_count(0)
    await screenshot(page, "start")

    key = await create_key(page)
    await expect(page.locator('.step[data-step="1"]')).to_have_attribute("data-done", "yes")
    await expect(page.locator("#curl-example")).to_contain_text(f"ZAKIPOST_API_KEY='{key}'")

    # Step 2 from the checklist's own button, through TikTok's (the sandbox's) consent.
    await page.locator("#start-connect").click()
    await page.wait_for_url("**/sandbox/**")
    await page.get_by_label(re.compile(r"^\s*Sandbox Creator\b")).check()
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url("**/dashboard/accounts?connected=1")
    await page.goto("/dashboard/start")
    await expect(page.locator('.step[data-step="2"]')).to_have_attribute("data-done", "yes")
    account_id = await page.locator("#tiktok-account-id").inner_text()
    await expect(page.locator("#python-example")).to_contain_text(account_id)

    # The key is shown once: the examples now ask for it instead of showing it.
    assert key not in await page.content()
    await expect(page.locator("#python-example")).to_contain_text("the key you copied")

    # Step 3: the Python example as the page gives it, with the key the user copied and a
    # video the gateway can read; it waits for the post to end.
    script = (await page.locator("#python-example").inner_text()).replace(
        EXAMPLE_VIDEO_URL, origin.url("clip.mp4")
    )
    script = re.sub(r"^API_KEY = .*$", f"API_KEY = {key!r}", script, count=1, flags=re.MULTILINE)
    path = tmp_path / "first_post.py"
    path.write_text(script)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    publish_id, status = out.decode().split()[:2]
    assert status == "published", out.decode()

    await page.goto("/dashboard/start")
    step = page.locator('.step[data-step="3"]')
    await expect(step).to_have_attribute("data-done", "yes")
    await screenshot(page, "start-done")
    await step.get_by_role("link", name=publish_id).click()
    await expect(page.locator("#status")).to_have_text("published")
