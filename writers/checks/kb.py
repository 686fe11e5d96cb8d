"""``kb-article-unpaired`` and ``kb-front-matter``: help-centre articles in both languages, front matter complete."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple
from urllib.parse import urlparse

import yaml

from core.language import LANGUAGES, is_hebrew
from writers.checks.base import ERROR, LANGUAGE_NAMES, WARNING, Finding, Options
from writers.checks.bilingual import HEBREW
from writers.project import Project, YamlMap, load_yaml

__all__ = ["check_kb", "front_matter"]


def front_matter(text: str) -> Tuple[Optional[List[str]], List[str], int]:
    """Splits an article into front-matter lines, body lines, and the body's first line (1-based)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, lines, 1
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return lines[1:index], lines[index + 1:], index + 2
    return None, [], 0


def _article_findings(project: Project, language: str, path: Path) -> List[Finding]:
    rel = project.rel(path)
    slug = path.stem

    def finding(line: int, message: str) -> Finding:
        return Finding("kb-front-matter", ERROR, rel, line, f"article `{slug}` ({LANGUAGE_NAMES[language]}): {message}")

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [finding(1, "the file is not UTF-8 text; save it as UTF-8")]
    head, body, body_line = front_matter(text)
    if head is None:
        if body_line == 0:
            return [finding(1, "the front matter is not closed; add a line with just `---` after its last line")]
        return [finding(1, "no front matter; start the file with a `---` line, then `title:`, `tags:` and "
                           "`url:` lines, then another `---` line (see any other article)")]
    try:
        meta, _ = load_yaml("\n".join(head))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 1
        return [finding(line, f"the front matter is not valid YAML ({exc.problem}); check the quotes and brackets "
                              "(write tags as `[one, two]` and put a title with `:` in quotes)")]
    if not isinstance(meta, YamlMap):
        return [finding(2, "the front matter should be `title:`, `tags:` and `url:` lines")]
    findings: List[Finding] = []

    def key_line(key: str) -> int:
        return meta.line_of(key) + 1 if key in meta else 1  # the front matter starts on line 2

    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        findings.append(finding(key_line("title"), "`title:` is missing or empty; write the article's title"))
    tags = meta.get("tags")
    if not isinstance(tags, list) or not tags or not all(str(t or "").strip() for t in tags):
        findings.append(finding(key_line("tags"), "`tags:` must be a non-empty list of words customers use, "
                                                  "e.g. `tags: [delivery, courier, tracking]`"))
    url = meta.get("url")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        findings.append(finding(key_line("url"), "`url:` must be the article's web address, starting with "
                                                 "https:// (the bot sends it as \"read more\")"))
    if not "\n".join(body).strip():
        findings.append(finding(body_line, "the article has no text after the front matter; write it below "
                                           "the second `---` line"))
    words = " ".join([str(title or ""), *(str(t) for t in (tags if isinstance(tags, list) else [])), *body])
    if language == "he" and not is_hebrew(words):
        findings.append(Finding("missing-language-variation", ERROR, rel, 1,
                                f"the Hebrew article `{slug}` has no Hebrew text; translate its title, tags and text"))
    if language == "en" and isinstance(title, str) and HEBREW.search(title):
        findings.append(Finding("missing-language-variation", WARNING, rel, key_line("title"),
                                f"the English article `{slug}` has Hebrew in its title; translate it"))
    return findings


def check_kb(project: Project, options: Options) -> List[Finding]:
    """``kb-article-unpaired`` (an article in one language only) and ``kb-front-matter``."""
    findings: List[Finding] = []
    articles = project.kb_articles
    for language in LANGUAGES:
        other = "en" if language == "he" else "he"
        for slug, path in articles[language].items():
            if slug not in articles[other]:
                rel = project.rel(path)
                target = project.rel(project.kb_path / other / f"{slug}.md")
                findings.append(Finding(
                    "kb-article-unpaired", ERROR, rel, 1,
                    f"help-centre article `{slug}` is in {LANGUAGE_NAMES[language]} only; add its "
                    f"{LANGUAGE_NAMES[other]} translation as {target} (the same file name), or delete {rel}",
                ))
            findings += _article_findings(project, language, path)
    return findings
