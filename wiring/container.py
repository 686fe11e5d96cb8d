"""The composition root: every backend Kesher runs on, built from the settings in one place.

Each process asks its :class:`Container` for what it needs: ``rasa run``'s
channels for Redis, the router, the identity book and the desk; the action
server for the actions' backends; the handoff service for the desk, the mail
worker and the orders; the CLI for the orders database. Nothing is built
until it is first asked for, and building opens no connection (the Redis
client and the database engine connect on first use), so a container is cheap
to make at import or start-up time.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from functools import cached_property
from typing import Any, Callable, Optional, Tuple

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine

from actions.backends import Backends
from actions.kb.search import InMemoryKnowledgeBase
from actions.orders.agent_service import AgentOrderActions
from actions.orders.domain import Order
from actions.orders.repository import SqlOrderRepository
from analytics.engine import events_engine
from analytics.mover import EventMover
from core.production import check as check_production
from core.redis_keys import RedisKeys
from core.settings import Settings
from core.texts import TextCatalog
from handoff.agent_actions import AgentActionLog
from handoff.agents import AgentDirectory, load_agents
from handoff.assigner import Assigner, DeskLoop
from handoff.callbacks import CallbackBook
from handoff.desk import Desk
from handoff.email_codes import CodeRules, EmailCodes
from handoff.event_log import EventLog
from handoff.identity import IDENTITY_TTL_SECONDS, IdentityBook
from handoff.limits import Limit, RateLimiter
from handoff.mail.orders import OrderMail
from handoff.mail.outbox import MailOutbox, MailWorker
from handoff.notices import NoticeScanner, NoticeService, late_order_of
from handoff.policy import HandoffPolicy, load_policy
from handoff.presence import PresenceKeeper
from handoff.rasa_client import RasaClient
from handoff.redis_client import RedisAddress, async_redis
from handoff.router import HandoffRouter
from handoff.state import HandoffStore
from handoff.supervision import Supervision
from handoff.uploads import UploadStore

__all__ = ["Container"]

log = logging.getLogger(__name__)


class Container:
    """Builds, once each, the backends of one process from its settings."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        """Keeps the settings; builds nothing yet.

        Args:
            settings: Where everything is.
            clock: Epoch seconds for the handoff state and e-mails (tests move it).

        Raises:
            core.production.ProductionRefused: Production mode with a demo secret (or Twilio without a
                public URL); every process, ``rasa run``'s channels included, builds a container at start.
        """
        check_production(settings)
        self.settings = settings
        self.clock = clock

    # -- ground ------------------------------------------------------------------------
    @cached_property
    def texts(self) -> TextCatalog:
        """The text catalog (``data/texts``)."""
        return TextCatalog.load(self.settings.texts_dir, default_language=self.settings.default_language)

    @cached_property
    def keys(self) -> RedisKeys:
        """Every Redis key Kesher uses."""
        return RedisKeys()

    @cached_property
    def redis(self) -> Redis:
        """The asyncio Redis client (strings in, strings out; the primary, with sentinels); connects on first use."""
        return async_redis(RedisAddress.from_settings(self.settings))

    @cached_property
    def uploads(self) -> UploadStore:
        """Images web customers send during a handoff (a binary-safe client of its own; connects on first use)."""
        return UploadStore(async_redis(RedisAddress.from_settings(self.settings), decode_responses=False), self.keys,
                           self.settings.retention_seconds)

    # -- the event log ----------------------------------------------------------------------
    @cached_property
    def event_log(self) -> Optional[EventLog]:
        """Where service events are recorded (the service-events stream); None when ``KESHER_EVENT_LOG`` is off."""
        return EventLog(self.redis, self.keys) if self.settings.event_log else None

    @cached_property
    def callbacks(self) -> CallbackBook:
        """The "call me back" requests (#18), which the bot files and agents close."""
        return CallbackBook(self.redis, self.keys, self.event_log, clock=self.clock)

    @cached_property
    def events_engine(self) -> Engine:
        """The event log's database (``KESHER_EVENTS_DB_URL``); connects on first use."""
        return events_engine(self.settings.events_db_url)

    def event_mover(self, **options: Any) -> EventMover:
        """A mover of the service-events stream into the event log's database (one per handoff service)."""
        s = self.settings
        return EventMover(self.redis, self.keys, self.events_engine, secret=s.events_secret,
                          text_days=s.retention_days, row_days=s.events_retention_days, **options)

    # -- the handoff domain -----------------------------------------------------------------
    @cached_property
    def policy(self) -> HandoffPolicy:
        """Triggers, routing, business hours and estimates (``handoff/policy.yml``)."""
        return load_policy(self.settings.handoff_policy)

    @cached_property
    def agents(self) -> AgentDirectory:
        """Agents and teams (``handoff/agents.yml``)."""
        return load_agents(self.settings.agents_file)

    @cached_property
    def store(self) -> HandoffStore:
        """The handoff state machine in Redis."""
        return HandoffStore(self.redis, self.keys, clock=self.clock, retention_seconds=self.settings.retention_seconds,
                            event_log=self.event_log)

    @cached_property
    def outbox(self) -> MailOutbox:
        """Where the desk queues customer e-mails."""
        return MailOutbox(self.redis, self.keys, clock=self.clock, retention_seconds=self.settings.retention_seconds)

    @cached_property
    def rasa(self) -> RasaClient:
        """Rasa's HTTP API (transcripts, outcomes)."""
        return RasaClient(self.settings.rasa_url, self.settings.rasa_api_token)

    @cached_property
    def orders(self) -> SqlOrderRepository:
        """The orders store (the desk reads it through ``OrderLookup``, the actions through ``OrderRepository``).

        An order it marks delayed is a late-order notice (``handoff.notices``).
        """
        repository = SqlOrderRepository.from_url(self.settings.orders_db_url)
        repository.add_listener(self._order_changed)
        return repository

    async def _order_changed(self, order: Order, change: str) -> None:
        late = late_order_of(order, date.today()) if change == "delayed" else None
        if late is None:
            return
        try:
            await self.notices.order_late(late)
        except (RedisError, OSError) as exc:  # the change stands; the scan of late orders tells them later
            log.warning("order %s is %s; its customer is not told yet (Redis: %s)", order.order_id, change, exc)

    async def delay_order(self, order_id: str, estimate: date) -> Tuple[Order, str]:
        """An operator's status change (``python -m kesher order-delay``): the order is delayed, its customer told.

        The order is marked ``delayed`` with the new estimated delivery date; the listener of :attr:`orders`
        tells the customer at once, and :meth:`NoticeService.order_late` is called again here, the very
        call the scheduled scan makes: once per order and estimate (``RedisKeys.notice_once``), it sends
        nothing more when the listener did, and sends if the listener could not. The chat notice goes on
        the outbound stream (the channels deliver it) and the e-mail on the mail outbox (the handoff
        service's worker sends it), so the running services deliver both within seconds.

        Returns:
            The order as it is now, and what the customer was told: ``sent`` (now), ``already`` (of this
            estimate before: nothing again), ``opted_out`` (they wrote "stop") or ``later`` (Redis could not
            be reached: the next scan of late orders tells them).

        Raises:
            actions.orders.repository.OrderNotFound: No such order.
            actions.orders.repository.OrderStateConflict: The order is delivered, cancelled or returned.
            actions.orders.repository.OrdersUnavailable: The orders database cannot be reached.
        """
        now = datetime.fromtimestamp(self.clock())
        told_estimate = estimate if estimate >= now.date() else None  # what late_order_of keeps of it
        try:
            before = await self.notices.told(order_id, told_estimate)
        except (RedisError, OSError):
            before = False
        order = await self.orders.mark_delayed(order_id, estimate, now)
        late = late_order_of(order, now.date())
        assert late is not None  # a delayed order is always late
        try:
            outcome = await self.notices.order_late(late)
        except (RedisError, OSError):
            return order, "later"
        return order, "sent" if outcome == "already" and not before else outcome

    @cached_property
    def identity(self) -> IdentityBook:
        """Channel addresses → conversations."""
        ttl = min(IDENTITY_TTL_SECONDS, self.settings.retention_seconds)  # links do not outlive what they link to
        return IdentityBook(self.redis, self.keys, ttl_seconds=ttl,
                            recent_seconds=self.settings.link_recent_hours * 3600,
                            codes=EmailCodes(self.redis, self.keys, CodeRules.from_settings(self.settings)),
                            clock=self.clock)

    @cached_property
    def desk(self) -> Desk:
        """Every handoff operation of customers, agents and the bot."""
        return Desk(self.store, self.policy, self.agents, self.texts, self.identity, outbox=self.outbox,
                    rasa=self.rasa, orders=self.orders, clock=self.clock,
                    limiter=RateLimiter(self.redis, self.keys),
                    handoff_limit=Limit.parse(self.settings.limit_handoffs_per_conversation))

    @cached_property
    def router(self) -> HandoffRouter:
        """Where each customer message goes, by handoff state."""
        return HandoffRouter(self.desk, clock=self.clock, notices=self.notices)

    @cached_property
    def notices(self) -> NoticeService:
        """Late-order notices to customers, and their "stop"."""
        return NoticeService(self.store, self.identity, self.texts, self.outbox, event_log=self.event_log,
                             clock=self.clock)

    @cached_property
    def order_mail(self) -> OrderMail:
        """The e-mail confirming an order change (the bot's actions and agents' actions call it)."""
        return OrderMail(self.outbox)

    def notice_scanner(self) -> NoticeScanner:
        """The scheduled scan of estimated delivery dates (every ``KESHER_NOTICE_SCAN_MINUTES``)."""
        return NoticeScanner(self.notices, self.orders, every_seconds=self.settings.notice_scan_minutes * 60)

    def desk_loop(self, *, auto_assign: bool = True) -> DeskLoop:
        """The loop that assigns queued conversations and keeps waiting customers informed."""
        return DeskLoop(Assigner(self.desk, auto_assign=auto_assign,
                                 stale_after_seconds=self.settings.agent_away_seconds))

    @cached_property
    def presence(self) -> PresenceKeeper:
        """Heartbeats, the away sweeper and the moves of silent agents' chats."""
        s = self.settings
        return PresenceKeeper(self.desk, away_seconds=s.agent_away_seconds, silent_seconds=s.agent_silent_minutes * 60,
                              sweep_seconds=s.presence_sweep_seconds)

    @cached_property
    def supervision(self) -> Supervision:
        """The supervisor's live view: every agent's load, the queue's waits, reassigning and joining chats."""
        return Supervision(self.desk, self.presence, wait_alert_seconds=self.settings.wait_alert_seconds)

    def mail_worker(self, poll_seconds: float = 1.0) -> MailWorker:
        """A worker that sends the queued e-mails over SMTP."""
        return MailWorker(self.outbox, self.store, self.agents, self.texts, self.settings, poll_seconds=poll_seconds,
                          event_log=self.event_log, orders=self.orders)

    @cached_property
    def agent_actions(self) -> AgentActionLog:
        """The audit of what agents did to orders in each handoff (the closing e-mail lists it)."""
        return AgentActionLog(self.store, self.texts)

    @cached_property
    def order_actions(self) -> AgentOrderActions:
        """Agents' actions on orders from the console, under the store's rules (``KESHER_STORE_CREDIT_LIMIT``).

        Each action done is confirmed by the same e-mail as the bot's changes (:attr:`order_mail`).
        """
        return AgentOrderActions(self.orders, self.store, self.agent_actions,
                                 credit_limit=self.settings.store_credit_limit, mail=self.order_mail,
                                 clock=self.clock)

    # -- the actions ------------------------------------------------------------------------
    @cached_property
    def kb(self) -> InMemoryKnowledgeBase:
        """The help-centre articles and their ranking."""
        return InMemoryKnowledgeBase(self.settings.kb_dir)

    def action_backends(self) -> Backends:
        """What the custom actions talk to besides the tracker."""
        return Backends(orders=self.orders, kb=self.kb, texts=self.texts, policy=self.policy, handoff=self.desk,
                        default_language=self.settings.default_language, events=self.event_log,
                        csat_bot_sample=self.settings.csat_bot_sample, callbacks=self.callbacks,
                        order_mail=self.order_mail)

    # -- closing ---------------------------------------------------------------------------
    async def close(self) -> None:
        """Closes what was opened (the HTTP session to Rasa, the Redis connections, the engine)."""
        if "rasa" in self.__dict__:
            await self.rasa.close()
        if "redis" in self.__dict__:
            await self.redis.close()
        if "orders" in self.__dict__:
            self.orders.engine.dispose()
        if "events_engine" in self.__dict__:
            self.events_engine.dispose()
