"""The e-mail outbox: jobs in Redis, and the worker that sends them over SMTP.

Whoever wants a mail sent (the Desk at handoff and at close) calls
:meth:`MailOutbox.enqueue` with a dedup key; the job is stored at most once.
:class:`MailWorker` sends due jobs: it re-reads the conversation first (the
address may be gone, the job may belong to an older handoff), holds a
per-job lock while sending, marks the job sent and removes it. When the SMTP
server cannot be reached the job stays and is retried with exponential
backoff, so an outage delays mail and loses none; a job marked sent is never
sent again.

The connection is encrypted as ``SMTP_TLS`` says: by default STARTTLS whenever
the server offers it, ``starttls`` to require it, ``implicit`` for TLS from the
first byte (port 465), ``none`` for a local relay. A login (``SMTP_USER``) is
never sent over an unencrypted connection: the worker refuses before any
``AUTH`` command, logs why, and keeps the mail for when the setting is fixed.

Jobs and their "sent" markers expire after the retention period
(``KESHER_RETENTION_DAYS``); a job that old belongs to a conversation that is gone.

One gap is inherent to SMTP: a worker that dies after the server accepted a
mail and before it marked it sent will send it again on restart. The
``Message-ID`` is the same for every attempt at one job, so a resend is
recognisable (and most mail stores drop it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
import time
import uuid
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

import aiosmtplib
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis_keys import RedisKeys
from core.service_events import EventKind as ServiceEventKind
from core.settings import Settings
from core.texts import TextCatalog
from handoff.agent_actions import AgentActionLog, AgentActionRecord
from handoff.agents import AgentDirectory
from handoff.event_log import EventLog
from handoff.mail.compose import (
    closing_summary,
    code_mail,
    customer_address,
    handoff_summary,
    late_notice_mail,
    order_change_mail,
)
from handoff.metrics import count_mail
from handoff.models import Agent, Conversation
from handoff.notices import estimate_text, is_opted_out, late_order_of
from handoff.state import DEFAULT_RETENTION_SECONDS, HandoffStore

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "KINDS",
    "CleartextLoginRefused",
    "MailOutbox",
    "MailWorker",
    "backoff_seconds",
    "mail_id_for",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

KINDS = ("handoff", "closing", "code", "order_change", "late_notice")
# Mails about an order rather than a handoff: checked against the order, sent to the order's own address.
ORDER_KINDS = ("order_change", "late_notice")
# What the event log calls each kind of mail (``email_sent``'s reason).
EVENT_REASONS = {"handoff": "handoff_summary", "closing": "closing_summary", "code": "email_code",
                 "order_change": "order_change", "late_notice": "late_order"}
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 600.0
SMTP_TIMEOUT_SECONDS = 10.0
LOCK_SECONDS = 120  # longer than one SMTP conversation can take with its per-step timeouts
SENT_TTL_SECONDS = 90 * 24 * 3600  # how long "already sent" is remembered for dedup
MAX_REFUSED_ATTEMPTS = 5  # a recipient refused with 5xx this often is given up on

# KEYS: job, due, sent. ARGV: id, due_at, ttl, then field/value pairs.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('HSETNX', KEYS[1], 'id', ARGV[1]) == 0 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
return 1
"""

# KEYS: lock. ARGV: token. Releases the lock only if this worker still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The server could not be reached or went away: every other job would fail the same way.
_UNREACHABLE: Tuple[type[BaseException], ...] = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPConnectTimeoutError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    OSError,
    asyncio.TimeoutError,
)


class OrderReader(Protocol):
    """The orders store as the mail worker sees it (``actions.orders.repository.OrderRepository``)."""

    async def get(self, order_id: str) -> Optional[Any]:
        """The order as it is now (``actions.orders.domain.Order``), or None."""
        ...


class CleartextLoginRefused(aiosmtplib.SMTPException):
    """``SMTP_USER`` is set but the connection is not encrypted: the login is not sent."""


def mail_id_for(dedup_key: str) -> str:
    """The job id of a dedup key: the same key always names the same job."""
    return hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()[:24]


def backoff_seconds(attempts: int) -> float:
    """Wait before the next try after ``attempts`` failed ones: 5 s, 10 s, 20 s… at most 10 min."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a mail job")


def _opening(value: Any) -> datetime | str | None:
    """A stored ``next_opening``: ISO strings were datetimes; other text is shown as written."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return value


def _job_view(raw: Dict[str, str]) -> Dict[str, Any]:
    return {
        "id": raw.get("id", ""),
        "kind": raw.get("kind", ""),
        "cid": raw.get("cid", ""),
        "dedup_key": raw.get("dedup_key", ""),
        "reference": raw.get("reference", ""),
        "params": json.loads(raw.get("params") or "{}"),
        "attempts": int(raw.get("attempts") or 0),
        "last_error": raw.get("last_error", ""),
        "created_at": float(raw.get("created_at") or 0),
        "due_at": float(raw.get("due_at") or 0),
    }


class MailOutbox:
    """Puts e-mail jobs into Redis, each at most once."""

    def __init__(
        self,
        redis: Redis,
        keys: Optional[RedisKeys] = None,
        clock: Clock = time.time,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        """Keeps the connection; opens nothing.

        Args:
            redis: An asyncio Redis client with ``decode_responses=True``.
            keys: Key builder (the store's, so mail keys share its prefix).
            clock: Returns epoch seconds (tests move it).
            retention_seconds: How long a job (and the mark that it was sent) is kept.
        """
        self.redis = redis
        self.keys = keys or RedisKeys()
        self.clock = clock
        self.retention = int(retention_seconds)
        self._enqueue = redis.register_script(_ENQUEUE)

    async def enqueue(self, kind: str, cid: str, dedup_key: str, **params: Any) -> bool:
        """Queues one e-mail about a conversation, unless the same job was queued or sent before.

        Args:
            kind: ``handoff`` (summary at handoff) or ``closing`` (summary at close).
            cid: The conversation id.
            dedup_key: Names the mail; the same key is queued and sent at most once
                (e.g. ``handoff:<cid>:<reference>``).
            **params: Mail details, stored as JSON. ``handoff``: ``position``,
                ``eta_minutes``, ``after_hours``, ``next_opening`` (datetime or ISO
                string). ``closing``: ``agent_id`` (and ``agent_name`` as a fallback).
                ``reference`` pins the handoff the mail belongs to (default: the
                conversation's current reference).

        Returns:
            True if queued now, False for a duplicate.

        Raises:
            ValueError: Unknown ``kind``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown mail kind {kind!r}; known: {KINDS}")
        mail_id = mail_id_for(dedup_key)
        reference = params.pop("reference", None)
        if reference is None:
            reference = await self.redis.hget(self.keys.conversation(cid), "reference") or ""
        now = self.clock()
        fields = {
            "kind": kind,
            "cid": cid,
            "dedup_key": dedup_key,
            "reference": str(reference),
            "params": json.dumps(params, ensure_ascii=False, default=_json_default),
            "attempts": "0",
            "last_error": "",
            "created_at": repr(now),
            "due_at": repr(now),
        }
        args: List[str] = [mail_id, repr(now), str(self.retention)]
        for name, value in fields.items():
            args += [name, value]
        keys = [self.keys.mail(mail_id), self.keys.mail_due(), self.keys.mail_sent(mail_id)]
        queued = bool(await self._enqueue(keys=keys, args=args))
        if queued:
            log.info("mail %s queued: %s for %s", mail_id, kind, cid)
        return queued

    async def job(self, mail_id: str) -> Optional[Dict[str, Any]]:
        """One queued job (see :meth:`pending`), or None when there is none."""
        raw = await self.redis.hgetall(self.keys.mail(mail_id))
        return _job_view(raw) if raw else None

    async def was_sent(self, mail_id: str) -> bool:
        """Whether the job was handed to the SMTP server."""
        return bool(await self.redis.exists(self.keys.mail_sent(mail_id)))

    async def pending(self) -> List[Dict[str, Any]]:
        """Every job not sent yet, next due first.

        Returns:
            Dicts with ``id``, ``kind``, ``cid``, ``dedup_key``, ``reference``,
            ``params``, ``attempts``, ``last_error``, ``created_at`` and ``due_at``
            (epoch seconds).
        """
        ids = await self.redis.zrange(self.keys.mail_due(), 0, -1)
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for mail_id in ids:
            pipe.hgetall(self.keys.mail(mail_id))
        rows = await pipe.execute()
        return [_job_view(raw) for raw in rows if raw]


class MailWorker:
    """Sends due e-mail jobs over SMTP; any number of workers may run at once."""

    def __init__(
        self,
        outbox: MailOutbox,
        store: HandoffStore,
        agents: AgentDirectory,
        texts: TextCatalog,
        settings: Settings,
        *,
        batch: int = 50,
        poll_seconds: float = 1.0,
        tls_context: Optional[ssl.SSLContext] = None,
        event_log: Optional[EventLog] = None,
        orders: Optional[OrderReader] = None,
    ) -> None:
        """Keeps its collaborators; opens nothing.

        Args:
            outbox: The jobs to send (its Redis client, keys and clock are the worker's).
            store: Where conversations are re-read before sending.
            agents: Who closed a conversation (full name, reply-to address).
            texts: The mails' wording.
            settings: SMTP server and sender.
            batch: Most jobs looked at per :meth:`run_once`.
            poll_seconds: Pause between rounds of :meth:`run`.
            tls_context: Trust for the SMTP server's certificate (default: the system's CAs;
                tests pass their own).
            event_log: Where each mail the SMTP server accepted is recorded (None: nowhere).
            orders: Where order mails (``order_change``, ``late_notice``) re-read their order before
                sending (None: such mails are dropped).
        """
        self.outbox = outbox
        self.redis = outbox.redis
        self.keys = outbox.keys
        self.clock = outbox.clock
        self.store = store
        self.agents = agents
        self.texts = texts
        self.settings = settings
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.tls_context = tls_context
        self.event_log = event_log
        self.actions = AgentActionLog(store, texts)  # what the closing e-mail says agents did
        self.orders = orders
        self._release = self.redis.register_script(_RELEASE)

    async def pending(self) -> List[Dict[str, Any]]:
        """Every job not sent yet, next due first (see :meth:`MailOutbox.pending`)."""
        return await self.outbox.pending()

    async def run(self, stop: asyncio.Event) -> None:
        """Sends due mail every ``poll_seconds`` until ``stop`` is set; survives Redis hiccups."""
        s = self.settings
        log.info("mail worker started (SMTP %s:%s, TLS %s)", s.smtp_host, s.smtp_port, s.smtp_tls_mode)
        if s.smtp_user and s.smtp_tls_mode == "none":
            log.error("SMTP_USER is set with SMTP_TLS=none: no mail will be sent, the login would go in clear; "
                      "set SMTP_TLS to auto, starttls or implicit")
        while not stop.is_set():
            try:
                await self.run_once()
            except (RedisError, OSError) as exc:
                log.warning("mail worker: Redis unavailable (%s); retrying", exc)
            except Exception:
                log.exception("mail worker: unexpected error; retrying")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
        log.info("mail worker stopped")

    async def run_once(self) -> int:
        """Sends every job that is due now.

        Returns:
            How many e-mails were handed to the SMTP server.
        """
        ids = await self.redis.zrangebyscore(self.keys.mail_due(), "-inf", self.clock(), start=0, num=self.batch)
        sent = 0
        for mail_id in ids:
            outcome = await self._process(mail_id)
            count_mail(outcome)
            if outcome == "sent":
                sent += 1
            elif outcome == "unreachable":
                break  # the others are still due and go out on a later round
        return sent

    # -- one job -------------------------------------------------------------------
    async def _process(self, mail_id: str) -> str:
        lock = self.keys.mail_lock(mail_id)
        token = uuid.uuid4().hex
        if not await self.redis.set(lock, token, nx=True, ex=LOCK_SECONDS):
            return "busy"
        try:
            return await self._process_locked(mail_id)
        finally:
            await self._release(keys=[lock], args=[token])

    async def _process_locked(self, mail_id: str) -> str:
        if await self.redis.exists(self.keys.mail_sent(mail_id)):
            await self._forget(mail_id)
            return "skipped"
        raw = await self.redis.hgetall(self.keys.mail(mail_id))
        if not raw:
            await self.redis.zrem(self.keys.mail_due(), mail_id)
            return "skipped"
        job = _job_view(raw)
        if job["kind"] in ORDER_KINDS:
            return await self._process_order_mail(mail_id, job)
        conv = await self.store.get(job["cid"])
        why_not = self._why_not(job, conv)
        if why_not or conv is None:
            log.warning("mail %s (%s for %s) dropped: %s", mail_id, job["kind"], job["cid"], why_not)
            await self._forget(mail_id)
            return "dropped"
        actions = await self.actions.taken(conv.cid, conv.reference) if job["kind"] == "closing" else []
        try:
            message = self._compose(job, conv, mail_id, actions)
        except ValueError as exc:
            log.warning("mail %s (%s for %s) dropped: %s", mail_id, job["kind"], job["cid"], exc)
            await self._forget(mail_id)
            return "dropped"
        return await self._send_job(mail_id, job, message, conv)

    async def _process_order_mail(self, mail_id: str, job: Dict[str, Any]) -> str:
        """An order mail: the order is read again and must still be as the mail says, then sent to its address."""
        params: Dict[str, Any] = job["params"]
        order = await self.orders.get(str(params.get("order_id") or "")) if self.orders is not None else None
        language = str(params.get("language") or "en")
        why_not = await self._why_not_order(job, order)
        message: Optional[EmailMessage] = None
        if not why_not:
            try:
                message = self._compose_order(job, order, mail_id, language)
            except ValueError as exc:
                why_not = str(exc)
        if why_not or message is None:
            log.warning("mail %s (%s for %s) dropped: %s", mail_id, job["kind"], job["cid"], why_not)
            await self._forget(mail_id)
            return "dropped"
        conv = await self.store.get(job["cid"]) or Conversation(cid=job["cid"], language=language)
        return await self._send_job(mail_id, job, message, conv)

    async def _why_not_order(self, job: Dict[str, Any], order: Any) -> str:
        params: Dict[str, Any] = job["params"]
        if order is None:
            return "the order is unknown" if self.orders is not None else "no orders store to check the order"
        if not customer_address(str(order.email)):
            return "the order has no usable e-mail address"
        if job["kind"] == "late_notice":
            if late_order_of(order, datetime.fromtimestamp(self.clock()).date()) is None:
                return f"the order is no longer late (status {order.status})"
            cid = "" if job["cid"].startswith("order:") else job["cid"]
            if await is_opted_out(self.redis, self.keys, cid, str(order.email)):
                return "the customer opted out of notices"
            return ""
        change = str(params.get("change") or "")
        if change == "cancelled" and order.status != "cancelled":
            return f"the order is not cancelled (status {order.status})"
        if change == "address_changed" and order.shipping_address != str(params.get("address") or ""):
            return "the address changed again since (that change has its own mail)"
        return ""

    def _compose_order(self, job: Dict[str, Any], order: Any, mail_id: str, language: str) -> EmailMessage:
        params: Dict[str, Any] = job["params"]
        cid = "" if job["cid"].startswith("order:") else job["cid"]
        if job["kind"] == "late_notice":
            estimate = str(params.get("estimate") or "none")
            when = "" if estimate == "none" else estimate_text(date.fromisoformat(estimate), language)
            return late_notice_mail(order, self.settings, self.texts, language=language, estimate=when, cid=cid,
                                    mail_id=mail_id, now=self.clock())
        details = params.get("details") if isinstance(params.get("details"), dict) else {}
        return order_change_mail(order, str(params.get("change") or ""), self.settings, self.texts,
                                 language=language, details=details or {}, cid=cid, mail_id=mail_id,
                                 now=self.clock())

    async def _send_job(self, mail_id: str, job: Dict[str, Any], message: EmailMessage, conv: Conversation) -> str:
        """Hands a composed mail to the SMTP server; marks it sent, or schedules the next try."""
        try:
            await self._send(message)
        except CleartextLoginRefused as exc:
            log.error("mail %s not sent: %s", mail_id, exc)
            await self._retry(mail_id, str(exc))
            return "unreachable"  # every other job would be refused the same way
        except _UNREACHABLE as exc:
            await self._retry(mail_id, f"SMTP server unreachable: {exc!r}")
            return "unreachable"
        except aiosmtplib.SMTPException as exc:
            attempts = await self._retry(mail_id, f"SMTP error: {exc!r}")
            if self._refused(exc) and attempts >= MAX_REFUSED_ATTEMPTS:
                log.warning("mail %s dropped: recipient refused %d times (%s)", mail_id, attempts, exc)
                await self._forget(mail_id)
                return "dropped"
            return "retry"
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.mail_sent(mail_id), repr(self.clock()), ex=min(SENT_TTL_SECONDS, self.outbox.retention))
        pipe.delete(self.keys.mail(mail_id))
        pipe.zrem(self.keys.mail_due(), mail_id)
        await pipe.execute()
        log.info("mail %s sent: %s for %s to %s", mail_id, job["kind"], job["cid"], message["To"])
        if self.event_log is not None:
            await self.event_log.record(ServiceEventKind.EMAIL_SENT, conv.cid, contact=conv.contact,
                                        channel=conv.channel, language=conv.language,
                                        reason=EVENT_REASONS.get(job["kind"], job["kind"]))
        return "sent"

    @staticmethod
    def _why_not(job: Dict[str, Any], conv: Optional[Conversation]) -> str:
        if conv is None:
            return "the conversation no longer exists"
        if job["kind"] == "code":  # only while the customer still waits for it (sec-ident)
            to = str(job["params"].get("to") or "")
            return "" if to and to == conv.email_unverified and conv.email_requested else "the code is not awaited"
        if not customer_address(conv.email):
            return "no usable e-mail address" if conv.email else "no e-mail address"
        if job["reference"] and conv.reference != job["reference"]:
            return f"belongs to an older handoff ({job['reference']}; now {conv.reference})"
        if job["kind"] == "handoff" and not conv.in_handoff:
            # Gave up, or closed during an SMTP outage: "an agent will reply" would be stale.
            return f"the handoff is over (state {conv.state.value})"
        return ""

    def _compose(
        self, job: Dict[str, Any], conv: Conversation, mail_id: str, actions: Sequence[AgentActionRecord] = ()
    ) -> EmailMessage:
        params: Dict[str, Any] = job["params"]
        now = self.clock()
        if job["kind"] == "code":
            return code_mail(conv, self.settings, self.texts, to=str(params.get("to") or ""),
                             code=str(params.get("code") or ""), minutes=int(params.get("minutes") or 0),
                             mail_id=mail_id, now=now)
        if job["kind"] == "handoff":
            return handoff_summary(
                conv,
                self.settings,
                self.texts,
                position=int(params.get("position") or 0),
                eta_minutes=int(params.get("eta_minutes") or 0),
                after_hours=bool(params.get("after_hours", conv.after_hours)),
                next_opening=_opening(params.get("next_opening")),
                mail_id=mail_id,
                now=now,
            )
        return closing_summary(conv, self.settings, self.texts, self._agent(params, conv), actions=actions,
                               mail_id=mail_id, now=now)

    def _agent(self, params: Dict[str, Any], conv: Conversation) -> Agent:
        agent_id = str(params.get("agent_id") or conv.agent_id or "")
        agent = self.agents.get(agent_id) if agent_id else None
        if agent is not None:
            return agent
        # The agent left the directory since: sign with what is known rather than lose the mail.
        name = str(params.get("agent_name") or conv.agent_name or parseaddr(self.settings.mail_from)[0])
        return Agent(agent_id=agent_id, name=name)

    async def _send(self, message: EmailMessage) -> None:
        """Hands ``message`` to the SMTP server, encrypted as ``SMTP_TLS`` says.

        Raises:
            CleartextLoginRefused: A login is configured and the connection is not encrypted
                (nothing was sent, no ``AUTH`` command either).
            aiosmtplib.SMTPException: The server refused or failed.
            OSError: The server could not be reached.
        """
        s = self.settings
        mode = s.smtp_tls_mode
        if s.smtp_user and mode == "none":
            raise CleartextLoginRefused(
                "SMTP_USER is set but SMTP_TLS=none: the password would be sent in clear; "
                "set SMTP_TLS to auto, starttls or implicit")
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=mode == "implicit",
            # None: STARTTLS whenever the server offers it (aiosmtplib's opportunistic default).
            start_tls={"auto": None, "starttls": True}.get(mode, False),
            tls_context=self.tls_context,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
        await smtp.connect()
        try:
            if s.smtp_user:
                if smtp.get_transport_info("sslcontext") is None:
                    raise CleartextLoginRefused(
                        f"SMTP server {s.smtp_host}:{s.smtp_port} does not offer STARTTLS and SMTP_USER is set: "
                        "the password would be sent in clear; use SMTP_TLS=implicit or a server with TLS")
                await smtp.login(s.smtp_user, s.smtp_password)
            await smtp.send_message(message)
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass  # the message was accepted; a failed goodbye must not send it twice
        finally:
            smtp.close()

    async def _retry(self, mail_id: str, error: str) -> int:
        attempts = int(await self.redis.hincrby(self.keys.mail(mail_id), "attempts", 1))
        due = self.clock() + backoff_seconds(attempts)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.mail(mail_id), mapping={"last_error": error[:500], "due_at": repr(due)})
        pipe.zadd(self.keys.mail_due(), {mail_id: due}, xx=True)
        await pipe.execute()
        log.warning("mail %s not sent (attempt %d, next in %.0f s): %s", mail_id, attempts, due - self.clock(), error)
        return attempts

    @staticmethod
    def _refused(exc: aiosmtplib.SMTPException) -> bool:
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            return all(getattr(r, "code", 0) >= 500 for r in exc.recipients)
        return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500

    async def _forget(self, mail_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.mail(mail_id))
        pipe.zrem(self.keys.mail_due(), mail_id)
        await pipe.execute()
