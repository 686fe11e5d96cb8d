"""Whether the NLU found an article's words cover the customer's question (``bot/components/article_coverage.py``).

The NLU writes, for a message the help centre will answer, each article's coverage of the message's words and
the digest of the article it measured, under ``article_coverage`` in the parse data. An article under the bar
does not answer the question (it is on the topic but does not say what was asked); an article the model did not
measure, or measured in another version (edited since the model was trained), is not judged here.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from core.articles import Article

__all__ = ["PROPERTY", "covers"]

PROPERTY = "article_coverage"


def covers(parse_data: Optional[Mapping[str, Any]], article: Article) -> bool:
    """False only when the NLU measured this very article and found it does not cover the question.

    Args:
        parse_data: The latest message's parse data (``tracker.latest_message``).
        article: An article the knowledge base found for it.
    """
    found = (parse_data or {}).get(PROPERTY)
    if not isinstance(found, Mapping):
        return True
    entry = (found.get("articles") or {}).get(article.key)
    if not isinstance(entry, (list, tuple)) or len(entry) != 2 or entry[1] != article.digest:
        return True
    try:
        return float(entry[0]) >= float(found.get("min_coverage") or 0.0)
    except (TypeError, ValueError):
        return True
