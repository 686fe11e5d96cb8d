"""Kesher's settings: one typed class, the only reader of the environment.

Every setting is written once below, with its environment variable, its
default and what it is for. Every process builds its settings with
:meth:`Settings.from_env`; the supervisor hands them to its children with
:meth:`Settings.child_env`, which also sets what Rasa's ``${VAR}``
interpolation in ``endpoints.yml`` and ``credentials.yml`` reads. Values that
are only fit for a laptop demo are marked ``DEMO DEFAULT``; production sets
them in the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from pydantic import BaseModel, Field, root_validator, validator

from core.language import Language

__all__ = ["PROJECT_ROOT", "Settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    """Where each part listens, where its data lives, and the secrets it uses."""

    class Config:
        """Immutable, no unknown settings, defaults validated too."""

        frozen = True
        extra = "forbid"
        validate_all = True

    # -- files ------------------------------------------------------------------------
    var_dir: Path = Field(default=PROJECT_ROOT / "var", env="KESHER_VAR_DIR",
                          description="Runtime state: orders DB, Redis dump, logs, mail (git-ignored).")
    orders_db_url: str = Field(default="", env="ORDERS_DB_URL",
                               description="SQLAlchemy URL of the orders database (default: SQLite in var_dir).")
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
    tracker_key_prefix: str = Field(default="kesher", env="KESHER_TRACKER_PREFIX",
                                    description="Key prefix of Rasa's tracker and lock stores (endpoints.yml).")

    # -- Rasa and the action server -----------------------------------------------------
    rasa_port: int = Field(default=5005, env="RASA_PORT", description="Port of `rasa run` (channels and HTTP API).")
    actions_port: int = Field(default=5055, env="ACTIONS_PORT", description="Port of the action server.")
    # DEMO DEFAULT: set RASA_API_TOKEN in production.
    rasa_api_token: str = Field(default="kesher-demo-token", env="RASA_API_TOKEN",
                                description="Token of Rasa's HTTP API (--auth-token). DEMO DEFAULT.")
    model_server_port: int = Field(default=5090, env="MODEL_SERVER_PORT", description="Port of the local model server.")
    model_url: str = Field(default="", env="KESHER_MODEL_URL",
                           description="Where `rasa run` pulls its model (default: the local model server).")
    model_pull_seconds: int = Field(default=10, env="KESHER_MODEL_PULL_SECONDS",
                                    description="How often `rasa run` asks the model server for a new model.")
    rasa_cache_dir: Path = Field(default=PROJECT_ROOT / ".rasa" / "cache", env="RASA_CACHE_DIRECTORY",
                                 description="Rasa's training cache, shared by every copy of the content.")
    rasa_cache_mb: int = Field(default=4000, env="RASA_MAX_CACHE_SIZE",
                               description="Rasa's training cache size in MB (its 1 GB default evicts the model).")

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

    # -- e-mail --------------------------------------------------------------------------------
    smtp_host: str = Field(default="127.0.0.1", env="SMTP_HOST", description="SMTP server (make up runs a local one).")
    smtp_port: int = Field(default=8025, env="SMTP_PORT", description="SMTP port.")
    smtp_user: str = Field(default="", env="SMTP_USER", description="SMTP login; empty: none.")
    smtp_password: str = Field(default="", env="SMTP_PASSWORD", description="SMTP password.")
    smtp_starttls: bool = Field(default=False, env="SMTP_STARTTLS", description="Upgrade SMTP with STARTTLS.")
    # DEMO DEFAULT: set MAIL_FROM to the shop's own address in production.
    mail_from: str = Field(default="Kesher Support <support@kesher.example>", env="MAIL_FROM",
                           description="Sender of customer e-mails. DEMO DEFAULT.")

    # -- channels ---------------------------------------------------------------------------------
    callback_url: str = Field(default="", env="KESHER_CALLBACK_URL",
                              description="Where the loopback channel POSTs replies (empty: off).")
    public_url: str = Field(default="", env="KESHER_PUBLIC_URL",
                            description="The public HTTPS base URL of `rasa run` (Twilio signs against it).")
    # DEMO DEFAULTS below: set KESHER_WEB_SECRET, TWILIO_* and TELEGRAM_* in production.
    web_secret: str = Field(default="kesher-demo-web-secret", env="KESHER_WEB_SECRET",
                            description="Signs web-widget sessions. DEMO DEFAULT.")
    twilio_account_sid: str = Field(default="AC00000000000000000000000000000000", env="TWILIO_ACCOUNT_SID",
                                    description="Twilio account for WhatsApp. DEMO DEFAULT.")
    twilio_auth_token: str = Field(default="kesher-demo-twilio-token", env="TWILIO_AUTH_TOKEN",
                                   description="Twilio's auth token (API calls, webhook signatures). DEMO DEFAULT.")
    twilio_whatsapp_from: str = Field(default="whatsapp:+14155238886", env="TWILIO_WHATSAPP_FROM",
                                      description="The business's WhatsApp sender. DEMO DEFAULT.")
    twilio_api_base: str = Field(default="https://api.twilio.com", env="TWILIO_API_BASE",
                                 description="Twilio's REST API (tests point it at a local stand-in).")
    telegram_token: str = Field(default="123456:kesher-demo-telegram-token", env="TELEGRAM_TOKEN",
                                description="The Telegram bot's token. DEMO DEFAULT.")
    telegram_secret_token: str = Field(default="kesher-demo-telegram-secret", env="TELEGRAM_SECRET_TOKEN",
                                       description="What Telegram must send in its secret-token header. DEMO DEFAULT.")
    telegram_api_base: str = Field(default="https://api.telegram.org", env="TELEGRAM_API_BASE",
                                   description="Telegram's Bot API (tests point it at a local stand-in).")

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
        return values

    # -- derived defaults ---------------------------------------------------------------------------
    @validator("orders_db_url", always=True)
    def _orders_db(cls, value: str, values: Dict[str, Any]) -> str:
        return value or f"sqlite:///{Path(values.get('var_dir') or PROJECT_ROOT / 'var') / 'orders.db'}"

    @validator("mail_dir", always=True)
    def _mail_dir(cls, value: Path, values: Dict[str, Any]) -> Path:
        return value if value != Path() else Path(values.get("var_dir") or PROJECT_ROOT / "var") / "mail"

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
        and ``PYTHONPATH`` so it finds Kesher's components.

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
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
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
        """URL Rasa calls to run custom actions."""
        return f"http://127.0.0.1:{self.actions_port}/webhook"
