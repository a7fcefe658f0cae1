"""Debian's headless Chromium driven by Playwright, for the dashboard tests (never `playwright install`:
it downloads a browser build, and the machine reaches no such host)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
# No GPU, no sandbox (root in a container), and nothing that phones home: the only traffic is loopback.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Playwright's waits: how long a DOM condition may take before the test fails (the bound only keeps a
# broken page from hanging the suite).
WAIT_MS = 120_000


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            await browser.close()
