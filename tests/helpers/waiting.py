"""Waiting on a condition instead of sleeping: the one poll loop the tests share.

A test never sleeps for a fixed time. It waits until what it expects is
observable (:func:`until` in async tests, :func:`until_sync` in sync ones), and
fails with a message naming what never happened. To check that something does
*not* arrive, a test sends a marker after it and waits for the marker instead.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Awaitable, Callable, TypeVar, Union, overload

T = TypeVar("T")

POLL_SECONDS = 0.02


def _shown(value: object, limit: int = 500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


@overload
async def until(
    condition: Callable[[], Awaitable[T]], *, what: str, timeout: float = ..., every: float = ...  # noqa: ASYNC109
) -> T: ...


@overload
async def until(
    condition: Callable[[], T], *, what: str, timeout: float = ..., every: float = ...  # noqa: ASYNC109
) -> T: ...


async def until(
    condition: Callable[[], Union[T, Awaitable[T]]],
    *,
    what: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for the polling, not for one awaited call
    every: float = POLL_SECONDS,
) -> T:
    """Polls ``condition`` (sync or async) until it returns something truthy, and returns that.

    Args:
        condition: What to check; called again every ``every`` seconds.
        what: What the test waits for, in words (the failure message names it).
        timeout: Seconds before giving up.
        every: Seconds between two checks.

    Returns:
        The first truthy value ``condition`` returned.

    Raises:
        AssertionError: ``timeout`` passed first; the message names ``what`` and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        checked = condition()
        # an async condition gives an awaitable of T, a sync one gives T itself
        value: T = await checked if inspect.isawaitable(checked) else checked
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {_shown(value)}")
        await asyncio.sleep(every)


def until_sync(condition: Callable[[], T], *, what: str, timeout: float = 10.0, every: float = POLL_SECONDS) -> T:
    """:func:`until` for sync tests and helpers (it blocks the calling thread while it waits).

    Args:
        condition: What to check; called again every ``every`` seconds.
        what: What the test waits for, in words.
        timeout: Seconds before giving up.
        every: Seconds between two checks.

    Returns:
        The first truthy value ``condition`` returned.

    Raises:
        AssertionError: ``timeout`` passed first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {_shown(value)}")
        time.sleep(every)
