"""The handoff-aware routing of every customer message, whatever the channel.

Channels (``connectors/``) turn a webhook into an :class:`InboundMessage` and
call :meth:`HandoffRouter.route`. In state ``bot`` the message goes to Rasa.
While queued or with an agent, it goes to the conversation's event stream,
where the agent console sees it; it never reaches the bot, then or later.
After a close, the router takes the satisfaction answer (1–5, then an
optional comment) and hands the conversation back to the bot.

During the handoff it also takes the customer's e-mail address when the bot
asked for one: a typed address is sent a one-time code, and the customer's
next message that is only six digits is taken as that code (it is checked,
not shown to the agent); "skip" leaves the address unverified, and nothing is
mailed to it. A customer told that their conversation continues on another
channel can answer "not me" on the first one to disconnect it. "Stop" (or
"הסר", "עצור") in any state opts the customer out of proactive notices
(``handoff.notices``) and is confirmed; it reaches neither the bot nor the agent.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional

from core.language import detect_language
from core.masking import mask_contacts, mask_sensitive
from core.service_events import EventKind as ServiceEventKind
from handoff.desk import MAX_MESSAGE_CHARS, Desk
from handoff.email_codes import looks_like_code
from handoff.models import Conversation, ConversationState, Event, EventKind
from handoff.notices import STOP_WORDS, NoticeService

__all__ = ["GIVE_UP_WORDS", "NOT_ME_WORDS", "HandoffRouter", "InboundMessage", "RouteResult"]

GIVE_UP_WORDS = frozenset({
    "cancel", "stop waiting", "never mind", "nevermind", "back to the bot", "back to bot", "/handoff_cancel",
    "ביטול", "בטל", "לבטל", "עזוב", "עזבי", "חזרה לבוט", "לא משנה",
})
_SKIP_WORDS = frozenset({"no", "nope", "skip", "no thanks", "לא", "לא תודה", "דלג", "אין"})
# The answer to "this conversation was just continued on ...": disconnect the channel that joined.
NOT_ME_WORDS = frozenset({"not me", "that was not me", "that wasn't me", "it wasn't me", "it was not me",
                          "לא אני", "זה לא אני", "זה לא הייתי אני"})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")


@dataclass
class InboundMessage:
    """One customer message, whatever channel it came from.

    Attributes:
        cid: Conversation id (Rasa's sender id); the channel base fills it in from ``address``.
        channel: Channel name (:data:`core.channels.CHANNELS`).
        text: What the customer wrote (a button's payload for button presses).
        message_id: The provider's id (deduplication), or a fresh one.
        address: The customer's address on the channel (phone, chat id, web session).
        media: Images, voice notes or files sent with it: ``{"url", "content_type"}`` each.
        metadata: Channel-specific extras passed on to Rasa.
    """

    cid: str
    channel: str
    text: str
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    address: str = ""
    media: List[Dict[str, str]] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteResult:
    """Where a message went.

    Attributes:
        to_bot: The channel must hand the message to Rasa.
        state: The conversation's state after routing.
        event_id: The stream id of the customer event, when it went to the agent side.
    """

    to_bot: bool
    state: ConversationState
    event_id: str = ""


class HandoffRouter:
    """Routes customer messages by handoff state (see the module docstring)."""

    def __init__(self, desk: Desk, clock: Callable[[], float] = time.time,
                 notices: Optional[NoticeService] = None) -> None:
        """Keeps the desk.

        Args:
            desk: The help desk (store, policy, e-mail queue).
            clock: Epoch seconds.
            notices: Takes "stop" (no more proactive notices); None: "stop" is an ordinary message.
        """
        self.desk = desk
        self.notices = notices
        self.store = desk.store
        self.texts = desk.texts
        self.clock = clock

    async def route(self, msg: InboundMessage) -> RouteResult:
        """Decides where ``msg`` goes and does the handoff side of it."""
        if self.notices is not None and _normal(msg.text) in STOP_WORDS:
            conv = await self.store.get(msg.cid)
            language = detect_language(msg.text, conv.language if conv else "en") or "en"
            await self.notices.opt_out(msg.cid, msg.channel, language)
            return RouteResult(False, conv.state if conv else ConversationState.BOT)
        if _normal(msg.text) in NOT_ME_WORDS:
            conv = await self.store.get(msg.cid)
            language = detect_language(msg.text, conv.language if conv else "en") or "en"
            if await self.desk.undo_link(msg.cid, msg.channel, language):
                return RouteResult(False, conv.state if conv else ConversationState.BOT)
        conv = await self.store.get(msg.cid)
        if conv is None or conv.state is ConversationState.BOT:
            return RouteResult(True, ConversationState.BOT)
        if msg.channel and msg.channel != conv.channel:
            conv = await self._moved(conv, msg.channel)
        if conv.state is ConversationState.CLOSED:
            return await self._after_close(conv, msg)
        if conv.state is ConversationState.QUEUED and _normal(msg.text) in GIVE_UP_WORDS:
            result = await self.store.give_up(msg.cid)
            if result.ok:
                text = self.texts.text("gave_up", conv.language, reference=conv.reference)
                await self.store.tell_customer(conv, text)
                await self.store.record(ServiceEventKind.ABANDONED, conv, reason="gave_up", topic=conv.topic,
                                        value=max(0.0, self.clock() - (conv.queued_at or conv.requested_at)))
                await self.store.record(ServiceEventKind.RETURNED_TO_BOT, conv, reason="gave_up")
                return RouteResult(False, ConversationState.BOT)
            conv = await self.store.get(msg.cid) or conv  # taken meanwhile: the agent gets it
        asking_email = conv.in_handoff and conv.email_requested and not conv.email
        if asking_email and await self._email_answer(conv, msg):
            return RouteResult(False, conv.state)
        event_id = await self._to_agent(conv, msg)
        if asking_email:
            found = _EMAIL.search(msg.text)
            if found:
                await self.desk.offer_email(conv.cid, found.group(0))
        return RouteResult(False, conv.state, event_id)

    async def _email_answer(self, conv: Conversation, msg: InboundMessage) -> bool:
        """Takes a code, or "skip", while a code is pending; True when the message was that."""
        code = looks_like_code(msg.text)
        skip = _normal(msg.text) in _SKIP_WORDS
        if not (code or skip) or not await self.desk.waiting_for_code(conv.cid):
            return False
        if code:
            await self.desk.check_email_code(conv.cid, code)
        else:
            await self.desk.skip_email(conv.cid)
        return True

    async def _moved(self, conv: Conversation, channel: str) -> Conversation:
        """The customer writes from another (linked) channel: answers follow them there."""
        await self.store.update(conv.cid, channel=channel)
        if conv.state is not ConversationState.CLOSED:
            note = self.texts.text("agent_note_channel", "en", channel=channel)
            await self.store.add_event(conv.cid, Event(kind=EventKind.NOTE, text=note, author="kesher",
                                                       author_name="Kesher", data={"channel": channel}))
        return replace(conv, channel=channel)

    async def _to_agent(self, conv: Conversation, msg: InboundMessage) -> str:
        text = msg.text if len(msg.text) <= MAX_MESSAGE_CHARS else msg.text[:MAX_MESSAGE_CHARS] + " […]"
        data: Dict[str, Any] = {"channel": msg.channel, "language": detect_language(msg.text, conv.language)}
        if msg.media:
            data["media"] = msg.media
        event = Event(kind=EventKind.CUSTOMER, text=text, author="customer", message_id=msg.message_id, data=data)
        return await self.store.add_event(conv.cid, event)

    async def _after_close(self, conv: Conversation, msg: InboundMessage) -> RouteResult:
        timeout = self.desk.policy.csat_timeout_minutes * 60
        stage = conv.csat_stage
        if stage not in ("rating", "comment") or self.clock() - conv.closed_at > timeout:
            if stage == "comment" and conv.csat_rating:
                await self._record_csat(conv, "")  # rated, and did not comment in time
            await self._resume(conv, "csat_skipped")
            return RouteResult(True, ConversationState.BOT)
        if stage == "rating":
            match = _RATING.match(msg.text.replace("⭐", ""))
            if not match:
                # Not an answer to the question: the customer moved on; the bot takes it.
                await self._resume(conv, "csat_skipped")
                return RouteResult(True, ConversationState.BOT)
            await self.store.update(conv.cid, csat_rating=int(match.group(1)), csat_stage="comment")
            await self.store.tell_customer(conv, self.texts.text("csat_comment", conv.language))
            return RouteResult(False, ConversationState.CLOSED)
        comment = "" if _normal(msg.text) in _SKIP_WORDS else msg.text.strip()[:MAX_MESSAGE_CHARS]
        await self.store.update(conv.cid, csat_comment=comment, csat_stage="done")
        await self._record_csat(conv, comment)
        await self._resume(conv, "csat_done")
        await self.store.tell_customer(conv, self.texts.text("csat_thanks", conv.language))
        # The rating is kept with the conversation in Redis whether or not Rasa takes it.
        await self.desk.set_bot_slots(conv.cid, {"handoff_csat": conv.csat_rating})
        return RouteResult(False, ConversationState.BOT)

    async def _resume(self, conv: Conversation, why: str) -> None:
        if (await self.store.resume(conv.cid, why)).ok:
            await self.store.record(ServiceEventKind.RETURNED_TO_BOT, conv, reason=why)

    async def _record_csat(self, conv: Conversation, comment: str) -> None:
        # The event log keeps the comment masked, like the conversation's events.
        await self.store.record(ServiceEventKind.CSAT, conv, value=float(conv.csat_rating), reason="agent",
                                agent=conv.agent_id, team=self.desk.team_for(conv, conv.agent_id), topic=conv.topic,
                                text=mask_contacts(mask_sensitive(comment)) if comment else "")


def _normal(text: str) -> str:
    return " ".join(text.strip().lower().strip(".!?").split())

