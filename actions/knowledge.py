"""Answering a question from the knowledge base (``data/kb``)."""

from __future__ import annotations

from typing import List, Sequence

from rasa_sdk.events import EventType

from actions.base import KesherAction, Turn
from actions.handoff import HandoffReason, offer_human
from actions.kb.search import SearchHit

__all__ = ["ActionAnswerFromKnowledgeBase", "answer_with_articles"]


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
        hits = await turn.backends.kb.search(turn.text, turn.language, limit=3)
        if not hits:
            return offer_human(turn, HandoffReason.KB_NO_ANSWER, "kb_nothing_found")
        answer_with_articles(turn, hits)
        return []
