"""Every Redis key the handoff service, the channels and the actions use.

One place builds them all, each under one prefix, so an operator can see (and
a second deployment can avoid) everything Kesher keeps in a shared Redis. The
Rasa tracker and lock stores use their own prefix from ``endpoints.yml``
(:class:`TrackerKeys` builds the tracker store's keys).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIX", "DEFAULT_TRACKER_PREFIX", "RedisKeys", "TrackerKeys"]

DEFAULT_PREFIX = "kesher:ho:"
DEFAULT_TRACKER_PREFIX = "kesher"


@dataclass(frozen=True)
class RedisKeys:
    """Builds key names under ``prefix``.

    Attributes:
        prefix: Prepended to every key (``kesher:ho:`` by default).
    """

    prefix: str = DEFAULT_PREFIX

    # -- conversations -------------------------------------------------
    def conversation(self, cid: str) -> str:
        """Hash: the handoff state and facts of one conversation (see ``models.Conversation``)."""
        return f"{self.prefix}conv:{cid}"

    def events(self, cid: str) -> str:
        """Stream: what was said during the handoff (customer, agent, system, notes)."""
        return f"{self.prefix}conv:{cid}:events"

    def queue(self) -> str:
        """Sorted set of queued conversation ids; lowest score is served first."""
        return f"{self.prefix}queue"

    def feed(self) -> str:
        """Stream of every change, read by consoles and the assigner to stay live."""
        return f"{self.prefix}feed"

    def service_events(self) -> str:
        """Stream of service events (turns, handoffs, CSAT...) on their way to the event log's database."""
        return f"{self.prefix}service-events"

    def session_contact(self, cid: str) -> str:
        """String: the conversation's current bot session (``contact_id``), set by the tracker store at its start."""
        return f"{self.prefix}conv:{cid}:contact"

    def outbound(self) -> str:
        """Stream of messages for customers, read by the channels' delivery worker."""
        return f"{self.prefix}outbound"

    def delivered(self, message_id: str) -> str:
        """String set once an outbound message went out (``SET NX EX``)."""
        return f"{self.prefix}delivered:{message_id}"

    def arrivals_prefix(self) -> str:
        """Prefix of the inbound ticket locks (``TrackerKeys(prefix).lock_queue(channel:address)``...).

        One per customer address, taken when a message arrives, so the replicas handle an address's
        messages one at a time in arrival order.
        """
        return f"{self.prefix}arrival"

    def outbound_order(self, cid: str) -> str:
        """List: the ids of a conversation's outbound messages not yet sent or given up on, in stream order.

        Pushed in the same transaction as the stream entry; the delivery workers (of every process)
        send only the head, so a conversation's messages go out in the order they were queued.
        """
        return f"{self.prefix}outbound-order:{cid}"

    def handle_times(self) -> str:
        """List of recent handling times in seconds, newest first (for wait estimates)."""
        return f"{self.prefix}handle-times"

    def history(self, customer_key: str) -> str:
        """List of earlier handoff records (JSON) of one customer, newest first.

        The customer key (an e-mail address or a conversation id) is hashed, so key names list no customer.
        """
        digest = hashlib.sha256(customer_key.encode("utf-8")).hexdigest()[:40]
        return f"{self.prefix}history:{digest}"

    def closed(self) -> str:
        """Sorted set of closed conversation ids by close time (reports, CSAT)."""
        return f"{self.prefix}closed"

    # -- agents ----------------------------------------------------------
    def agent(self, agent_id: str) -> str:
        """Hash: presence, capacity and skills of one agent."""
        return f"{self.prefix}agent:{agent_id}"

    def agent_chats(self, agent_id: str) -> str:
        """Set of the conversation ids an agent holds."""
        return f"{self.prefix}agent:{agent_id}:chats"

    def agents_online(self) -> str:
        """Set of the ids of agents who are online."""
        return f"{self.prefix}agents:online"

    def agents_seen(self) -> str:
        """Sorted set: agent id → epoch seconds of their console's last heartbeat (presence sweeper)."""
        return f"{self.prefix}agents:seen"

    def agent_moved(self, agent_id: str) -> str:
        """List (JSON, newest first, capped, expiring): chats taken from an agent and why, for their console."""
        return f"{self.prefix}agent:{agent_id}:moved"

    def lease(self, name: str) -> str:
        """String held for a moment by the one replica doing a shared job (``SET NX PX``)."""
        return f"{self.prefix}lease:{name}"

    def typing(self, cid: str) -> str:
        """String with a short TTL while someone types in a conversation."""
        return f"{self.prefix}conv:{cid}:typing"

    # -- console security (sec-console) --
    def session(self, digest: str) -> str:
        """Hash: a console login session, under the SHA-256 of its token (the token itself is never stored)."""
        return f"{self.prefix}session:{digest}"

    def agent_sessions(self, agent_id: str) -> str:
        """Set: the session digests of one agent (a password change ends them all)."""
        return f"{self.prefix}agent:{agent_id}:sessions"

    def login_source(self, source: str) -> str:
        """Hash: recent login attempts from one source address, and until when it must wait (expires)."""
        return f"{self.prefix}login:source:{source}"

    def login_pair(self, source: str, agent_id: str) -> str:
        """Hash: recent login attempts for one agent id from one source address (expires)."""
        return f"{self.prefix}login:pair:{source}:{agent_id.strip().lower()[:64]}"

    def login_account(self, agent_id: str) -> str:
        """Hash: recent login attempts for one agent id from anywhere; only slows logins down (expires)."""
        return f"{self.prefix}login:account:{agent_id.strip().lower()[:64]}"

    def console_ui_language(self, agent_id: str) -> str:
        """String: the console language an agent chose (``he`` or ``en``), kept across logins."""
        return f"{self.prefix}agent:{agent_id}:ui-language"

    # -- mail ----------------------------------------------------------
    def mail(self, mail_id: str) -> str:
        """Hash: one queued e-mail job."""
        return f"{self.prefix}mail:{mail_id}"

    def mail_due(self) -> str:
        """Sorted set of e-mail job ids by the time they are next due."""
        return f"{self.prefix}mail:due"

    def mail_sent(self, mail_id: str) -> str:
        """String set when an e-mail was handed to the SMTP server (dedup)."""
        return f"{self.prefix}mail:sent:{mail_id}"

    def mail_lock(self, mail_id: str) -> str:
        """String held while one worker sends an e-mail (``SET NX EX``)."""
        return f"{self.prefix}mail:lock:{mail_id}"

    # -- identity (sec-ident) ---------------------------------------------
    def verified_contacts(self, cid: str) -> str:
        """Set: hashes of the e-mail addresses the customer of a conversation proved are theirs."""
        return f"{self.prefix}conv:{cid}:verified"

    def email_code(self, cid: str) -> str:
        """Hash: the one-time e-mail code a conversation waits for (hashed, with its address hash; expires)."""
        return f"{self.prefix}conv:{cid}:email-code"

    def email_codes_sent(self, scope: str, digest: str) -> str:
        """Counter: code e-mails sent in the current hour, per ``address`` or per ``conversation`` (expires)."""
        return f"{self.prefix}email-codes:{scope}:{digest}"

    def link_notice(self, cid: str) -> str:
        """String (JSON): channel → address that just joined a conversation (until objected to or expired)."""
        return f"{self.prefix}conv:{cid}:joined"

    def activity(self, cid: str) -> str:
        """String: when the customer of a conversation last wrote (expires after the linking window)."""
        return f"{self.prefix}conv:{cid}:active"

    # -- channels (#4) ---------------------------------------------------
    def seen(self, channel: str, provider_message_id: str) -> str:
        """String marking a provider message id as processed (idempotency)."""
        return f"{self.prefix}seen:{channel}:{provider_message_id}"

    def identity(self, channel: str, address: str) -> str:
        """String: the conversation id a channel address (phone, chat, web session) writes to."""
        return f"{self.prefix}identity:{channel}:{address}"

    def addresses(self, cid: str) -> str:
        """Hash: channel name → the customer's address on it, for a conversation."""
        return f"{self.prefix}conv:{cid}:addresses"

    def contact(self, digest: str) -> str:
        """String: the conversation of the customer who verified a contact (keyed by its hash)."""
        return f"{self.prefix}contact:{digest}"

    def options(self, cid: str) -> str:
        """String (JSON): the numbered options last offered on a channel without buttons."""
        return f"{self.prefix}conv:{cid}:options"

    def button_payload(self, digest: str) -> str:
        """String: a button payload too long for the channel, by a short digest."""
        return f"{self.prefix}payload:{digest}"

    def upload(self, upload_id: str) -> str:
        """Hash: an image a web customer sent during a handoff (``body``, ``content_type``, ``cid``), by a random id."""
        return f"{self.prefix}upload:{upload_id}"

    def web_history(self, cid: str) -> str:
        """List (JSON): the widget's message history of a web conversation, oldest first."""
        return f"{self.prefix}web:{cid}:history"

    def web_seq(self, cid: str) -> str:
        """Counter: the last sequence number given to a web conversation's message."""
        return f"{self.prefix}web:{cid}:seq"

    def customer_signals(self) -> str:
        """Pub/sub channel: pushes for connected customers (web messages, agent typing)."""
        return f"{self.prefix}customer-signals"

    def provider_message(self, channel: str, provider_id: str) -> str:
        """Hash: our message id and conversation for a message the provider accepted."""
        return f"{self.prefix}sent:{channel}:{provider_id}"

    def delivery_status(self, cid: str) -> str:
        """Hash: message id → the provider's last delivery status (sent, delivered, read, failed)."""
        return f"{self.prefix}conv:{cid}:delivery"

    # -- delivery (sec-deliv) --------------------------------------------
    def delivery_attempts(self, message_id: str) -> str:
        """Hash: the failed attempts, next try and last error of an outbound message being retried."""
        return f"{self.prefix}delivery-attempts:{message_id}"

    def bot_failure(self, channel: str, provider_message_id: str) -> str:
        """Hash: the conversation and text of a customer message the bot failed on, until it is handled."""
        return f"{self.prefix}bot-failure:{channel}:{provider_message_id}"

    def bot_failures_due(self, channel: str) -> str:
        """Sorted set: provider message ids the bot failed on, by when a person takes them if not retried."""
        return f"{self.prefix}bot-failures-due:{channel}"

    def undelivered(self) -> str:
        """Stream: replies given up on (dead letters) for agents to see; capped, trimmed by age, expiring.

        Fields: ``message_id``, ``cid``, ``channel``, ``kind``, ``text``, ``error`` (the last one),
        ``attempts``, ``refused`` (``1``: the provider refused it) and ``at`` (epoch seconds).
        """
        return f"{self.prefix}undelivered"

    # -- agents acting on orders (#17) ----------------------------------------
    def agent_actions(self, cid: str, reference: str) -> str:
        """List: what agents did to orders in one handoff (JSON records, oldest first); expires with the retention."""
        return f"{self.prefix}agent-actions:{cid}:{reference}"

    # -- callbacks and dismissed questions (#18) ---------------------------
    def callback(self, callback_id: str) -> str:
        """Hash: one "call me back" request (``handoff/callbacks.py``: phone, preferred time, state...)."""
        return f"{self.prefix}callback:{callback_id}"

    def callbacks_open(self) -> str:
        """Sorted set: open callback request ids by their preferred time (epoch seconds)."""
        return f"{self.prefix}callbacks:open"

    def callbacks_closed(self) -> str:
        """Sorted set: closed callback request ids by when they were closed (the newest are listed)."""
        return f"{self.prefix}callbacks:closed"

    def dismissed_questions(self, language: str) -> str:
        """Hash: wordings (normalised) writers dismissed on the unanswered page → who and when."""
        return f"{self.prefix}questions:dismissed:{language}"

    # -- channel security (sec-chan) ----------------------------------------
    def rate(self, scope: str, subject: str) -> str:
        """Counter (expires with its window): requests of one kind from one source or sender.

        Args:
            scope: What is counted (``web-session:source``, ``message:sender``...).
            subject: Who is counted (a client address, a channel address); hashed, so no
                phone number or address appears in key names.
        """
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self.prefix}rate:{scope}:{digest}"

    # -- proactive notices and order e-mails (#17) --------------------------
    def notice_once(self, order_id: str, estimate: str) -> str:
        """String set once a late-order notice for one order and one estimate went out (``SET NX EX``)."""
        return f"{self.prefix}notice:{order_id}:{estimate}"

    def notice_optout(self, subject: str) -> str:
        """String: the customer of a conversation, or of a hashed e-mail, asked for no more notices."""
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self.prefix}notice-optout:{digest}"

    def last_channel(self, cid: str) -> str:
        """String: the channel the customer of a conversation last wrote on."""
        return f"{self.prefix}conv:{cid}:last-channel"

    def whatsapp_window(self, address: str) -> str:
        """String (epoch seconds), expiring after 24 h: the customer's last WhatsApp message (its free-form window)."""
        digest = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self.prefix}wa-window:{digest}"


@dataclass(frozen=True)
class TrackerKeys:
    """The keys of Kesher's tracker store (``bot/tracker_store.py``), under ``endpoints.yml``'s ``key_prefix``.

    Attributes:
        prefix: ``tracker_store.key_prefix`` (``kesher`` by default; ``KESHER_TRACKER_PREFIX``).
    """

    prefix: str = DEFAULT_TRACKER_PREFIX

    def events(self, sender: str) -> str:
        """List: every event of a conversation (JSON, one per item), oldest first; only ever appended to."""
        return f"{self.prefix}:events:{sender}"

    def window(self, sender: str) -> str:
        """Hash: where the bot's read of a conversation starts (``start``) and the state there (``base``, JSON)."""
        return f"{self.prefix}:window:{sender}"

    def legacy(self, sender: str) -> str:
        """String: a conversation in Rasa's own Redis format (the whole tracker as one JSON), read to migrate it.

        Rasa's ``RedisTrackerStore`` names it ``<prefix>:tracker:<sender>``, or ``tracker:<sender>`` when the
        prefix is not alphanumeric (Rasa then ignores it).
        """
        return f"{self._legacy_prefix()}{sender}"

    def lock_queue(self, sender: str) -> str:
        """Sorted set: the tickets of the messages waiting for a conversation's lock, served lowest first."""
        return f"{self.prefix}:lock-queue:{sender}"

    def lock_tickets(self, sender: str) -> str:
        """Hash: each waiting ticket's deadline (ms), and ``next``, the last ticket given out."""
        return f"{self.prefix}:lock-tickets:{sender}"

    def events_pattern(self) -> str:
        """``SCAN`` pattern of every conversation's event list."""
        return f"{_glob_escape(self.prefix)}:events:*"

    def legacy_pattern(self) -> str:
        """``SCAN`` pattern of every conversation still in Rasa's own format."""
        return f"{_glob_escape(self._legacy_prefix())}*"

    def sender_of(self, key: str) -> str:
        """The conversation id in an events or legacy key."""
        for head in (f"{self.prefix}:events:", self._legacy_prefix()):
            if key.startswith(head):
                return key[len(head):]
        raise ValueError(f"not a tracker key: {key!r}")

    def _legacy_prefix(self) -> str:
        return f"{self.prefix}:tracker:" if self.prefix.isalnum() else "tracker:"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
