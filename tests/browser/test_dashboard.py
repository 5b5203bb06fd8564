"""The dashboard in Chromium: sign up, keys, Connect TikTok through the sandbox's consent
page, compose and publish (checking TikTok's content sharing guidelines on the way), watch
the post go live, disconnect. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import connect, screenshot, sign_up
from tests.browser.server import LiveApp
from tests.sandbox.media import make_photo, make_video
from zakipost.dashboard.compose import BRANDED_NOT_PRIVATE, CHOOSE_PRIVACY, DISCLOSURE_INCOMPLETE

MUSIC = "By posting, you agree to TikTok's Music Usage Confirmation"
BRANDED = "By posting, you agree to TikTok's Branded Content Policy and Music Usage Confirmation."
MUSIC_URL = "https://www.tiktok.com/legal/page/global/music-usage-confirmation/en"
BC_URL = "https://www.tiktok.com/legal/page/global/bc-policy/en"
GREY = "rgb(154, 154, 160)"

if TYPE_CHECKING:
    from playwright.async_api import Page, expect
else:
    try:
        from playwright.async_api import Page, expect
    except ImportError:  # conftest skips these tests (and fails them in CI)
        Page, expect = Any, None


def media_file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


async def choose_account(page: Page, creator: str) -> None:
    await page.goto("/dashboard/compose")
    picker = page.get_by_label("TikTok account")
    value = await picker.locator("option", has_text=creator).get_attribute("value")
    assert value
    await picker.select_option(value)
    await page.get_by_role("button", name="Continue").click()


async def open_compose(page: Page, creator: str) -> None:
    await choose_account(page, creator)
    await expect(page.locator("#compose")).to_be_visible()


async def label_colour(page: Page, name: str) -> str:
    return str(
        await page.locator(f'label[for="{name}"]').evaluate("e => getComputedStyle(e).color")
    )


async def test_sign_up_and_copy_the_keys(page: Page, live: LiveApp) -> None:
    await page.goto("/dashboard/signup")
    await screenshot(page, "signup")
    await sign_up(page, "keys@example.com")
    await page.goto("/dashboard/keys")
    client_key = await page.locator("#client-key").inner_text()
    assert re.fullmatch(r"zp_key_[a-z0-9]{32}", client_key)
    # The secret is not on the page until asked for.
    await expect(page.locator("#client-secret")).to_have_count(0)
    await page.get_by_role("button", name="Copy the client_key").click()
    assert await page.evaluate("navigator.clipboard.readText()") == client_key
    await page.get_by_role("button", name="Show the secret").click()
    secret = await page.locator("#client-secret").inner_text()
    assert re.fullmatch(r"[A-Za-z0-9]{40}", secret)
    await page.get_by_role("button", name="Copy the client_secret").click()
    await expect(page.get_by_role("button", name="Copy the client_secret")).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await screenshot(page, "keys")
    # A named key is shown once.
    await page.get_by_label("Name of the new key").fill("production")
    await page.get_by_role("button", name="Create a named key").click()
    await expect(page.locator("#new-key")).to_have_text(re.compile(r"^zp_"))
    await page.goto("/dashboard/keys")
    await expect(page.locator("#new-key")).to_have_count(0)
    await expect(page.get_by_role("cell", name="production")).to_be_visible()


async def test_connect_compose_and_publish_a_video(
    page: Page, live: LiveApp, tmp_path: Path
) -> None:
    await sign_up(page, "video@example.com")
    account_id = await connect(page, "Sandbox Creator")
    await expect(page.get_by_text("TikTok account connected.")).to_be_visible()
    await screenshot(page, "accounts")

    await open_compose(page, "Sandbox Creator")
    await expect(page.locator("#creator-nickname")).to_have_text("Sandbox Creator")
    publish = page.locator("#publish")
    privacy = page.get_by_label("Who can see this post")
    await expect(publish).to_be_disabled()

    # Nothing is chosen for the creator: no privacy, interactions off, disclosure off.
    assert await privacy.input_value() == ""
    options = await privacy.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    for label in ("Allow Comment", "Allow Duet", "Allow Stitch", "Disclose commercial content"):
        await expect(page.get_by_label(label)).not_to_be_checked()
    await expect(page.locator("#declaration-music")).to_have_text(MUSIC)
    await expect(page.locator("#declaration-music a")).to_have_attribute("href", MUSIC_URL)

    # The video: chosen on this device, previewed, uploaded with a progress bar.
    await page.get_by_label("Video file (MP4, MOV or WebM)").set_input_files(
        media_file(tmp_path, "clip.mp4", make_video(seconds=4))
    )
    await expect(page.locator("#preview video")).to_be_visible()
    await expect(page.locator("#upload-status")).to_have_text("Uploaded and checked.")
    await expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    await page.get_by_label("Title").fill("Hello from the dashboard #zakipost")

    # Publishing stays off until a privacy is chosen by hand.
    await expect(publish).to_be_disabled()
    await expect(publish).to_have_attribute("title", CHOOSE_PRIVACY)

    # Disclosure on with nothing selected: publishing off, with TikTok's hover text.
    await privacy.select_option("PUBLIC_TO_EVERYONE")
    await expect(publish).to_be_enabled()
    await page.get_by_label("Disclose commercial content").check()
    await expect(publish).to_be_disabled()
    await expect(publish).to_have_attribute("title", DISCLOSURE_INCOMPLETE)

    await page.get_by_label("Your brand").check()
    await expect(publish).to_be_enabled()
    await expect(page.locator("#label-promotional")).to_have_text(
        "Your photo/video will be labeled as 'Promotional content'"
    )
    await expect(page.locator("#declaration-music")).to_have_text(MUSIC)

    # Branded content: "Paid partnership", its declaration, and "Only me" is off.
    await page.get_by_label("Branded content").check()
    await expect(page.locator("#label-paid")).to_have_text(
        "Your photo/video will be labeled as 'Paid partnership'"
    )
    await expect(page.locator("#label-promotional")).to_be_hidden()
    await expect(page.locator("#declaration-branded")).to_have_text(BRANDED)
    await expect(page.locator("#declaration-music")).to_be_hidden()
    links = page.locator("#declaration-branded a")
    assert await links.evaluate_all("as => as.map(a => a.href)") == [BC_URL, MUSIC_URL]
    only_me = privacy.locator('option[value="SELF_ONLY"]')
    await expect(only_me).to_be_disabled()
    await expect(only_me).to_have_attribute("title", BRANDED_NOT_PRIVATE)
    await screenshot(page, "compose-branded")

    # The other way round: "Only me" chosen, "Branded content" cannot be (and says why).
    await page.get_by_label("Branded content").uncheck()
    await privacy.select_option("SELF_ONLY")
    branded = page.get_by_label("Branded content")
    await expect(branded).to_be_disabled()
    await expect(branded).to_have_attribute("title", BRANDED_NOT_PRIVATE)
    await expect(page.locator("#branded-private")).to_contain_text(BRANDED_NOT_PRIVATE)
    assert await label_colour(page, "brand_content_toggle") == GREY

    # Post it publicly, as "Your brand", comments allowed.
    await privacy.select_option("PUBLIC_TO_EVERYONE")
    await expect(branded).to_be_enabled()
    await page.get_by_label("Allow Comment").check()
    await screenshot(page, "compose")
    await publish.click()

    # The post's page follows it live (no reload) until TikTok has it.
    await page.wait_for_url(re.compile(r"/dashboard/posts/v_pub_\w{16}\?new=1$"))
    await page.evaluate("window.notReloaded = true")
    await expect(page.get_by_text("Processing may take a few minutes").first).to_be_visible()
    await expect(page.locator("#status")).to_have_text("published", timeout=60_000)
    assert await page.evaluate("window.notReloaded === true")
    await expect(page.locator("a.tiktok-link")).to_have_attribute(
        "href", re.compile(r"^https://www\.tiktok\.com/@sandbox\.creator/video/\d+$")
    )
    await expect(page.locator(".timeline li").first).to_be_visible()
    await screenshot(page, "post")

    await page.goto(f"/dashboard/posts?account={account_id}")
    await expect(page.locator("table.posts tbody tr")).to_have_count(1)
    await screenshot(page, "posts")
    await page.goto("/dashboard/points")
    await expect(page.locator("#balance")).to_have_text("9600")
    await screenshot(page, "points")


async def test_publish_a_photo_carousel(page: Page, live: LiveApp, tmp_path: Path) -> None:
    await sign_up(page, "photos@example.com")
    await connect(page, "Sandbox Creator")
    await open_compose(page, "Sandbox Creator")
    await page.get_by_label("Photos (a carousel").check()
    # Photos offer comments only: no duet, no stitch.
    await expect(page.get_by_label("Allow Comment")).to_be_visible()
    await expect(page.get_by_label("Allow Duet")).to_be_hidden()
    await expect(page.get_by_label("Allow Stitch")).to_be_hidden()
    await expect(page.get_by_label("Description")).to_be_visible()
    files = [
        media_file(tmp_path, "1.jpg", make_photo()),
        media_file(tmp_path, "2.png", make_photo(fmt="PNG")),
    ]
    await page.get_by_label("Photos (JPEG, PNG or WebP)").set_input_files(files)
    await expect(page.locator("#preview img")).to_have_count(2)
    await expect(page.locator("#upload-status")).to_have_text("2 photos uploaded and checked.")
    await page.locator("#preview input[value='1']").check()
    await page.get_by_label("Title").fill("Weekend")
    await page.get_by_label("Description").fill("Two days by the sea #travel")
    await expect(page.locator("#publish")).to_be_disabled()
    await page.get_by_label("Who can see this post").select_option("MUTUAL_FOLLOW_FRIENDS")
    await screenshot(page, "compose-photos")
    await page.locator("#publish").click()
    await page.wait_for_url(re.compile(r"/dashboard/posts/p_pub_\w{16}\?new=1$"))
    await expect(page.locator("#status")).to_have_text("published", timeout=60_000)


async def test_creator_settings_and_limits_are_respected(
    page: Page, live: LiveApp, tmp_path: Path
) -> None:
    await sign_up(page, "limits@example.com")
    await connect(page, "Quiet Creator")
    await open_compose(page, "Quiet Creator")
    comment = page.get_by_label("Allow Comment")
    await expect(comment).to_be_disabled()
    await expect(comment).not_to_be_checked()
    assert await label_colour(page, "allow_comment") == GREY
    assert await label_colour(page, "allow_duet") != GREY
    await screenshot(page, "compose-greyed")

    # A video longer than the creator may post is refused before it is uploaded.
    live.sandbox.add_creator(
        username="brief.creator", nickname="Brief Creator", max_video_post_duration_sec=3
    )
    await connect(page, "Brief Creator")
    await open_compose(page, "Brief Creator")
    await page.get_by_label("Video file (MP4, MOV or WebM)").set_input_files(
        media_file(tmp_path, "long.mp4", make_video(seconds=5))
    )
    await expect(page.locator("#media-error")).to_have_text(
        "This video is 5 seconds long; Brief Creator can post videos of up to 3 seconds. "
        "Choose a shorter video."
    )
    await expect(page.locator("#upload-progress")).to_be_hidden()
    await page.get_by_label("Who can see this post").select_option("SELF_ONLY")
    await expect(page.locator("#publish")).to_be_disabled()

    # A creator TikTok will not take posts from now is stopped at once.
    live.sandbox.add_creator(username="full.creator", nickname="Full Creator", posts_last_24h=15)
    await connect(page, "Full Creator")
    await choose_account(page, "Full Creator")
    await expect(page.locator("#cannot-post")).to_contain_text("cannot post right now")
    await expect(page.locator("#compose")).to_have_count(0)


async def test_disconnect(page: Page, live: LiveApp) -> None:
    await sign_up(page, "disconnect@example.com")
    account_id = await connect(page, "Sandbox Creator")
    card = page.locator(f'[data-tiktok-account-id="{account_id}"]')
    await card.get_by_role("link", name="Disconnect…").click()
    await expect(page.get_by_role("heading", name="Disconnect @sandbox.creator?")).to_be_visible()
    await screenshot(page, "disconnect")
    await page.get_by_role("button", name="Disconnect").click()
    await page.wait_for_url("**/dashboard/accounts?disconnected=1")
    await expect(card.locator(".status")).to_have_text("revoked")
    await expect(card.get_by_role("button", name="Connect again")).to_be_visible()
