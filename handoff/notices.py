"""Proactive notices: a customer whose order is late is told once, unasked, where they last wrote.

An order becomes late when the orders store marks it delayed (a status change) or
when the scheduled scan of estimated delivery dates finds it past, or about to
miss, the promised date (:class:`NoticeScanner`). Either way
:meth:`NoticeService.order_late` runs, and it tells the customer once per order
and estimate: a ``SET NX EX`` in Redis (:meth:`RedisKeys.notice_once`) is taken
before anything is sent, so two replicas, a restart or the scan after a status
change send nothing twice (a process killed between the key and the send loses
that one notice rather than risk a second).

The customer is found by the order's e-mail: the conversation that verified it
(``handoff.identity``) and the channel its customer last wrote on. Telegram
gets the notice directly, WhatsApp through the outbound stream (outside the
24-hour window as the approved ``late_order`` template, see
``connectors/whatsapp.py``), and the web widget keeps it in the conversation's
history, where it shows on the customer's next visit. Each notice carries a
button to reach a person. The order's own e-mail address (verified by
definition) gets the notice by e-mail too; the mail worker checks again before
sending that the order is still late and the customer has not opted out.

"Stop" (``STOP_WORDS``: also "הסר", "עצור") in any chat opts the customer out:
recorded against the conversation and the e-mails it verified, honoured by the
next notice and by queued e-mails, confirmed in the customer's language.

A customer who never chatted opts out from the e-mail itself: each notice e-mail
carries a personal link (:func:`unsubscribe_url`, and the RFC 8058 one-click
headers) to ``UNSUBSCRIBE_PATH`` on the public listener that serves the widget
(``connectors/unsubscribe.py``). The link names the address by its digest only
(:func:`~handoff.email_codes.email_digest`) and is signed with an HMAC under
``KESHER_NOTICES_SECRET`` (:func:`unsubscribe_token`); a POST there runs
:meth:`NoticeService.opt_out_address`, which sets the same opt-out key "stop"
sets for an e-mail, for as long. Without ``KESHER_PUBLIC_URL`` there is no link
(nothing outside could reach it): the mail then says to reply to it, and an
operator records the opt-out with ``python -m kesher notices-stop <address>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, List, Optional, Protocol
from urllib.parse import urlencode

from babel.dates import format_date
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import Unavailable
from core.language import LOCALES, as_language
from core.redis_keys import RedisKeys
from core.service_events import EventKind as ServiceEventKind
from core.settings import Settings
from core.texts import TextCatalog
from handoff.email_codes import email_digest
from handoff.event_log import EventLog
from handoff.identity import IdentityBook, split_conversation_id
from handoff.models import OutboundMessage
from handoff.state import HandoffStore

__all__ = [
    "NOTICE_CHANNELS",
    "STOP_WORDS",
    "UNSUBSCRIBE_PATH",
    "LateOrder",
    "LateOrderSource",
    "NoticeScanner",
    "NoticeService",
    "estimate_text",
    "is_opted_out",
    "late_order_of",
    "unsubscribe_token",
    "unsubscribe_url",
    "valid_unsubscribe",
]

log = logging.getLogger(__name__)

STOP_WORDS = frozenset({"stop", "unsubscribe", "stop notices", "הסר", "עצור", "הסרה", "להסיר"})
NOTICE_CHANNELS = ("whatsapp", "telegram", "web")  # a REST or callback sender cannot be written to unasked
NOTICE_ONCE_SECONDS = 180 * 24 * 3600  # longer than any order stays late
OPT_OUT_SECONDS = 3 * 365 * 24 * 3600
HUMAN_PAYLOAD = "/human_handoff"
SCAN_LEASE_SECONDS = 300
# KEYS: the lease. ARGV: this scanner's token. Gives the lease back only if this scanner still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_ESTIMATE_DATE = {"he": "d.M.yyyy", "en": "EEEE, d MMMM"}
# Where a notice e-mail's unsubscribe link points, under the public URL (the web channel's routes).
UNSUBSCRIBE_PATH = "/webhooks/web/notices/unsubscribe"
_DIGEST = re.compile(r"[0-9a-f]{40}")
_TOKEN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LateOrder:
    """What a late-order notice needs to know about the order.

    Attributes:
        order_id: The order number.
        email: The order's e-mail (verified by the order itself).
        customer_name: The name on the order.
        language: The order's language (used when no conversation says otherwise).
        estimate: The new estimated delivery date; None when there is no new one yet.
    """

    order_id: str
    email: str
    customer_name: str
    language: str
    estimate: Optional[date]

    @property
    def first_name(self) -> str:
        """The customer's first name."""
        return self.customer_name.split()[0] if self.customer_name.strip() else ""


class LateOrderSource(Protocol):
    """The orders store as the notices see it (``actions.orders.repository.SqlOrderRepository``)."""

    async def get(self, order_id: str) -> Optional[Any]:
        """The order (``actions.orders.domain.Order``), or None."""
        ...

    async def find_late(self, today: date) -> List[Any]:
        """Every open order that is late or expected late on ``today``."""
        ...


class OrderMailQueue(Protocol):
    """Where notices put their e-mails (``handoff.mail.outbox.MailOutbox``)."""

    async def enqueue(self, kind: str, cid: str, dedup_key: str, **params: Any) -> bool:
        """Queues one e-mail once per ``dedup_key``."""
        ...


def late_order_of(order: Any, today: date) -> Optional[LateOrder]:
    """The notice's view of an order (``actions.orders.domain.Order``) if it is late or expected late today.

    Late: marked ``delayed``, or still open past its promised date, or estimated after it.
    The new estimate is the order's estimated delivery if that is still ahead.
    """
    status = str(getattr(order, "status", ""))
    if status not in ("processing", "shipped", "delayed"):
        return None
    promised: date = order.promised_delivery
    estimated: Optional[date] = order.estimated_delivery
    late = status == "delayed" or today > promised or (estimated is not None and estimated > promised)
    if not late:
        return None
    estimate = estimated if estimated is not None and estimated >= today else None
    return LateOrder(order_id=order.order_id, email=order.email, customer_name=order.customer_name,
                     language=order.language, estimate=estimate)


def estimate_text(estimate: Optional[date], language: str) -> str:
    """A delivery estimate as the customer reads it ("" when there is none)."""
    lang = as_language(language)
    return format_date(estimate, _ESTIMATE_DATE[lang], locale=LOCALES[lang]) if estimate else ""


async def is_opted_out(redis: Redis, keys: RedisKeys, cid: str = "", email: str = "") -> bool:
    """Whether the customer of ``cid``, or of the e-mail ``email``, asked for no more notices."""
    subjects = ([f"cid:{cid}"] if cid else []) + ([f"email:{email_digest(email)}"] if email else [])
    if not subjects:
        return False
    return bool(await redis.exists(*(keys.notice_optout(s) for s in subjects)))


def unsubscribe_token(secret: str, digest: str) -> str:
    """The HMAC-SHA256 (hex) that proves an unsubscribe link for the address ``digest`` was made here.

    Args:
        secret: ``KESHER_NOTICES_SECRET``.
        digest: The address's :func:`~handoff.email_codes.email_digest`.
    """
    return hmac.new(secret.encode(), f"notice-unsubscribe\0{digest}".encode(), hashlib.sha256).hexdigest()


def valid_unsubscribe(secret: str, digest: str, token: str) -> bool:
    """Whether ``token`` signs ``digest`` (both well formed; compared in constant time)."""
    if not _DIGEST.fullmatch(digest) or not _TOKEN.fullmatch(token):
        return False
    return hmac.compare_digest(token, unsubscribe_token(secret, digest))


def unsubscribe_url(settings: Settings, email: str, language: str) -> str:
    """The personal unsubscribe link of ``email`` ("" without ``KESHER_PUBLIC_URL``: nothing could reach it).

    The address is not in it, only its digest and the digest's HMAC; ``lang`` picks the page's language.
    """
    base = settings.public_url.strip().rstrip("/")
    if not base or not email.strip():
        return ""
    digest = email_digest(email)
    query = urlencode({"e": digest, "t": unsubscribe_token(settings.notices_secret, digest),
                       "lang": as_language(language)})
    return f"{base}{UNSUBSCRIBE_PATH}?{query}"


class NoticeService:
    """Tells customers about late orders once, on their last channel and by e-mail; takes "stop"."""

    def __init__(
        self,
        store: HandoffStore,
        identity: IdentityBook,
        texts: TextCatalog,
        outbox: Optional[OrderMailQueue] = None,
        *,
        event_log: Optional[EventLog] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keeps its collaborators; connects nothing.

        Args:
            store: The handoff store (its Redis client, keys and the outbound stream).
            identity: Who verified which e-mail, on which channels.
            texts: The notices' wording.
            outbox: Where the notice e-mails go (None: no e-mail).
            event_log: Where ``notice_sent`` is recorded (default: the store's).
            clock: Epoch seconds.
        """
        self.store = store
        self.redis: Redis = store.redis
        self.keys: RedisKeys = store.keys
        self.identity = identity
        self.texts = texts
        self.outbox = outbox
        self.event_log = event_log if event_log is not None else store.event_log
        self.clock = clock

    # -- telling ------------------------------------------------------------------------------
    async def order_late(self, order: LateOrder) -> str:
        """Tells the customer their order is late, once per order and estimate.

        Returns:
            ``sent`` (told now), ``already`` (told before, by this or another replica) or
            ``opted_out``.
        """
        cid = str(await self.redis.get(self.keys.contact(email_digest(order.email))) or "")
        if await is_opted_out(self.redis, self.keys, cid, order.email):
            return "opted_out"
        estimate = order.estimate.isoformat() if order.estimate else "none"
        if not await self.redis.set(self.keys.notice_once(order.order_id, estimate), repr(self.clock()),
                                    nx=True, ex=NOTICE_ONCE_SECONDS):
            return "already"
        conv = await self.store.get(cid) if cid else None
        language = as_language(conv.language if conv is not None else order.language)
        channel = await self._last_channel(cid) if cid else ""
        if channel:
            await self.store.queue_outbound(self._chat_notice(order, cid, channel, language))
        if self.outbox is not None:
            await self.outbox.enqueue("late_notice", cid or f"order:{order.order_id}",
                                      f"late:{order.order_id}:{estimate}", reference="", order_id=order.order_id,
                                      estimate=estimate, language=language)
        if self.event_log is not None:
            await self.event_log.record(ServiceEventKind.NOTICE_SENT, cid or f"order:{order.order_id}",
                                        channel=channel or "email", language=language, reason="late_order")
        log.info("late-order notice for order %s (estimate %s) to %s", order.order_id, estimate,
                 channel or "e-mail only")
        return "sent"

    async def told(self, order_id: str, estimate: Optional[date]) -> bool:
        """Whether the customer of ``order_id`` was told of this estimate already (None: of no new date)."""
        key = self.keys.notice_once(order_id, estimate.isoformat() if estimate else "none")
        return bool(await self.redis.exists(key))

    def _chat_notice(self, order: LateOrder, cid: str, channel: str, language: str) -> OutboundMessage:
        estimate = estimate_text(order.estimate, language)
        values = {"first_name": order.first_name or "-", "order_id": order.order_id}
        text = (self.texts.text("notice_late_order", language, estimate=estimate, **values) if estimate
                else self.texts.text("notice_late_order_no_estimate", language, **values))
        no_date = self.texts.text("notice_estimate_unknown", language)
        return OutboundMessage(
            message_id=uuid.uuid4().hex, cid=cid, channel=channel, text=text, kind="system",
            buttons=((self.texts.text("notice_button_person", language), HUMAN_PAYLOAD),),
            template="late_order", language=language,
            template_vars={"1": order.first_name or "-", "2": order.order_id, "3": estimate or no_date},
        )

    async def _last_channel(self, cid: str) -> str:
        """The channel the customer last wrote on, if a notice can reach them there ("" if none)."""
        channel = str(await self.redis.get(self.keys.last_channel(cid)) or "")
        if not channel:
            own = split_conversation_id(cid)
            channel = own[0] if own else ""
        if channel not in NOTICE_CHANNELS or not await self.identity.address(cid, channel):
            return ""
        return channel

    # -- opting out ------------------------------------------------------------------------------
    async def opt_out(self, cid: str, channel: str, language: str) -> None:
        """The customer of ``cid`` wrote "stop": no more notices to the conversation or its e-mails; confirmed."""
        digests = await self.redis.smembers(self.keys.verified_contacts(cid))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.notice_optout(f"cid:{cid}"), repr(self.clock()), ex=OPT_OUT_SECONDS)
            for digest in digests:
                pipe.set(self.keys.notice_optout(f"email:{digest}"), repr(self.clock()), ex=OPT_OUT_SECONDS)
            await pipe.execute()
        await self.store.queue_outbound(OutboundMessage(
            message_id=uuid.uuid4().hex, cid=cid, channel=channel, kind="system",
            text=self.texts.text("notices_stopped", language)))
        if self.event_log is not None:
            await self.event_log.record(ServiceEventKind.NOTICE_SENT, cid, channel=channel, language=language,
                                        reason="notices_stopped")
        log.info("notices stopped for %s", cid)

    async def opt_out_address(self, digest: str, language: str, *, via: str = "email_link") -> bool:
        """No more notices to the address whose digest is ``digest`` (its unsubscribe link, or an operator).

        The same key, for as long, as "stop" sets for each e-mail of its conversation; idempotent.

        Args:
            digest: The address's :func:`~handoff.email_codes.email_digest`.
            language: The customer's language (for the event log).
            via: How the customer asked (logged): ``email_link`` or ``operator``. The event log
                records it as "stop" in a chat is recorded (``notice_sent``, reason ``notices_stopped``),
                on the channel ``email``.

        Returns:
            True if the address was opted out now, False if it already was.
        """
        cid = str(await self.redis.get(self.keys.contact(digest)) or "")
        created = bool(await self.redis.set(self.keys.notice_optout(f"email:{digest}"), repr(self.clock()),
                                            ex=OPT_OUT_SECONDS, nx=True))
        if not created:
            return False
        if self.event_log is not None:
            await self.event_log.record(ServiceEventKind.NOTICE_SENT, cid or f"email:{digest}", channel="email",
                                        language=as_language(language), reason="notices_stopped")
        log.info("notices stopped for e-mail %s… (%s)", digest[:8], via)
        return True


class NoticeScanner:
    """The scheduled scan of estimated delivery dates; one replica at a time runs it (a Redis lease)."""

    def __init__(self, notices: NoticeService, orders: LateOrderSource, *, every_seconds: float,
                 today: Callable[[], date] = date.today) -> None:
        """Keeps its collaborators.

        Args:
            notices: Who tells the customers.
            orders: The orders store.
            every_seconds: Seconds between scans (0: the scan never runs).
            today: Today's date (tests fix it).
        """
        self.notices = notices
        self.orders = orders
        self.every = every_seconds
        self.today = today
        self._release = notices.redis.register_script(_RELEASE)

    async def scan_once(self) -> int:
        """Tells every customer with a late order not told yet (under the lease); how many were told now."""
        redis, keys = self.notices.redis, self.notices.keys
        token = uuid.uuid4().hex
        if not await redis.set(keys.lease("notice-scan"), token, nx=True, ex=SCAN_LEASE_SECONDS):
            return 0
        told = 0
        try:
            today = self.today()
            for order in await self.orders.find_late(today):
                late = late_order_of(order, today)
                if late is not None and await self.notices.order_late(late) == "sent":
                    told += 1
        finally:
            await self._release(keys=[keys.lease("notice-scan")], args=[token])
        return told

    async def run(self, stop: asyncio.Event) -> None:
        """Scans every ``every_seconds`` until ``stop`` is set; survives Redis and database outages."""
        if self.every <= 0:
            return
        while not stop.is_set():
            try:
                told = await self.scan_once()
                if told:
                    log.info("notice scan: %d customers told of late orders", told)
            except (RedisError, OSError) as exc:
                log.warning("notice scan: Redis unavailable (%s); next scan later", exc)
            except Unavailable as exc:
                log.warning("notice scan: %s; next scan later", exc)
            except Exception:  # the orders database down, a bad row: the next scan tries again
                log.exception("notice scan failed; next scan later")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.every)
            except TimeoutError:
                pass
