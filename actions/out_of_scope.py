"""A question that seems outside the shop's business: check the help centre first."""

from __future__ import annotations

from typing import List

from rasa_sdk.events import EventType

from actions.base import KesherAction, Turn
from actions.fallback import consecutive_misses
from actions.handoff import HandoffReason, escalate
from actions.knowledge import answer_with_articles, find_articles
from handoff.policy import Trigger

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
        """Article, the out-of-scope reply, or (said again and again) a human."""
        hits = await find_articles(turn, limit=1, min_score=OUT_OF_SCOPE_MIN_SCORE)
        if hits:
            answer_with_articles(turn, hits)
            return []
        rule = turn.backends.policy.rule(Trigger.REPEATED_OUT_OF_SCOPE)
        if rule.enabled and consecutive_misses(turn.tracker) >= rule.count:
            return await escalate(turn, HandoffReason.OUT_OF_SCOPE, "out_of_scope_offer_human")
        turn.say("out_of_scope")
        return []
