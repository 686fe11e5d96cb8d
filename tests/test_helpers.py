"""The rules the test helpers enforce: waiting names what never happened; CI never skips the browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import browser
from tests.helpers.waiting import until, until_sync


async def test_until_returns_what_the_condition_found_and_names_what_never_happened() -> None:
    calls = []

    async def third_time() -> list[int]:
        calls.append(1)
        return calls if len(calls) == 3 else []

    assert await until(third_time, what="three calls") == [1, 1, 1]
    with pytest.raises(AssertionError, match="waiting for the moon to answer"):
        await until(lambda: 0, what="the moon to answer", timeout=0.05)
    with pytest.raises(AssertionError, match="waiting for a reply"):
        until_sync(lambda: "", what="a reply", timeout=0.05)


@pytest.mark.parametrize(("ci", "outcome"), [("1", pytest.fail.Exception), ("true", pytest.fail.Exception),
                                              ("", pytest.skip.Exception), ("0", pytest.skip.Exception)])
def test_a_missing_chromium_fails_in_ci_and_is_skipped_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", ci)
    assert browser.may_skip() is (outcome is pytest.skip.Exception)
    with pytest.raises(outcome, match="chromium"):
        browser.require_chromium()


def test_with_chromium_installed_nothing_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    present = tmp_path / "chromium"
    present.touch()
    monkeypatch.setattr(browser, "CHROMIUM", present)
    monkeypatch.setenv("CI", "")
    assert not browser.may_skip()
    browser.require_chromium()
