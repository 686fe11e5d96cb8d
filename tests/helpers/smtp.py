"""A real SMTP server on loopback that keeps what it receives, and a clock that moves only when told."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import List, Optional

from aiosmtpd.smtp import SMTP, Envelope, Session


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, start: float = 1_715_500_000.0) -> None:  # Sun 12 May 2024, 10:46 Israel time
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SmtpSink:
    """A real aiosmtpd server on a loopback port that keeps what it receives; can be stopped and restarted."""

    port: int
    messages: List[EmailMessage] = field(default_factory=list)
    envelopes: List[List[str]] = field(default_factory=list)
    raw: List[bytes] = field(default_factory=list)  # each message as it came over the wire
    _server: Optional[asyncio.AbstractServer] = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.raw.append(raw)
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="sink", enable_SMTPUTF8=True), host="127.0.0.1", port=self.port
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
