"""Answering a question from the knowledge base (``data/kb``)."""

from __future__ import annotations

from typing import List, Sequence

from rasa_sdk.events import EventType

from actions.base import KesherAction, Turn
from actions.handoff import HandoffReason, offer_human
from actions.kb.coverage import covers
from actions.kb.search import SearchHit

__all__ = ["KB_QUESTION_MIN_SCORE", "ActionAnswerFromKnowledgeBase", "answer_with_articles", "find_articles"]

# A help-centre question ("kb_question") gets an article only from this score up, a
# little above the knowledge base's own bar (0.18): on the validation half of
# bench/data/near_domain (2026-11-30, docs/benchmarks.md "Near-domain questions")
# 0.26 cut the questions the shop cannot answer that got an unrelated article from
# 7.7 % to 5.1 % in each language and lost none of the articles answered right;
# 0.30 and above began to lose right Hebrew articles.
KB_QUESTION_MIN_SCORE = 0.26


async def find_articles(turn: Turn, limit: int, min_score: float) -> List[SearchHit]:
    """The articles that answer the customer's latest message, best first; empty when none does.

    The knowledge base ranks them by their words; an article the NLU found does not cover the question's
    words (:func:`actions.kb.coverage.covers`) is left out, and when that is the best one, none is shown:
    the runners-up ranked lower still on the question's own words.
    """
    hits = await turn.backends.kb.search(turn.text, turn.language, limit=limit, min_score=min_score)
    parse_data = turn.tracker.latest_message
    if hits and not covers(parse_data, hits[0].article):
        return []
    return [hit for hit in hits if covers(parse_data, hit.article)]


def answer_with_articles(turn: Turn, hits: Sequence[SearchHit]) -> None:
    """Shows the best article (title, snippet, link) and names the runners-up."""
    best = hits[0]
    turn.say(
        "kb_answer", title=best.article.title, snippet=best.snippet, url=best.article.url
    )
    if len(hits) > 1:
        links = "\n".join(f"• {hit.article.title} – {hit.article.url}" for hit in hits[1:])
        turn.say("kb_related", links=links)


class ActionAnswerFromKnowledgeBase(KesherAction):
    """Finds the articles that answer the customer's question, in their language."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_kb_answer"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Answers with the best article, or says nothing matched and offers a human."""
        hits = await find_articles(turn, limit=3, min_score=KB_QUESTION_MIN_SCORE)
        if not hits:
            return offer_human(turn, HandoffReason.KB_NO_ANSWER, "kb_nothing_found")
        answer_with_articles(turn, hits)
        return []
