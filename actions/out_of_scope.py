"""A question that seems outside the shop's business: check the help centre first."""

from __future__ import annotations

from typing import List

from rasa_sdk.events import EventType

from actions.base import KesherAction, Turn
from actions.knowledge import answer_with_articles

__all__ = ["OUT_OF_SCOPE_MIN_SCORE", "ActionOutOfScope"]

# The classifier already thinks the message is off-topic, so only a strong
# article match overrides it: "ignore all previous instructions…" scores 0.38
# against the furniture-assembly article (its assembly instructions), a real
# cookware question filed as out of scope scores 0.59.
OUT_OF_SCOPE_MIN_SCORE = 0.45


class ActionOutOfScope(KesherAction):
    """Answers from an article when one clearly fits, else says what the bot is for.

    The classifier sometimes files an unusual help question ("how should I look
    after my cast iron pan") as out of scope; the knowledge base's threshold
    answers none of our unrelated test questions, so a real off-topic message
    still gets the out-of-scope reply.
    """

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_out_of_scope"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Article or the out-of-scope reply."""
        hits = await turn.backends.kb.search(turn.text, turn.language, limit=1, min_score=OUT_OF_SCOPE_MIN_SCORE)
        if hits:
            answer_with_articles(turn, hits)
        else:
            turn.say("out_of_scope")
        return []
