"""Shared by the response and text checks: a text is really written in its language, and so are its buttons."""

from __future__ import annotations

import re
from typing import Any, List, Mapping

from core.language import is_hebrew
from writers.checks.base import ERROR, LANGUAGE_NAMES, WARNING, Finding, quote
from writers.project import item_line

__all__ = ["HEBREW", "button_findings", "text_language_findings"]

HEBREW = re.compile(r"[\u0590-\u05ff]")
# What is code rather than words in a text: an argument's name ({name}, {n, plural,) and a plural's selectors.
_CODE = re.compile(r"\{\s*[A-Za-z_]\w*\s*(?:,\s*plural\s*,)?|(?:=\d+|\b(?:zero|one|two|few|many|other))\s*\{")
_LETTER = re.compile(r"[^\W\d_]")


def _has_words(text: str) -> bool:
    """Whether a text has letters besides its arguments (a number, an emoji or ``{name}`` alone has no language)."""
    return bool(_LETTER.search(_CODE.sub(" ", text)))


def text_language_findings(what: str, language: str, text: str, path: str, line: int) -> List[Finding]:
    """The text is really in its language: Hebrew letters in Hebrew, none in English."""
    if language == "he" and not is_hebrew(text) and _has_words(text):
        return [Finding(
            "missing-language-variation", ERROR, path, line,
            f"the Hebrew text of {what} has no Hebrew letters ({quote(text)}); write it in Hebrew: customers "
            "who write in Hebrew get this text",
        )]
    if language == "en" and HEBREW.search(text):
        return [Finding(
            "missing-language-variation", WARNING, path, line,
            f"the English text of {what} contains Hebrew ({quote(text)}); make sure it is not the Hebrew "
            "text in the English place, and translate it",
        )]
    return []


def button_findings(what: str, language: str, buttons: Any, path: str, line: int) -> List[Finding]:
    """Each button has a title, written in its language (a title in the wrong language is a warning)."""
    findings: List[Finding] = []
    for index, button in enumerate(buttons if isinstance(buttons, list) else []):
        if not isinstance(button, Mapping):
            continue
        title = str(button.get("title") or "")
        button_line = item_line(buttons, index, line)
        if not title.strip():
            findings.append(Finding(
                "empty-text", ERROR, path, button_line,
                f"a {LANGUAGE_NAMES[language]} button of {what} has no title; write the `title:` customers see",
            ))
        elif language == "he" and not is_hebrew(title) and _has_words(title):
            findings.append(Finding(
                "missing-language-variation", WARNING, path, button_line,
                f"the Hebrew button {quote(title)} of {what} has no Hebrew letters; translate its title",
            ))
        elif language == "en" and HEBREW.search(title):
            findings.append(Finding(
                "missing-language-variation", WARNING, path, button_line,
                f"the English button {quote(title)} of {what} contains Hebrew; translate its title",
            ))
    return findings
