"""A local SMTP server that keeps every message it receives as a ``.eml`` file.

``make up`` runs it (``python -m kesher serve smtpd``) so the demo's customer
e-mails can be read on the console's mail page instead of leaving the laptop.
:func:`list_mail` and :func:`read_mail` are what that page shows. Messages are
kept for the retention period (``KESHER_RETENTION_DAYS``): the server deletes
older ``.eml`` files at start and every hour (:func:`prune_mail`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

from aiosmtpd.smtp import SMTP, Envelope, Session

from core.errors import InvalidInput, NotFound

__all__ = [
    "PRUNE_EVERY_SECONDS",
    "EmlHandler",
    "list_mail",
    "prune_mail",
    "read_mail",
    "run_pruner",
    "save_message",
    "serve_smtpd",
    "start_smtpd",
]

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.eml$")
SERVER_HOSTNAME = "kesher-smtpd"  # given explicitly: aiosmtpd would otherwise call getfqdn(), slow without DNS
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
PRUNE_EVERY_SECONDS = 3600.0


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value.strip().strip("<>"))[:80].strip("._") or "message"


def save_message(
    mail_dir: Path, data: bytes, at: float, *, envelope_from: str = "", envelope_to: Sequence[str] = ()
) -> Path:
    """Stores one message as ``<UTC timestamp>-<message id>.eml`` in ``mail_dir``.

    Args:
        mail_dir: The folder (created if missing).
        data: The message as received (RFC 5322 bytes).
        at: Epoch seconds it was received.
        envelope_from: ``MAIL FROM`` address, kept as an ``X-Envelope-From`` header.
        envelope_to: ``RCPT TO`` addresses, kept as an ``X-Envelope-To`` header.

    Returns:
        The file written. It appears complete or not at all (written aside, then renamed).
    """
    mail_dir.mkdir(parents=True, exist_ok=True)
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(data)
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%S-%f")
    base = f"{stamp}-{_safe(str(headers.get('Message-ID') or 'message'))}"
    path = mail_dir / f"{base}.eml"
    counter = 1
    while path.exists():
        counter += 1
        path = mail_dir / f"{base}-{counter}.eml"
    trace = b""
    if envelope_from:
        trace += f"X-Envelope-From: {envelope_from}\r\n".encode("utf-8", "replace")
    if envelope_to:
        trace += f"X-Envelope-To: {', '.join(envelope_to)}\r\n".encode("utf-8", "replace")
    partial = mail_dir / f".{path.name}.part"
    partial.write_bytes(trace + data)
    os.replace(partial, path)
    return path


class EmlHandler:
    """aiosmtpd handler: writes each message to ``mail_dir``."""

    def __init__(self, mail_dir: Path, clock: Callable[[], float] = time.time) -> None:
        """Keeps the folder; creates it on the first message.

        Args:
            mail_dir: Where the ``.eml`` files go.
            clock: Returns epoch seconds (names the files).
        """
        self.mail_dir = Path(mail_dir)
        self.clock = clock

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Stores the message; answers 250, or 451 so the sender retries if the disk fails."""
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            path = save_message(
                self.mail_dir,
                data,
                self.clock(),
                envelope_from=str(envelope.mail_from or ""),
                envelope_to=[str(r) for r in envelope.rcpt_tos],
            )
        except OSError as exc:
            log.error("could not store a message: %s", exc)
            return "451 Requested action aborted: local error in processing"
        log.info("stored %s", path.name)
        return "250 Message accepted for delivery"


async def start_smtpd(host: str, port: int, mail_dir: Path) -> asyncio.Server:
    """Starts the SMTP server on the running event loop.

    Args:
        host: Address to listen on (loopback for the demo).
        port: Port (0 picks a free one; read it from ``server.sockets``).
        mail_dir: Where received messages are stored.

    Returns:
        The listening server; ``close()`` and ``await wait_closed()`` stop it.
    """
    handler = EmlHandler(mail_dir)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname=SERVER_HOSTNAME, enable_SMTPUTF8=True, data_size_limit=25 * 1024 * 1024),
        host=host,
        port=port,
    )


def _parse(path: Path, headers_only: bool) -> EmailMessage:
    with path.open("rb") as fp:
        message = BytesParser(policy=policy.default).parse(fp, headersonly=headers_only)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    return message


def _date(message: EmailMessage, path: Path) -> str:
    try:
        when = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        when = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return when.isoformat()


def _summary(path: Path, message: EmailMessage) -> Dict[str, Any]:
    return {
        "file": path.name,
        "date": _date(message, path),
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "subject": str(message.get("Subject", "")),
        "language": str(message.get("Content-Language", "")),
        "size": path.stat().st_size,
    }


def list_mail(mail_dir: Path) -> List[Dict[str, Any]]:
    """The stored messages, newest first.

    Args:
        mail_dir: The SMTP server's folder (missing means no mail yet).

    Returns:
        One dict per message: ``file``, ``date`` (ISO 8601), ``from``, ``to``,
        ``subject`` (decoded), ``language`` and ``size`` in bytes.
    """
    mail_dir = Path(mail_dir)
    if not mail_dir.is_dir():
        return []
    out: List[Dict[str, Any]] = []
    for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.name, reverse=True):
        try:
            out.append(_summary(path, _parse(path, headers_only=True)))
        except (OSError, ValueError) as exc:
            log.warning("unreadable mail file %s: %s", path.name, exc)
    return out


def _resolve(mail_dir: Path, name: str) -> Path:
    if not _SAFE_NAME.match(name or ""):
        raise InvalidInput("Not a mail file name.")
    root = Path(mail_dir).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise InvalidInput("Not a mail file name.")
    if not path.is_file():
        raise NotFound("No such mail.")
    return path


def read_mail(mail_dir: Path, name: str) -> Dict[str, Any]:
    """One stored message, for display.

    Args:
        mail_dir: The SMTP server's folder.
        name: A file name as :func:`list_mail` gives it (no folders).

    Returns:
        The :func:`list_mail` fields plus ``message_id``, ``reply_to``,
        ``headers`` (list of ``[name, decoded value]``), ``text`` and ``html``
        (the parts' content, "" when absent). The HTML is the sender's: show it
        sandboxed, never inline in a page.

    Raises:
        InvalidInput: ``name`` is not a plain ``.eml`` file name in ``mail_dir``.
        NotFound: No such file.
    """
    path = _resolve(mail_dir, name)
    message = _parse(path, headers_only=False)
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    out = _summary(path, message)
    out.update(
        message_id=str(message.get("Message-ID", "")),
        reply_to=str(message.get("Reply-To", "")),
        headers=[[key, str(value)] for key, value in message.items()],
        text=plain.get_content() if isinstance(plain, EmailMessage) else "",
        html=rich.get_content() if isinstance(rich, EmailMessage) else "",
    )
    return out


def prune_mail(mail_dir: Path, retention_seconds: float, now: float) -> int:
    """Deletes stored messages (and leftover partial writes) received more than ``retention_seconds`` ago.

    Args:
        mail_dir: The SMTP server's folder (missing means nothing to do).
        retention_seconds: How long a message is kept.
        now: Epoch seconds; a file's age is counted from its modification time (when it was received).

    Returns:
        How many files were deleted.
    """
    mail_dir = Path(mail_dir)
    if not mail_dir.is_dir():
        return 0
    cutoff = now - retention_seconds
    deleted = 0
    for path in [*mail_dir.glob("*.eml"), *mail_dir.glob(".*.eml.part")]:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            continue  # removed meanwhile
        except OSError as exc:
            log.warning("could not delete old mail file %s: %s", path.name, exc)
    if deleted:
        log.info("deleted %d mail file(s) older than %.0f days", deleted, retention_seconds / 86400)
    return deleted


async def run_pruner(
    mail_dir: Path,
    retention_seconds: float,
    stop: asyncio.Event,
    *,
    every_seconds: float = PRUNE_EVERY_SECONDS,
    clock: Callable[[], float] = time.time,
) -> None:
    """Prunes ``mail_dir`` now and every ``every_seconds`` until ``stop`` is set (file work off the loop)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(prune_mail, mail_dir, retention_seconds, clock())
        except OSError as exc:
            log.warning("mail pruning failed: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
        except TimeoutError:
            pass


async def serve_smtpd(
    host: str, port: int, mail_dir: Path, retention_seconds: float = DEFAULT_RETENTION_SECONDS
) -> None:
    """Runs the SMTP server until SIGINT or SIGTERM (``python -m kesher serve smtpd``).

    Args:
        host: Address to listen on.
        port: Port.
        mail_dir: Where received messages are stored.
        retention_seconds: How long a message is kept (``Settings.retention_seconds``).
    """
    server = await start_smtpd(host, port, mail_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("SMTP server on %s:%d storing mail in %s", host, port, mail_dir)
    pruner = asyncio.create_task(run_pruner(mail_dir, retention_seconds, stop))
    try:
        await stop.wait()
    finally:
        stop.set()
        server.close()
        await server.wait_closed()
        await pruner
