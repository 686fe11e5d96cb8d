"""One voice in Hebrew: no slash forms for the reader's gender, and no Hebrew text that starts with a Latin word.

Kesher addresses customers in the gender-neutral plural and infinitive ("כתבו
כאן", "אפשר לכתוב"), so a word written with its feminine ending after a slash
(the masculine form, a slash, the ending) is a ``hebrew-slash-form`` error. A
Hebrew text whose first word is in Latin letters ("Kesher Shop שמח...") is
laid out left to right by every channel, so that is a
``hebrew-starts-latin`` error: write a Hebrew word first, or put a name or code
in a ``{placeholder}``. The shop's name is ``{brand}`` ("חנות קשר"): a bare
"קשר" used as the shop's name ("של קשר", "צוות קשר") reads as the noun
"contact", and "Kesher" in Latin letters breaks the line, so either is a
``hebrew-bare-brand`` error ("מועדון קשר", the customer club's own name, and
the noun itself, "ליצור קשר", pass). All three apply to the text catalog
(texts, buttons, canned replies' titles), to the domain's responses and to the
Hebrew help-centre articles (``data/kb/he/*.md``: the title and each line).
"""

from __future__ import annotations

import re
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from core.language import is_hebrew
from writers.checks.base import ERROR, Finding, Options, quote
from writers.checks.kb import front_matter
from writers.project import Project, item_line, key_line, response_language

__all__ = ["bare_brand", "check_voice", "latin_start", "slash_forms"]

_LETTERS = "\u05d0-\u05ea"
# A Hebrew word, a slash, Hebrew letters: a masculine form and its feminine ending or form after a slash.
# "ו/או" (and/or) is not a gender form.
_SLASH = re.compile(rf"(?<![{_LETTERS}])(?!ו/או(?![{_LETTERS}]))[{_LETTERS}\u05f3']+\s?/\s?[{_LETTERS}]+")
# What may come before a text's first word without being one: spaces, direction marks, punctuation, emoji.
_LEAD = re.compile(r"[\s\u200e\u200f\u2066-\u2069\"'“”„«»()\[\]*_#>\-–—•·.,:;!?\u2600-\u27bf\U0001f000-\U0001faff]*")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*")
# The shop named by "קשר" alone after a word that takes a name ("של קשר", "צוות קשר"), or in Latin letters.
_BARE_BRAND = re.compile(
    rf"(?<![{_LETTERS}])(?:של|צוות|אתר|סניף|סניפי|חנויות|אפליקציית|לקוחות)\s+קשר(?![{_LETTERS}])"
    r"|\bKesher(?:\s+Shop)?\b")
_TITLE = re.compile(r"^title:\s*(.*?)\s*$")


def slash_forms(text: str) -> List[str]:
    """The slash forms in a Hebrew text (a word with its feminine ending after a slash), in order."""
    return [m.group(0) for m in _SLASH.finditer(_PLACEHOLDER.sub(" ", text))]


def bare_brand(text: str) -> List[str]:
    """Where a Hebrew text names the shop without ``{brand}`` ("של קשר", "Kesher Shop"), in order."""
    return [m.group(0) for m in _BARE_BRAND.finditer(_PLACEHOLDER.sub(" ", text))]


def latin_start(text: str) -> Optional[str]:
    """The Latin word a Hebrew text starts with, or None (a ``{placeholder}`` first is fine)."""
    lead = _LEAD.match(text)
    rest = text[lead.end():] if lead else text
    if rest.startswith("{"):
        return None
    word = _LATIN_WORD.match(rest)
    return word.group(0) if word else None


def _findings(what: str, text: str, path: str, line: int) -> List[Finding]:
    found: List[Finding] = []
    for form in slash_forms(text):
        found.append(Finding(
            "hebrew-slash-form", ERROR, path, line,
            f"the Hebrew text of {what} addresses the reader with the slash form \"{form}\" ({quote(text)}); "
            "write to customers in the plural or the infinitive (\"כתבו\", \"אפשר לכתוב\", \"בודקים\"), and of "
            "agents in a neutral form (see \"One voice\" in docs/writing.md)",
        ))
    # A text without Hebrew letters is the language check's finding (missing-language-variation), not this one's.
    word = latin_start(text) if is_hebrew(text) else None
    if word:
        found.append(Finding(
            "hebrew-starts-latin", ERROR, path, line,
            f"the Hebrew text of {what} starts with the Latin word \"{word}\" ({quote(text)}), so channels lay "
            "the whole line out left to right; start with a Hebrew word, use the Hebrew name (\"חנות קשר\", "
            "\"דואר ישראל\"), or put a name or code in a {placeholder}",
        ))
    for name in bare_brand(text):
        found.append(Finding(
            "hebrew-bare-brand", ERROR, path, line,
            f"the Hebrew text of {what} names the shop \"{name}\" ({quote(text)}); \"קשר\" alone reads as the noun "
            "\"contact\" and the Latin name breaks the line: write {brand} in the catalog and the responses, "
            "\"חנות קשר\" in an article (see \"One voice\" in docs/writing.md)",
        ))
    return found


def _catalog_texts(project: Project) -> Iterator[Tuple[str, str, str, int]]:
    """(what, Hebrew text, path, line) for every Hebrew text, button and title of the catalog."""
    for entry in project.text_entries:
        if not isinstance(entry.value, Mapping) or "he" not in entry.value:
            continue
        raw = entry.value["he"]
        base = key_line(entry.value, "he", entry.line)
        items: List[Tuple[Any, int]] = (
            [(item, item_line(raw, i, base)) for i, item in enumerate(raw)] if isinstance(raw, list) else [(raw, base)])
        what = f"text `{entry.key}`"
        for item, line in items:
            if isinstance(item, str):
                yield what, item, entry.path, line
            elif isinstance(item, Mapping):
                for field in ("text", "title"):
                    if isinstance(item.get(field), str):
                        yield what, item[field], entry.path, key_line(item, field, line)
                for index, button in enumerate(item.get("buttons") or []):
                    if isinstance(button, Mapping) and isinstance(button.get("title"), str):
                        yield f"a button of {what}", button["title"], entry.path, item_line(
                            item.get("buttons"), index, line)


def _response_texts(project: Project) -> Iterator[Tuple[str, str, str, int]]:
    """(what, Hebrew text, path, line) for every Hebrew response text and button title."""
    for name, loc in project.domain.responses.items():
        variations = project.domain.variations.get(name)
        for index, variation in enumerate(variations if isinstance(variations, list) else []):
            if not isinstance(variation, Mapping) or response_language(variation) != "he":
                continue
            line = item_line(variations, index, loc.line)
            if isinstance(variation.get("text"), str):
                yield f"response `{name}`", variation["text"], loc.path, line
            buttons = variation.get("buttons")
            for b_index, button in enumerate(buttons if isinstance(buttons, list) else []):
                if isinstance(button, Mapping) and isinstance(button.get("title"), str):
                    yield f"a button of response `{name}`", button["title"], loc.path, item_line(buttons, b_index, line)


def _article_texts(project: Project) -> Iterator[Tuple[str, str, str, int]]:
    """(what, Hebrew text, path, line) for the title and every line of each Hebrew help-centre article."""
    for slug, path in project.kb_articles.get("he", {}).items():
        try:
            head, body, body_line = front_matter(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue  # the kb check says so
        rel, what = project.rel(path), f"article `{slug}`"
        for index, raw in enumerate(head or []):
            title = _TITLE.match(raw)
            if title:
                yield what, title.group(1).strip("\"'"), rel, index + 2
        for index, raw in enumerate(body):
            if raw.strip():
                yield what, raw, rel, body_line + index


def check_voice(project: Project, options: Options) -> List[Finding]:
    """``hebrew-slash-form``, ``hebrew-starts-latin`` and ``hebrew-bare-brand`` in every Hebrew text.

    The catalog's texts, the responses and the Hebrew help-centre articles.
    """
    findings: List[Finding] = []
    for what, text, path, line in [*_catalog_texts(project), *_response_texts(project), *_article_texts(project)]:
        findings += _findings(what, text, path, line)
    return findings
