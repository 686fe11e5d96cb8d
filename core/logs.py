"""What Kesher's processes never write to a log: secrets, bot tokens, customers' contacts.

Every process entry point calls :func:`install_log_redaction` once (the CLI's
``serve`` commands, the action server through them, and ``rasa run``'s channel
runtime). It does two things:

* the HTTP client libraries that log each request's URL at INFO (httpx,
  httpcore, aiohttp's client, urllib3; the Telegram bot token is part of
  every Bot API URL) are set to WARNING;
* a :class:`RedactingFilter` runs on every log record the process creates,
  whichever logger, handler or formatter Rasa or Sanic configure later (it is
  installed in the record factory as well as on the root handlers): it
  replaces ``bot<digits>:<token>`` patterns, ``token=`` query values and the
  secrets from the settings by ``[redacted]``, and in Kesher's own records
  masks e-mail addresses and phone numbers (conversation ids such as
  ``whatsapp:+9725…`` included). Card numbers are not looked for in log lines:
  Kesher logs no message text, and 13-digit timestamps and stream ids would
  pass for cards one time in ten.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any, Callable, Iterable, Optional, Tuple

from core.masking import mask_contacts
from core.settings import Settings

__all__ = ["KESHER_LOGGERS", "NOISY_LOGGERS", "REDACTED", "RedactingFilter", "install_log_redaction"]

REDACTED = "[redacted]"
# Loggers that write a request's full URL at INFO or DEBUG.
NOISY_LOGGERS = ("httpx", "httpcore", "aiohttp.client", "aiohttp.access", "urllib3", "telegram.request",
                 "hpack", "websockets.client")
# Kesher's own packages: their records also get contacts masked.
KESHER_LOGGERS = ("core", "edge", "handoff", "actions", "bot", "writers", "wiring", "connectors", "console",
                  "kesher", "bench", "__main__")

_BOT_TOKEN = re.compile(r"\bbot\d{3,}:[A-Za-z0-9_-]{10,}")
_BARE_TOKEN = re.compile(r"\b\d{6,}:[A-Za-z0-9_-]{30,}\b")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:token|auth_token|access_token|secret|password|key)=)[^&\s'\"]+")
# Secrets shorter than this are not searched for: they would redact ordinary words.
MIN_SECRET_LENGTH = 6


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) without secrets; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Keeps the secrets to hide.

        Args:
            secrets: Exact values never to write (API tokens, passwords); short ones are ignored.
        """
        super().__init__()
        self.secrets: Tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Replaces the secrets to hide (a second install with other settings adds its own)."""
        found = {s for s in (*self.secrets, *secrets) if len(s) >= MIN_SECRET_LENGTH}
        self.secrets = tuple(sorted(found, key=len, reverse=True))  # longest first: a secret inside another

    def redact(self, text: str, *, contacts: bool = False) -> str:
        """``text`` without tokens and secrets; with ``contacts``, e-mail addresses and phone numbers masked.

        Args:
            text: A formatted log message or traceback.
            contacts: Also mask customers' contact details (Kesher's own records).
        """
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _BOT_TOKEN.sub("bot" + REDACTED, text)
        text = _BARE_TOKEN.sub(REDACTED, text)
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
        if contacts:
            text = mask_contacts(text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts the record in place (once) and lets it through."""
        if getattr(record, "_kesher_redacted", False):
            return True
        contacts = record.name.split(".", 1)[0] in KESHER_LOGGERS
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return True
        record.msg = self.redact(message, contacts=contacts)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text, contacts=contacts)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info, contacts=contacts)
        setattr(record, "_kesher_redacted", True)  # noqa: B010 (LogRecord declares no such attribute)
        return True


_installed: Optional[RedactingFilter] = None


def _wrap_factory(redactor: RedactingFilter) -> None:
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)


def install_log_redaction(settings: Settings) -> RedactingFilter:
    """Keeps secrets, bot tokens and customers' contacts out of this process's logs (idempotent).

    Args:
        settings: Whose secrets (API token, channel tokens, passwords) are never written.

    Returns:
        The filter in force (tests use its :meth:`RedactingFilter.redact`).
    """
    global _installed
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.WARNING, logger.level))
    if _installed is None:
        _installed = RedactingFilter(settings.secret_values)
        _wrap_factory(_installed)
    else:
        _installed.set_secrets(settings.secret_values)
    for handler in logging.getLogger().handlers:
        if _installed not in handler.filters:
            handler.addFilter(_installed)
    return _installed
