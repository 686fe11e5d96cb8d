"""Runtime settings, read from the environment.

Every process of Kesher (the supervisor, the action server, tests and benchmarks)
builds its settings here, so a variable means the same thing everywhere. Values
that are only fit for a laptop demo are marked ``DEMO DEFAULT``; production sets
them in the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from redis.asyncio import Redis as AsyncRedis

__all__ = ["PROJECT_ROOT", "Settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Where each part listens and where its data lives.

    Attributes:
        var_dir: Runtime state (SQLite orders DB, Redis dump, logs). Git-ignored.
        orders_db_url: SQLAlchemy URL of the orders database.
        kb_dir: Folder with ``he/`` and ``en/`` Markdown knowledge-base articles.
        redis_host: Redis host for the tracker store and lock store.
        redis_port: Redis port.
        redis_password: Redis password; empty means no AUTH.
        redis_db: Redis database number.
        rasa_port: Port of ``rasa run``.
        actions_port: Port of the rasa_sdk action server.
        rasa_api_token: Token for Rasa's HTTP API (``--auth-token``).
        default_language: Language used before a customer has written a word.
        model_dir: Folder of trained models.
        handoff_port: Port of the handoff service (agent console and its API).
        smtp_host: SMTP server for customer e-mails (``make up`` runs a local one).
        smtp_port: SMTP port.
        smtp_user: SMTP login; empty means none.
        smtp_password: SMTP password.
        smtp_starttls: Whether to upgrade the SMTP connection with STARTTLS.
        mail_from: Sender of customer e-mails.
        agents_file: YAML file of agents and teams.
        mail_dir: Where the local SMTP server stores the .eml files it receives.
        handoff_policy: YAML file of handoff triggers, routing and business hours.
        callback_url: Where the loopback ``kesher_callback`` channel POSTs replies ("" = off).
        public_url: The address the internet reaches ``rasa run`` at ("" = as each request says);
            Twilio signs webhooks against it and status callbacks and Telegram's webhook use it.
        web_secret: Signs web-widget sessions.
        twilio_account_sid: Twilio account for WhatsApp.
        twilio_auth_token: Twilio's auth token (API calls and webhook signatures).
        twilio_whatsapp_from: The business's WhatsApp sender, ``whatsapp:+...``.
        twilio_api_base: Twilio's REST API (tests point it at a local fake).
        telegram_token: The Telegram bot's token.
        telegram_secret_token: What Telegram must send in ``X-Telegram-Bot-Api-Secret-Token``.
        telegram_api_base: Telegram's Bot API (tests point it at a local fake).
        model_server_port: Where the local model server listens (``make up``).
        model_url: Where ``rasa run`` pulls its model ("" = the local model server).
        model_pull_seconds: How often ``rasa run`` asks the model server for a new model.
        content_dir: The project whose ``data/`` the writers' pages add examples to.
        tracker_key_prefix: ``tracker_store.key_prefix`` of ``endpoints.yml``.
    """

    var_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")
    orders_db_url: str = ""
    kb_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "data" / "kb")
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str = ""
    redis_db: int = 0
    rasa_port: int = 5005
    actions_port: int = 5055
    # DEMO DEFAULT: set RASA_API_TOKEN in production.
    rasa_api_token: str = "kesher-demo-token"
    default_language: str = "en"
    model_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "models")
    handoff_port: int = 5080
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # DEMO DEFAULT: set MAIL_FROM to the shop's own address in production.
    mail_from: str = "Kesher Support <support@kesher.example>"
    agents_file: Path = field(default_factory=lambda: PROJECT_ROOT / "handoff" / "agents.yml")
    mail_dir: Path = field(default_factory=Path)
    handoff_policy: Path = field(default_factory=lambda: PROJECT_ROOT / "handoff" / "policy.yml")
    callback_url: str = ""
    public_url: str = ""
    # DEMO DEFAULTS below: set KESHER_WEB_SECRET, TWILIO_* and TELEGRAM_* in production.
    web_secret: str = "kesher-demo-web-secret"
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "kesher-demo-twilio-token"
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_api_base: str = "https://api.twilio.com"
    telegram_token: str = "123456:kesher-demo-telegram-token"
    telegram_secret_token: str = "kesher-demo-telegram-secret"
    telegram_api_base: str = "https://api.telegram.org"
    model_server_port: int = 5090
    model_url: str = ""
    model_pull_seconds: int = 10
    content_dir: Path = PROJECT_ROOT
    tracker_key_prefix: str = "kesher"

    def __post_init__(self) -> None:
        if not self.orders_db_url:
            object.__setattr__(
                self, "orders_db_url", f"sqlite:///{self.var_dir / 'orders.db'}"
            )
        if self.mail_dir == Path():
            object.__setattr__(self, "mail_dir", self.var_dir / "mail")
        if self.default_language not in ("he", "en"):
            raise ValueError("KESHER_DEFAULT_LANGUAGE must be 'he' or 'en'")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Builds settings from environment variables.

        Args:
            env: Mapping to read instead of ``os.environ`` (tests pass their own).

        Returns:
            The settings; unset variables take the local defaults.
        """
        env = os.environ if env is None else env
        var_dir = Path(env.get("KESHER_VAR_DIR") or PROJECT_ROOT / "var")
        return cls(
            var_dir=var_dir,
            orders_db_url=env.get("ORDERS_DB_URL", ""),
            kb_dir=Path(env.get("KESHER_KB_DIR") or PROJECT_ROOT / "data" / "kb"),
            redis_host=env.get("REDIS_HOST") or "127.0.0.1",
            redis_port=_int(env, "REDIS_PORT", 6379),
            redis_password=env.get("REDIS_PASSWORD", ""),
            redis_db=_int(env, "REDIS_DB", 0),
            rasa_port=_int(env, "RASA_PORT", 5005),
            actions_port=_int(env, "ACTIONS_PORT", 5055),
            rasa_api_token=env.get("RASA_API_TOKEN") or cls.rasa_api_token,
            default_language=env.get("KESHER_DEFAULT_LANGUAGE") or "en",
            model_dir=Path(env.get("KESHER_MODEL_DIR") or PROJECT_ROOT / "models"),
            handoff_port=_int(env, "HANDOFF_PORT", 5080),
            smtp_host=env.get("SMTP_HOST") or "127.0.0.1",
            smtp_port=_int(env, "SMTP_PORT", 8025),
            smtp_user=env.get("SMTP_USER", ""),
            smtp_password=env.get("SMTP_PASSWORD", ""),
            smtp_starttls=env.get("SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            mail_from=env.get("MAIL_FROM") or cls.mail_from,
            agents_file=Path(env.get("KESHER_AGENTS_FILE") or PROJECT_ROOT / "handoff" / "agents.yml"),
            mail_dir=Path(env.get("KESHER_MAIL_DIR") or var_dir / "mail"),
            handoff_policy=Path(env.get("KESHER_HANDOFF_POLICY") or PROJECT_ROOT / "handoff" / "policy.yml"),
            callback_url=env.get("KESHER_CALLBACK_URL", ""),
            public_url=env.get("KESHER_PUBLIC_URL", ""),
            web_secret=env.get("KESHER_WEB_SECRET") or cls.web_secret,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or cls.twilio_account_sid,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or cls.twilio_auth_token,
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or cls.twilio_whatsapp_from,
            twilio_api_base=env.get("TWILIO_API_BASE") or cls.twilio_api_base,
            telegram_token=env.get("TELEGRAM_TOKEN") or cls.telegram_token,
            telegram_secret_token=env.get("TELEGRAM_SECRET_TOKEN") or cls.telegram_secret_token,
            telegram_api_base=env.get("TELEGRAM_API_BASE") or cls.telegram_api_base,
            model_server_port=_int(env, "MODEL_SERVER_PORT", 5090),
            model_url=env.get("KESHER_MODEL_URL", ""),
            model_pull_seconds=_int(env, "KESHER_MODEL_PULL_SECONDS", 10),
            content_dir=Path(env.get("KESHER_CONTENT_DIR") or PROJECT_ROOT),
        )

    def with_ports(
        self, *, redis: int, rasa: int, actions: int, handoff: int = 0, smtp: int = 0, models: int = 0
    ) -> Settings:
        """Returns a copy listening on other ports (tests use free ports)."""
        return replace(
            self,
            redis_port=redis,
            rasa_port=rasa,
            actions_port=actions,
            handoff_port=handoff or self.handoff_port,
            smtp_port=smtp or self.smtp_port,
            model_server_port=models or self.model_server_port,
        )

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

    def redis_client(self) -> AsyncRedis:
        """A new asyncio Redis client (strings in, strings out); connects on first use."""
        from redis.asyncio import Redis

        return Redis(
            host=self.redis_host,
            port=self.redis_port,
            password=self.redis_password or None,
            db=self.redis_db,
            decode_responses=True,
        )

    @property
    def action_server_url(self) -> str:
        """URL Rasa calls to run custom actions."""
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    def process_env(self) -> dict[str, str]:
        """Environment variables that hand these settings to a child process.

        ``endpoints.yml`` reads the Redis and action-server values through
        Rasa's ``${VAR}`` interpolation, so every variable it names is set here.
        """
        return {
            "KESHER_VAR_DIR": str(self.var_dir),
            "ORDERS_DB_URL": self.orders_db_url,
            "KESHER_KB_DIR": str(self.kb_dir),
            "REDIS_HOST": self.redis_host,
            "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD": self.redis_password,
            "REDIS_DB": str(self.redis_db),
            "RASA_PORT": str(self.rasa_port),
            "ACTIONS_PORT": str(self.actions_port),
            "ACTION_SERVER_URL": self.action_server_url,
            "RASA_API_TOKEN": self.rasa_api_token,
            "KESHER_DEFAULT_LANGUAGE": self.default_language,
            "KESHER_MODEL_DIR": str(self.model_dir),
            "HANDOFF_PORT": str(self.handoff_port),
            "SMTP_HOST": self.smtp_host,
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_USER": self.smtp_user,
            "SMTP_PASSWORD": self.smtp_password,
            "SMTP_STARTTLS": "1" if self.smtp_starttls else "0",
            "MAIL_FROM": self.mail_from,
            "KESHER_AGENTS_FILE": str(self.agents_file),
            "KESHER_MAIL_DIR": str(self.mail_dir),
            "KESHER_HANDOFF_POLICY": str(self.handoff_policy),
            "KESHER_CALLBACK_URL": self.callback_url,
            "KESHER_PUBLIC_URL": self.public_url,
            "KESHER_WEB_SECRET": self.web_secret,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_WHATSAPP_FROM": self.twilio_whatsapp_from,
            "TWILIO_API_BASE": self.twilio_api_base,
            "TELEGRAM_TOKEN": self.telegram_token,
            "TELEGRAM_SECRET_TOKEN": self.telegram_secret_token,
            "TELEGRAM_API_BASE": self.telegram_api_base,
            "MODEL_SERVER_PORT": str(self.model_server_port),
            "KESHER_MODEL_URL": self.model_server_url,
            "KESHER_MODEL_PULL_SECONDS": str(self.model_pull_seconds),
            "KESHER_CONTENT_DIR": str(self.content_dir),
        }
