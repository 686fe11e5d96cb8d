"""The help desk: every handoff operation of customers, agents and the bot.

The console's routes, the assigner and the action server all go through
:class:`Desk`, which combines the atomic state store with the policy (wait
estimates, business hours), tells the customer what changed in their
language, queues the e-mails and writes the outcome back into Rasa.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Callable, Dict, List, Optional, Protocol

from core.errors import Conflict, InvalidInput, NotAllowed, NotFound, TooLarge, Unavailable
from core.language import as_language
from core.masking import mask_contacts
from core.service_events import EventKind as ServiceEventKind
from core.texts import TextCatalog
from handoff.agents import AgentDirectory
from handoff.email_codes import CodeCheck, Issue, email_digest
from handoff.identity import IdentityBook
from handoff.limits import Check, Limit, RateLimiter
from handoff.mail.compose import customer_address
from handoff.metrics import QUEUE_WAIT_SECONDS
from handoff.models import (
    Agent,
    Conversation,
    ConversationState,
    Event,
    EventKind,
    HandoffRequest,
    OutboundMessage,
    QueueTicket,
)
from handoff.opening import opening_text
from handoff.policy import HandoffPolicy
from handoff.rasa_client import RasaClient, RasaUnavailable, transcript_from_tracker
from handoff.state import HandoffStore, TransitionResult

__all__ = ["BOT_ERROR", "MAX_MESSAGE_CHARS", "PRESENCE", "Desk", "Estimate", "MailQueue", "OrderLookup", "WaitModel"]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
PRESENCE = ("online", "away", "offline")
TYPING_TTL_SECONDS = 6
BOT_ERROR = "bot_error"  # the reason of a handoff after the bot failed on a message (sec-deliv)


class MailQueue(Protocol):
    """Where the desk puts e-mails (``handoff.mail.outbox.MailOutbox``)."""

    async def enqueue(self, kind: str, cid: str, dedup_key: str, **params: Any) -> bool:
        """Queues one e-mail once per ``dedup_key``; False for a duplicate."""
        ...


class OrderLookup(Protocol):
    """Finds a customer's orders (``actions.orders.repository.OrderRepository``, wired by ``wiring.container``)."""

    async def find_by_contact(self, email: str = "", phone: str = "") -> List[Any]:
        """Orders placed with this e-mail or phone.

        Raises:
            core.errors.Unavailable: The store cannot be reached now.
        """
        ...


@dataclass(frozen=True)
class Estimate:
    """A wait estimate for one place in the queue."""

    position: int
    eta_minutes: int  # 0: unknown (nobody online, or closed)
    agents_online: int
    in_hours: bool


@dataclass(frozen=True)
class WaitModel:
    """What wait estimates depend on, read once (a pass over the queue estimates many places)."""

    online: List[Agent]
    handle_minutes: float
    in_hours: bool

    def estimate(self, position: int, language: str = "") -> Estimate:
        """Wait estimate for ``position``: handling time × turns before it, spread over agents.

        Only online agents who speak ``language`` count (all online agents when it is empty).
        """
        online = [a for a in self.online if not language or language in a.languages]
        if not online or position <= 0:
            return Estimate(position, 0, len(online), self.in_hours)
        parallel = max(1, sum(a.capacity for a in online))
        minutes = self.handle_minutes * math.ceil(position / parallel)
        return Estimate(position, max(1, math.ceil(minutes)), len(online), self.in_hours)


class Desk:
    """The service layer over :class:`HandoffStore`; see the module docstring."""

    def __init__(
        self,
        store: HandoffStore,
        policy: HandoffPolicy,
        agents: AgentDirectory,
        texts: TextCatalog,
        identity: IdentityBook,
        *,
        outbox: Optional[MailQueue] = None,
        rasa: Optional[RasaClient] = None,
        orders: Optional[OrderLookup] = None,
        limiter: Optional[RateLimiter] = None,
        handoff_limit: Limit = Limit(0, 1),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keeps its collaborators; opens nothing.

        Args:
            store: Handoff state in Redis.
            policy: Triggers, routing, hours, estimates.
            agents: Who may take conversations.
            texts: What customers and agents are told.
            identity: Addresses → conversations (linking a customer's channels).
            outbox: E-mail queue (None: no e-mails, e.g. in unit tests of routing).
            rasa: Rasa's HTTP API for transcripts and outcomes (None: neither).
            orders: The orders store for the customer panel (None: no orders shown).
            limiter: Counts new requests for a person (None: no limit).
            handoff_limit: New requests one conversation may make per window.
            clock: Epoch seconds.
        """
        self.store = store
        self.policy = policy
        self.limiter = limiter
        self.handoff_limit = handoff_limit
        self.agents = agents
        self.texts = texts
        self.outbox = outbox
        self.rasa = rasa
        self.orders = orders
        self.clock = clock
        self.identity = identity

    # -- identity ------------------------------------------------------------
    async def customer_verified(self, cid: str, email: str, channel: str, language: str) -> str:
        """Records an e-mail verified on an order; may join this chat to the customer's earlier conversation.

        The identity book joins only a recently active conversation with no address on
        ``channel`` yet (see ``handoff.identity``). When it does, the customer is told on the
        earlier conversation's channels that it continues on ``channel`` (a service message:
        if that was not them, they can say so there); an earlier conversation waiting for or
        talking with an agent has its replies moved to ``channel`` and the agent gets a note.

        Args:
            cid: The conversation where the customer verified.
            email: The e-mail on the verified order.
            channel: The channel the customer writes on now.
            language: The customer's language.

        Returns:
            What to tell the customer ("" when nothing was linked).
        """
        link = await self.identity.verified(cid, email)
        if not link.linked:
            return ""
        conv = await self.store.get(link.cid)
        await self._announce_link(link.cid, link.told, channel, conv.language if conv else language)
        if conv is None or conv.state not in (ConversationState.QUEUED, ConversationState.WITH_AGENT):
            return self.texts.text("continued", language)
        await self.store.update(conv.cid, channel=channel)
        await self.store.add_event(conv.cid, Event(
            kind=EventKind.NOTE, text=self.texts.text("agent_note_continued", "en", email=email, channel=channel),
            author="kesher", author_name="Kesher", data={"channel": channel},
        ))
        if conv.state is ConversationState.WITH_AGENT:
            return self.texts.text("continued_with_agent", language,
                                   agent=self.agents.display_name(conv.agent_id, language, conv.agent_name))
        return self.texts.text("continued_in_queue", language, position=await self.store.position(conv.cid))

    async def _announce_link(self, cid: str, told: Dict[str, str], channel: str, language: str) -> None:
        """Tells the customer on each earlier channel of ``cid`` that the conversation continues on ``channel``."""
        where = self.channel_name(channel, language)
        for earlier in sorted(told):
            await self._tell_channel(cid, earlier, self.texts.text("link_notice", language, channel=where))
            await self._record_notice(cid, earlier, language, "link_notice")

    async def undo_link(self, cid: str, channel: str, language: str) -> bool:
        """The customer answered a link notice with "not me": the channel that joined is disconnected.

        Replies of an open handoff come back to ``channel``, and the agent gets a note.

        Args:
            cid: The conversation.
            channel: The (earlier) channel the customer objects from.
            language: The language of the objection.

        Returns:
            True when something was disconnected (the customer has been told).
        """
        undone = await self.identity.undo_link(cid, channel)
        if not undone:
            return False
        names = ", ".join(self.channel_name(name, language) for name in sorted(undone))
        conv = await self.store.get(cid)
        if conv is not None and conv.channel in undone:
            await self.store.update(cid, channel=channel)
        if conv is not None and conv.in_handoff:
            await self._agent_note(cid, "agent_note_link_undone", channel=", ".join(sorted(undone)), back=channel)
        await self._tell_channel(cid, channel, self.texts.text("link_undone", language, channel=names))
        await self._record_notice(cid, channel, language, "link_undone")
        return True

    async def _tell_channel(self, cid: str, channel: str, text: str) -> None:
        """A service message to the customer on one channel, outside any handoff (the outbound stream)."""
        message = OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel=channel, kind="system", text=text)
        await self.store.queue_outbound(message)

    async def _record_notice(self, cid: str, channel: str, language: str, reason: str) -> None:
        """Records a notice sent outside a handoff (no handoff record may exist to take the contact from)."""
        if self.store.event_log is not None:
            await self.store.event_log.record(ServiceEventKind.NOTICE_SENT, cid, channel=channel, language=language,
                                              reason=reason)

    def channel_name(self, channel: str, language: str) -> str:
        """A channel as customers call it ("WhatsApp", "the website chat"), in ``language``."""
        key = f"channel_name_{channel}"
        return self.texts.text(key, language) if key in self.texts else channel

    # -- e-mail addresses the customer types --------------------------------------------
    async def offer_email(self, cid: str, email: str) -> None:
        """A customer in the handoff typed an address: it is kept unverified and sent a one-time code.

        Nothing else is mailed to the address, and it selects no orders or history, until the
        customer types the code back (:meth:`check_email_code`). An address this conversation
        proved before is trusted at once. Code e-mails are limited per address and conversation.

        Args:
            cid: The conversation.
            email: What the customer typed.
        """
        conv = await self._conversation(cid)
        address = customer_address(email)
        if not address:
            return
        if await self.identity.is_verified(cid, address):
            await self._email_proved(conv, address)
            return
        issued = await self.identity.codes.issue(cid, address) if self.outbox is not None else None
        if issued is None or issued.outcome is Issue.LIMITED:
            await self.identity.codes.withdraw(cid)  # an earlier address's code is not awaited either
            await self.store.update(cid, email_unverified=address, email_requested=False)
            await self.store.tell_customer(conv, self.texts.text("email_code_limited", conv.language, email=address))
            await self._agent_note(cid, "agent_note_email_unverified", email=address)
            return
        await self.store.update(cid, email_unverified=address, email_consent=True, email_requested=True)
        minutes = self.identity.codes.rules.minutes
        await self.outbox.enqueue(  # type: ignore[union-attr]  # checked above
            "code", cid, f"code:{cid}:{uuid.uuid4().hex}", to=address, code=issued.code, minutes=minutes,
        )
        await self.store.tell_customer(conv, self.texts.text("email_code_sent", conv.language, email=address,
                                                             minutes=minutes))

    async def check_email_code(self, cid: str, code: str) -> CodeCheck:
        """The customer typed a code: the right one makes the typed address theirs and sends the summary.

        Args:
            cid: The conversation.
            code: The six digits typed.

        Returns:
            What the code did (the customer has been told).
        """
        conv = await self._conversation(cid)
        result = await self.identity.codes.check(cid, code)
        address = conv.email_unverified
        if result.outcome is CodeCheck.VERIFIED and address and email_digest(address) == result.address_digest:
            await self.identity.mark_verified(cid, result.address_digest)
            await self._email_proved(conv, address)
        elif result.outcome is CodeCheck.WRONG:
            await self.store.tell_customer(conv, self.texts.text("email_code_wrong", conv.language,
                                                                 remaining=result.remaining))
        elif result.outcome is CodeCheck.LOCKED:
            await self.store.update(cid, email_requested=False)
            await self.store.tell_customer(conv, self.texts.text("email_code_locked", conv.language))
            await self._agent_note(cid, "agent_note_email_unverified", email=address)
        else:
            await self.store.tell_customer(conv, self.texts.text("email_code_expired", conv.language))
            return CodeCheck.NONE
        return result.outcome

    async def waiting_for_code(self, cid: str) -> bool:
        """Whether the conversation's customer was sent a code and has not typed it yet."""
        return await self.identity.codes.pending(cid)

    async def skip_email(self, cid: str) -> None:
        """The customer does not want to confirm the address: nothing is mailed; the agent sees it unverified."""
        conv = await self._conversation(cid)
        await self.identity.codes.withdraw(cid)
        await self.store.update(cid, email_requested=False)
        await self.store.tell_customer(conv, self.texts.text("email_skipped", conv.language))
        if conv.email_unverified:
            await self._agent_note(cid, "agent_note_email_unverified", email=conv.email_unverified)

    async def _email_proved(self, conv: Conversation, address: str) -> None:
        await self.store.update(conv.cid, email=address, email_unverified="", email_consent=True,
                                email_requested=False)
        await self.store.tell_customer(conv, self.texts.text("email_saved", conv.language, email=address))
        await self._agent_note(conv.cid, "agent_note_email_verified", email=address)
        await self.queue_handoff_mail(replace(conv, email=address))

    async def _agent_note(self, cid: str, key: str, **values: Any) -> None:
        await self.store.add_event(cid, Event(kind=EventKind.NOTE, text=self.texts.text(key, "en", **values),
                                              author="kesher", author_name="Kesher"))

    # -- estimates ---------------------------------------------------------
    async def online_agents(self) -> List[Agent]:
        """Agents whose presence is online."""
        ids = await self.store.redis.smembers(self.store.keys.agents_online())
        return [a for a in (self.agents.get(i) for i in sorted(ids)) if a is not None]

    async def average_handle_minutes(self) -> float:
        """Mean of recent handling times, or the policy's default until enough were seen."""
        times = (await self.store.handle_times())[: self.policy.estimate_samples]
        if len(times) < self.policy.min_samples:
            return self.policy.default_handle_minutes
        return max(1.0, sum(times) / len(times) / 60.0)

    async def wait_model(self) -> WaitModel:
        """Online agents, recent handling time and business hours, as of now."""
        return WaitModel(
            online=await self.online_agents(),
            handle_minutes=await self.average_handle_minutes(),
            in_hours=self.policy.hours.is_open(datetime.fromtimestamp(self.clock(), tz=UTC)),
        )

    async def estimate(self, position: int, language: str = "") -> Estimate:
        """Wait estimate for one place in the queue (see :meth:`WaitModel.estimate`)."""
        return (await self.wait_model()).estimate(position, language)

    def next_opening_text(self, language: str) -> str:
        """When the desk opens next, as the customer's language writes it ("Sunday at 08:00")."""
        now = self.policy.hours.localize(datetime.fromtimestamp(self.clock(), tz=UTC))
        return opening_text(self.policy.hours.next_opening(now), now, language, self.texts)

    def closed_holiday(self, language: str) -> str:
        """The holiday the desk is closed for now, named in ``language`` ("" when open or none)."""
        return self.policy.hours.closed_for(datetime.fromtimestamp(self.clock(), tz=UTC), as_language(language))

    def ticket_text(self, ticket: QueueTicket, language: str) -> str:
        """What the customer is told about a ticket the bot just got."""
        holiday = "" if ticket.in_hours else self.closed_holiday(language)
        if holiday:
            return self.texts.text("queued_holiday", language, position=ticket.position, holiday=holiday,
                                   reference=ticket.reference, opening=self.next_opening_text(language))
        if not ticket.in_hours:
            return self.texts.text("queued_after_hours", language, position=ticket.position,
                          reference=ticket.reference, opening=self.next_opening_text(language))
        if ticket.eta_minutes:
            return self.texts.text("queued", language, position=ticket.position, minutes=ticket.eta_minutes)
        closes = self.closing_today()
        if closes:
            return self.texts.text("queued_no_estimate_until", language, position=ticket.position, closes=closes)
        return self.texts.text("queued_no_estimate", language, position=ticket.position)

    def closing_today(self) -> str:
        """When the desk stops answering today ("20:00", local time), or "" when it is closed now."""
        now = self.policy.hours.localize(datetime.fromtimestamp(self.clock(), tz=UTC))
        hours = self.policy.hours.hours_on(now.date())
        if not hours or not self.policy.hours.is_open(now):
            return ""
        return hours[1].strftime("%H:%M")

    # -- the bot hands over ------------------------------------------------------
    async def _within_handoff_limit(self, cid: str) -> None:
        """Counts a new request for a person; one made while queued or with an agent is not new.

        Raises:
            TooManyRequests: The conversation asked for a person too often lately.
        """
        if self.limiter is None:
            return
        current = await self.store.get(cid)
        if current is not None and current.state in (ConversationState.QUEUED, ConversationState.WITH_AGENT):
            return
        await self.limiter.hit([Check("handoff:conversation", cid, self.handoff_limit, "requests for a person")])

    async def request(self, req: HandoffRequest, *, counted: bool = True) -> QueueTicket:
        """Puts a conversation in the queue (once) and says where it stands.

        The caller (the handoff action) tells the customer; this queues the
        handoff e-mail, or marks that the address should be asked for. An
        e-mail counts as verified when it comes with the order it was verified
        on (``verified_order``) or the identity book has it for this
        conversation; any other is kept as ``email_unverified``: shown to the
        agent marked, never mailed, never used to look anything up.

        Args:
            req: Who asks, why, and what the bot knows.
            counted: Count it against the conversation's limit of requests for a person
                (a handoff after the bot's own failure is not).

        Raises:
            TooManyRequests: The conversation asked for a person too often lately.
        """
        if counted:
            await self._within_handoff_limit(req.cid)
        if not req.contact:
            # The action's window of the tracker may no longer hold the session's start; the tracker store keeps it.
            req = replace(req, contact=str(await self.store.redis.get(self.store.keys.session_contact(req.cid)) or ""))
        result = await self.store.request(req)
        conv = await self.store.get(req.cid)
        if conv is None:  # pragma: no cover - the script always writes the hash
            raise NotFound(f"conversation {req.cid} vanished")
        if req.email and req.verified_order:
            # The order check matched the order's own address (the bot's verified_email slot).
            await self.identity.mark_verified(req.cid, email_digest(req.email))
        elif conv.email and not await self.identity.is_verified(req.cid, conv.email):
            # Not proved in this conversation (no order, no code): kept for the agent, never mailed.
            await self.store.update(req.cid, email="", email_unverified=conv.email)
            conv = replace(conv, email="", email_unverified=conv.email)
        position = await self.store.position(req.cid)
        est = await self.estimate(position, conv.language)
        if result.ok:
            await self.store.record(ServiceEventKind.HANDOFF_QUEUED, conv, reason=conv.reason, topic=conv.topic,
                                    text=mask_contacts(conv.asked[-1]) if conv.asked else "")
            await self.store.update(
                req.cid,
                after_hours=not est.in_hours,
                notified_position=position,
                notified_eta=est.eta_minutes,
                email_requested=not conv.email,
            )
            if conv.email:
                await self.queue_handoff_mail(conv, est)
        return QueueTicket(
            state=ConversationState(conv.state),
            email_known=bool(conv.email),
            position=position,
            eta_minutes=est.eta_minutes,
            agents_online=est.agents_online,
            in_hours=est.in_hours,
            reference=conv.reference,
        )

    async def queue_handoff_mail(self, conv: Conversation, est: Optional[Estimate] = None) -> None:
        """Queues the handoff summary e-mail (once per handoff reference)."""
        if self.outbox is None or not conv.email:
            return
        est = est or await self.estimate(await self.store.position(conv.cid), conv.language)
        await self.outbox.enqueue(
            "handoff",
            conv.cid,
            f"handoff:{conv.reference}",
            position=est.position,
            eta_minutes=est.eta_minutes,
            after_hours=not est.in_hours,
            next_opening=self.next_opening_text(conv.language),
        )

    async def bot_failed(self, cid: str, channel: str, language: str, text: str, message_id: str) -> QueueTicket:
        """The bot failed on a customer's message again and again: a person takes the conversation (sec-deliv).

        The conversation is queued with the reason ``bot_error``; the customer's text is kept as
        their message in the conversation, where the agent reads it; the customer is told that a
        person will answer, and where they stand in line.

        Args:
            cid: The conversation.
            channel: The channel the customer writes on.
            language: The customer's language.
            text: What the customer wrote.
            message_id: The message's id (the provider's), kept with the customer's event.

        Returns:
            The customer's place in the queue.
        """
        reference = "K-" + hashlib.sha256(f"{cid}|{message_id}".encode()).hexdigest()[:6].upper()
        kept = text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " […]"
        ticket = await self.request(counted=False, req=HandoffRequest(
            cid=cid, channel=channel, language=language, reason=BOT_ERROR, reference=reference,
            priority=self.policy.priority(BOT_ERROR), asked=[kept[:500]] if kept.strip() else [],
        ))
        await self.store.add_event(cid, Event(kind=EventKind.CUSTOMER, text=kept, author="customer",
                                              message_id=message_id, data={"channel": channel, "language": language}))
        conv = await self._conversation(cid)
        await self.store.tell_customer(conv, self.texts.text("bot_error_handoff", language))
        await self.store.tell_customer(conv, self.ticket_text(ticket, language))
        await self.store.record(ServiceEventKind.NOTICE_SENT, conv, reason=BOT_ERROR)
        return ticket

    # -- agents ------------------------------------------------------------------
    async def set_presence(self, agent: Agent, status: str, *, auto: bool = False) -> None:
        """Online agents get conversations; away and offline ones keep theirs but get no new ones.

        ``auto``: the presence sweeper made the agent away (no heartbeat); their next heartbeat brings them back.
        """
        if status not in PRESENCE:
            raise InvalidInput(f"presence must be one of {', '.join(PRESENCE)}", text="desk_error_presence")
        keys = self.store.keys
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.agent(agent.agent_id), mapping={
                "status": status, "name": agent.name, "capacity": agent.capacity, "since": repr(self.clock()),
                "auto": "1" if auto else "0",
            })
            if status == "online":
                pipe.sadd(keys.agents_online(), agent.agent_id)
            else:
                pipe.srem(keys.agents_online(), agent.agent_id)
            pipe.xadd(keys.feed(), {"cid": "", "kind": "presence", "agent": agent.agent_id, "to": status},
                      maxlen=20_000, approximate=True)
            await pipe.execute()

    async def presence(self, agent_id: str) -> str:
        """The agent's presence (offline when never set)."""
        return str(await self.store.redis.hget(self.store.keys.agent(agent_id), "status") or "offline")

    async def take(self, cid: str, agent: Agent, *, require_online: bool = True) -> TransitionResult:
        """The agent takes a queued conversation; the customer learns the agent's first name."""
        result = await self.store.take(cid, agent.agent_id, agent.name, agent.capacity,
                                       require_online=require_online)
        if result.ok:
            conv = await self._conversation(cid)
            if conv.queued_at and conv.assigned_at >= conv.queued_at:
                QUEUE_WAIT_SECONDS.observe(conv.assigned_at - conv.queued_at)
            await self.store.tell_customer(conv, self.texts.text("agent_joined", conv.language,
                                                                   agent=agent.display_name(conv.language)))
            await self.store.record(ServiceEventKind.HANDOFF_ASSIGNED, conv, agent=agent.agent_id,
                                    team=self.team_for(conv, agent.agent_id), topic=conv.topic,
                                    value=max(0.0, conv.assigned_at - (conv.queued_at or conv.requested_at)))
        return result

    def team_for(self, conv: Conversation, agent_id: str) -> str:
        """The team a conversation is handled for: the one it was sent to, else the agent's own for its topic.

        Every event of an agent's work (assignment, messages, close, the customer's rating) carries it, so the
        KPIs per team see them all.

        Args:
            conv: The conversation.
            agent_id: The agent handling it ("" when none: then only the team it was sent to).

        Returns:
            The team's id, or "" when the conversation was sent to no team and the agent is in none.
        """
        if conv.team:
            return conv.team
        teams = self.agents.team_of(agent_id) if agent_id else []
        owner = self.policy.team_for(conv.topic)
        return owner if owner in teams else (teams[0] if teams else "")

    async def _owned(self, cid: str, agent: Agent) -> Conversation:
        conv = await self._conversation(cid)
        if conv.state is not ConversationState.WITH_AGENT:
            raise Conflict(f"conversation {cid} is {conv.state.value}, not with an agent",
                           text="desk_error_not_with_agent")
        if conv.agent_id != agent.agent_id:
            raise NotAllowed(f"conversation {cid} belongs to another agent", text="desk_error_not_owner")
        return conv

    async def send(self, cid: str, agent: Agent, text: str) -> Event:
        """An agent's message to the customer."""
        text = self._clean(text)
        conv = await self._owned(cid, agent)
        event = await self.store.tell_customer(
            conv, text, kind=EventKind.AGENT, author=agent.agent_id, author_name=agent.display_name(conv.language)
        )
        if self.store.event_log is not None:
            first = await self.store.count_agent_reply(cid) == 1
            await self.store.record(ServiceEventKind.AGENT_MESSAGE, conv, agent=agent.agent_id,
                                    team=self.team_for(conv, agent.agent_id), reason="first" if first else "",
                                    value=max(0.0, event.at - conv.assigned_at) if first else None)
        return event

    async def note(self, cid: str, agent: Agent, text: str) -> Event:
        """An internal note on the conversation; the customer never sees it."""
        text = self._clean(text)
        await self._conversation(cid)
        event = Event(kind=EventKind.NOTE, text=text, author=agent.agent_id, author_name=agent.first_name)
        await self.store.add_event(cid, event)
        return event

    async def typing(self, cid: str, agent: Agent) -> None:
        """Marks the agent as typing for a few seconds (the customer's channel may show it)."""
        keys = self.store.keys
        await self.store.redis.set(keys.typing(cid), agent.agent_id, ex=TYPING_TTL_SECONDS)
        await self.store.redis.xadd(keys.feed(), {"cid": cid, "kind": "typing", "agent": agent.agent_id},
                                    maxlen=20_000, approximate=True)
        conv = await self.store.get(cid)
        signal = {"kind": "typing", "cid": cid, "name": agent.display_name(conv.language if conv else None)}
        await self.store.redis.publish(keys.customer_signals(), json.dumps(signal, ensure_ascii=False))

    async def transfer(self, cid: str, agent: Agent, *, to_agent: str = "", to_team: str = "") -> TransitionResult:
        """Back to the queue, reserved for another agent or a team."""
        if to_agent and self.agents.get(to_agent) is None:
            raise NotFound(f"no agent {to_agent!r}", text="desk_error_no_agent", agent=to_agent)
        if to_team and to_team not in self.agents.teams:
            raise NotFound(f"no team {to_team!r}", text="desk_error_no_team", team=to_team)
        if not to_agent and not to_team:
            raise InvalidInput("say who to transfer to: an agent or a team", text="desk_error_transfer_to")
        conv = await self._owned(cid, agent)
        result = await self.store.transfer(cid, agent.agent_id, team=to_team, target_agent=to_agent,
                                           priority_bonus=self.policy.transfer_priority_bonus)
        if result.ok:
            await self.store.tell_customer(conv, self.texts.text("transferred", conv.language))
            await self.store.record(ServiceEventKind.HANDOFF_TRANSFERRED, conv, agent=to_agent, team=to_team,
                                    reason="agent" if to_agent else "team")
            await self.store.record(ServiceEventKind.AGENT_ACTION, conv, agent=agent.agent_id, reason="transfer")
            await self.store.record(ServiceEventKind.NOTICE_SENT, conv, reason="transferred")
        return result

    async def close(
        self, cid: str, agent: Agent, resolution: str, summary: str = "", next_steps: str = ""
    ) -> TransitionResult:
        """Closes the conversation: CSAT question, closing e-mail, outcome into Rasa, history."""
        if resolution not in self.policy.resolution_codes:
            raise InvalidInput(f"resolution must be one of {', '.join(self.policy.resolution_codes)}",
                               text="desk_error_resolution")
        summary, next_steps = summary.strip()[:MAX_MESSAGE_CHARS], next_steps.strip()[:MAX_MESSAGE_CHARS]
        await self._owned(cid, agent)
        result = await self.store.close(cid, agent.agent_id, resolution, summary, next_steps,
                                        max_samples=max(self.policy.estimate_samples, 1))
        if not result.ok:
            raise Conflict(f"could not close: {result.state}", text="desk_error_close_failed")
        conv = await self._conversation(cid)
        await self.store.record(ServiceEventKind.CLOSED, conv, agent=agent.agent_id,
                                team=self.team_for(conv, agent.agent_id), reason=resolution, topic=conv.topic,
                                value=max(0.0, conv.closed_at - conv.assigned_at) if conv.assigned_at else None)
        text = self.texts.text("closed" if conv.email else "closed_no_email", conv.language,
                               agent=agent.display_name(conv.language))
        await self.store.tell_customer(conv, text, buttons=tuple((str(n), str(n)) for n in range(1, 6)))
        await self.store.record(ServiceEventKind.CSAT_ASKED, conv, agent=agent.agent_id, reason="agent")
        if self.outbox is not None and conv.email:
            await self.outbox.enqueue("closing", cid, f"closing:{conv.reference}:{conv.version}",
                                      agent_id=agent.agent_id)
        await self.store.record_history(conv)
        await self.sync_outcome(conv)
        return result

    async def set_bot_slots(self, cid: str, slots: Dict[str, Any]) -> bool:
        """Sets slots in the conversation's Rasa tracker; False when Rasa cannot be reached."""
        if self.rasa is None:
            return False
        try:
            await self.rasa.append_events(cid, [{"event": "slot", "name": k, "value": v} for k, v in slots.items()])
        except RasaUnavailable as exc:
            log.warning("slots %s of %s not written to Rasa: %s", sorted(slots), cid, exc)
            return False
        return True

    async def sync_outcome(self, conv: Conversation) -> bool:
        """Writes the handoff's outcome into the Rasa tracker; False (and kept pending) if Rasa is down."""
        written = await self.set_bot_slots(conv.cid, {
            "handoff_requested": False,
            "handoff_outcome": conv.resolution,
            "handoff_agent": self.agents.display_name(conv.agent_id, conv.language, conv.agent_name)
            if conv.agent_name else "",
            "handoff_summary": conv.summary,
        })
        await self.store.update(conv.cid, outcome_pending=not written)
        return written

    # -- views ---------------------------------------------------------------------
    async def queue_view(self) -> List[Dict[str, Any]]:
        """The queue as the console shows it, next first."""
        now = self.clock()
        rows: List[Dict[str, Any]] = []
        for position, conv in enumerate(await self.store.get_many(await self.store.queue()), start=1):
            if conv is None:
                continue
            cid = conv.cid
            rows.append({
                "cid": cid, "reference": conv.reference, "position": position,
                "waiting_seconds": int(now - (conv.requested_at or conv.queued_at or now)),
                "language": conv.language, "channel": conv.channel, "reason": conv.reason,
                "topic": conv.topic, "team": conv.team, "priority": conv.priority,
                "customer_name": conv.customer_name, "target_agent": conv.target_agent,
                "after_hours": conv.after_hours,
            })
        return rows

    async def my_chats(self, agent_id: str) -> List[Conversation]:
        """The conversations an agent holds."""
        ids = await self.store.redis.smembers(self.store.keys.agent_chats(agent_id))
        return [c for c in await self.store.get_many(sorted(ids)) if c is not None]

    async def customer_panel(self, cid: str) -> Dict[str, Any]:
        """Who the customer is, their orders and their earlier conversations.

        ``orders_available`` is False when there is no orders store or it cannot be reached
        (the rest of the panel is still shown).
        """
        conv = await self._conversation(cid)
        orders: List[Dict[str, Any]] = []
        available = self.orders is not None
        # Only a verified address (never a typed one) selects orders and earlier conversations.
        if self.orders is not None and (conv.email or conv.phone):
            try:
                found = await self.orders.find_by_contact(email=conv.email, phone=conv.phone)
            except Unavailable as exc:
                log.warning("orders of %s unavailable: %s", cid, exc)
                found, available = [], False
            for order in found:
                orders.append({
                    "order_id": order.order_id, "status": order.status,
                    "created_at": order.created_at.date().isoformat(),
                    "promised_delivery": order.promised_delivery.isoformat(),
                    "total": f"{order.total} {order.currency}",
                    "items": [item.name for item in order.items],
                })
        history = [h for h in await self.store.history(conv.customer_key)
                   if not (h.get("cid") == cid and h.get("reference") == conv.reference)]
        return {
            "cid": cid,
            "name": conv.customer_name,
            "email": conv.email,
            "email_unverified": conv.email_unverified,
            "phone": conv.phone,
            "verified": bool(conv.verified_order),
            "verified_order": conv.verified_order,
            "language": conv.language,
            "channel": conv.channel,
            "reason": conv.reason,
            "reference": conv.reference,
            "asked": conv.asked,
            "found": conv.found,
            "orders": orders,
            "orders_available": available,
            "history": history,
        }

    async def transcript(self, conv: Conversation) -> List[Dict[str, Any]]:
        """What the customer and the bot said up to the handoff request, from Rasa's tracker.

        Raises:
            RasaUnavailable: No Rasa is configured, or it cannot be reached.
        """
        if self.rasa is None:
            raise RasaUnavailable("no bot connection configured")
        turns = transcript_from_tracker(await self.rasa.tracker(conv.cid))
        if conv.requested_at:
            turns = [t for t in turns if not t.get("at") or float(t["at"]) <= conv.requested_at + 1]
        return turns

    # -- helpers -------------------------------------------------------------------
    async def _conversation(self, cid: str) -> Conversation:
        conv = await self.store.get(cid)
        if conv is None:
            raise NotFound(f"no handoff conversation {cid!r}", text="desk_error_no_conversation")
        return conv

    @staticmethod
    def _clean(text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise InvalidInput("the message is empty", text="desk_error_empty_message")
        if len(text) > MAX_MESSAGE_CHARS:
            raise TooLarge(f"a message may have at most {MAX_MESSAGE_CHARS} characters", text="desk_error_too_long",
                           count=MAX_MESSAGE_CHARS)
        return text

