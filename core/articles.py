"""Knowledge-base articles: Markdown files with YAML front matter, one per language.

``data/kb/en/<slug>.md`` and ``data/kb/he/<slug>.md`` are the same article in two
languages. Front matter holds ``title``, ``tags`` and ``url``; the first
paragraph of the body is the article's summary.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from core.language import LANGUAGES

__all__ = ["Article", "ArticleError", "load_articles", "parse_article", "plain_text"]

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.DOTALL)


class ArticleError(ValueError):
    """An article file that cannot be used, with the file named."""


@dataclass(frozen=True)
class Article:
    """One article in one language."""

    slug: str
    language: str
    title: str
    tags: Tuple[str, ...]
    url: str
    body: str

    @property
    def paragraphs(self) -> List[str]:
        """The body as plain-text paragraphs (Markdown marks removed)."""
        return [p for p in (plain_text(block) for block in re.split(r"\n\s*\n", self.body)) if p]

    @property
    def summary(self) -> str:
        """The first paragraph: the article's short answer."""
        paragraphs = self.paragraphs
        return paragraphs[0] if paragraphs else ""

    @property
    def key(self) -> str:
        """``<language>/<slug>``: the article in one language."""
        return f"{self.language}/{self.slug}"

    @property
    def passages(self) -> List[str]:
        """What the article says, as a reader takes it in: the title, the tags, then each paragraph."""
        return [self.title, ", ".join(self.tags), *self.paragraphs]

    @property
    def digest(self) -> str:
        """A short hash of the article's words: tells whether two copies of it say the same."""
        words = "\n".join([self.language, self.slug, *self.passages])
        return hashlib.sha256(words.encode("utf-8")).hexdigest()[:12]


def plain_text(markdown: str) -> str:
    """Strips the Markdown a chat message cannot show (headings, emphasis, links)."""
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", markdown, flags=re.MULTILINE)
    text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_`]{1,3}", "", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_article(path: Path, language: str) -> Article:
    """Reads one article file.

    Args:
        path: ``<kb>/<language>/<slug>.md``.
        language: ``"he"`` or ``"en"``.

    Raises:
        ArticleError: Missing or malformed front matter, or a missing field.
    """
    text = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise ArticleError(f"{path}: no front matter (a '---' block at the top)")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(f"{path}: front matter is not valid YAML: {exc}") from exc
    missing = [key for key in ("title", "tags", "url") if not meta.get(key)]
    if missing:
        raise ArticleError(f"{path}: front matter lacks {', '.join(missing)}")
    if not isinstance(meta["tags"], list):
        raise ArticleError(f"{path}: tags must be a list")
    return Article(
        slug=path.stem,
        language=language,
        title=str(meta["title"]),
        tags=tuple(str(t) for t in meta["tags"]),
        url=str(meta["url"]),
        body=match.group(2).strip(),
    )


def load_articles(kb_dir: Path) -> Dict[str, List[Article]]:
    """Loads every article of every language (blocking file I/O).

    Args:
        kb_dir: Folder holding ``he/`` and ``en/``.

    Returns:
        Articles by language, sorted by slug.
    """
    return {
        language: [parse_article(p, language) for p in sorted((kb_dir / language).glob("*.md"))]
        for language in LANGUAGES
    }
