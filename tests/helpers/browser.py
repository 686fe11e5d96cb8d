"""Headless Chromium (Debian's package) driven by Playwright, for every web page's tests.

Outside CI a machine without Debian's chromium skips the browser tests, saying
why. Where the environment variable ``CI`` is set (``make test`` in CI), a
missing browser is a failure: a browser test must never pass there by not running.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
MISSING = "needs Debian's chromium at /usr/bin/chromium (`make test` installs it)"


def in_ci() -> bool:
    """True where the environment says this run is CI (``CI`` set to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> None:
    """Fails the test in CI, or skips it elsewhere, when Debian's chromium is not installed."""
    if CHROMIUM.exists():
        return
    if in_ci():
        pytest.fail(f"CI is set and chromium is missing: the browser tests cannot run; {MISSING}", pytrace=False)
    pytest.skip(MISSING)


def may_skip() -> bool:
    """True where the browser tests are skipped: chromium is missing and this is not CI."""
    return not CHROMIUM.exists() and not in_ci()


needs_chromium = pytest.mark.skipif(may_skip(), reason=MISSING)
"""Marks a test (or a module, as ``pytestmark``) that drives Chromium: skipped without it outside CI.

In CI the mark never skips: the test runs and :func:`chromium` fails it with the reason.
"""


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (``playwright install`` cannot download browsers here; root needs --no-sandbox)."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        try:
            yield browser
        finally:
            await browser.close()
