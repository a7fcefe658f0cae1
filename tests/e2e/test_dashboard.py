"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against `geocube-ingester up`:
sign in, follow the demo AOI live while a scene's product is missing, retry that scene with its button,
and watch the AOI reach DONE — waiting on the page's DOM, never on a clock.

GEOCUBE_UPDATE_SCREENSHOTS=1 writes the screenshots into docs/ (docs/dashboard.md shows them)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e import demo_stack
from tests.e2e.conftest import ROOT, Service
from tests.support.browser import WAIT_MS, chromium


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _screenshot_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return ROOT / "docs" / "images" if os.environ.get("GEOCUBE_UPDATE_SCREENSHOTS") == "1" else tmp_path


async def _sign_in(page: Page, token: str) -> None:
    await page.fill("#token", token)
    await page.click("#login button[type=submit]")


@pytest.mark.e2e
async def test_dashboard_follows_retries_and_finishes(
    tmp_path: pathlib.Path, pg_dsn: str, services: list[Service], browser: Browser
) -> None:
    stack = demo_stack.start(tmp_path, pg_dsn, services)
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    shots = _screenshot_dir(tmp_path)

    await page.goto(stack.url + "/ui")
    await expect(page.locator("#login")).to_be_visible()
    # A wrong token is refused and not kept; the right one opens the (still empty) AOI list.
    await _sign_in(page, "not-the-token")
    await expect(page.locator("#login-error")).to_have_text("The gateway refused this token.")
    await _sign_in(page, demo_stack.TOKEN)
    await expect(page.locator("#aoi-empty")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('geocube-ingester.token')") == demo_stack.TOKEN

    withheld = stack.post_with_missing_product()
    # The list refreshes by itself: the new AOI appears without a reload.
    entry = page.locator(f"#aoi-list li[data-aoi='{demo_stack.AOI}']")
    await entry.locator("a").click()
    detail = page.locator("#aoi")
    await expect(detail).to_have_attribute("data-status", "RETRY")
    scenes_row = page.locator("#counts tr[data-kind=scenes]")
    await expect(scenes_row.locator("td[data-status=DONE]")).to_have_text("1")
    await expect(scenes_row.locator("td[data-status=RETRY]")).to_have_text("1")
    failed = page.locator(f"#failed tr[data-kind=scene][data-status=RETRY]:has-text('{withheld}')")
    await expect(failed.locator("td.message")).to_contain_text("Product not found")
    # The map colours each footprint by its scene; the graph draws both scenes and their tiles.
    await expect(page.locator("#map path[data-status=DONE]")).to_have_count(1)
    await expect(page.locator("#map path[data-status=RETRY]")).to_have_count(1)
    await expect(page.locator("#graph g.node")).to_have_count(4)
    await expect(page.locator("#graph g.node[data-status=RETRY]")).to_have_count(1)
    await expect(entry).to_have_attribute("data-status", "RETRY")
    await page.screenshot(path=str(shots / "dashboard-retry.png"), full_page=True)

    # The product is back: the Retry button re-queues the download, and the page follows it to DONE.
    stack.restore_products()
    await failed.locator("button.retry").click()
    await expect(page.locator("#notice")).to_contain_text("retry accepted")
    await expect(detail).to_have_attribute("data-status", "DONE")
    tiles_row = page.locator("#counts tr[data-kind=tiles]")
    await expect(tiles_row.locator("td[data-status=DONE]")).to_have_text("2")
    await expect(page.locator("#failed-none")).to_be_visible()
    await expect(page.locator("#map path[data-status=DONE]")).to_have_count(2)
    await expect(page.locator("#graph g.node[data-status=DONE]")).to_have_count(4)
    await expect(page.locator("#tiles-done")).to_have_text("2/2 done")
    await page.screenshot(path=str(shots / "dashboard-done.png"), full_page=True)
    assert [s["status"] for s in stack.scenes()] == ["DONE", "DONE"]

    # Deleted from elsewhere: the page says so and stops following; the list empties.
    with stack.client() as client:
        assert client.delete(f"/aoi/{demo_stack.AOI}").status_code == 204
    await expect(page.locator("#notice")).to_have_text(f"AOI {demo_stack.AOI} no longer exists.")
    await expect(detail).to_have_attribute("data-status", "GONE")
    await expect(page.locator("#aoi-empty")).to_be_visible()

    # Everything the page loaded came from the gateway (no CDN), and the token never went into a URL.
    assert requests and all(url.startswith((stack.url + "/", "data:")) for url in requests)
    assert not [url for url in requests if demo_stack.TOKEN in url]
    assert errors == []
    await page.close()
