"""Headless Chromium (Debian's package) driven by Playwright, for every web page's tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (`make test` installs it)"
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (``playwright install`` cannot download browsers here; root needs --no-sandbox)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        try:
            yield browser
        finally:
            await browser.close()
