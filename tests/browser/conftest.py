"""Browser tests: Playwright driving Debian's Chromium against the whole app on loopback.

They need the ``chromium`` Debian package and the ``playwright`` Python package. Without
them the tests are skipped on a developer's machine (the message says how to enable them);
in CI (``CI=true``) they fail instead, so a CI run never passes without them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.server import LiveApp

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

CHROMIUM = os.environ.get("ZAKIPOST_TEST_CHROMIUM", "/usr/bin/chromium")
# Playwright's own browser download does not work here: Debian's Chromium, headless.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_ENABLE = (
    "To run them, install Debian's Chromium and Playwright: `sudo apt-get install chromium` "
    "and `.tools/bin/uv pip install --python .venv/bin/python playwright==1.65.2` "
    "(after `make install`); .ci/run does both."
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Generous for a 2-core CI machine, short enough to fail fast.
TIMEOUT_MS = 15_000


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is not installed"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    missing = _missing()
    if missing is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI runs the browser tests, but {missing}. {HOW_TO_ENABLE}")
    pytest.skip(f"{missing}. {HOW_TO_ENABLE}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app on a real port: sign-up gives points so a new account can publish."""
    server = LiveApp(
        tmp_path_factory.mktemp("live"),
        billing={"signup_points": 10_000},
        worker={"poll_interval_seconds": 0.2},
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def context(chromium: Browser, live: LiveApp) -> AsyncIterator[BrowserContext]:
    context = await chromium.new_context(
        base_url=live.url,
        viewport=DESKTOP,
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


async def screenshot(page: Page, name: str) -> None:
    """The page at desktop and phone widths, under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def sign_up(page: Page, email: str, password: str = "long enough pw") -> None:
    await page.goto("/dashboard/signup")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url("**/dashboard/start")


async def connect(page: Page, creator: str) -> str:
    """Connect TikTok through the sandbox's consent page, choosing ``creator`` (a nickname);
    the new account's tiktok_account_id."""
    await page.goto("/dashboard/accounts")
    await page.get_by_role("button", name="Connect TikTok").click()
    await page.wait_for_url("**/sandbox/**")
    await page.get_by_label(re.compile(rf"^\s*{re.escape(creator)}\b")).check()
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url("**/dashboard/accounts?connected=1")
    card = page.locator(".card", has_text=creator)
    account_id = await card.get_attribute("data-tiktok-account-id")
    assert account_id
    return account_id
