"""SMTP encryption: STARTTLS whenever offered, implicit TLS on request, never a password in clear.

Every test runs the real worker against a real aiosmtpd server on loopback that
records what it received, which logins it saw and whether the connection was
encrypted; the TLS servers use a certificate made for the test (for 127.0.0.1),
which the worker is told to trust.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, List, Optional, Tuple

import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.processes import free_port
from core.settings import Settings
from handoff.agents import AgentDirectory
from handoff.mail.outbox import MailOutbox, MailWorker
from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from tests.helpers.smtp import FakeClock
from tests.helpers.texts import catalog

PASSWORD = "smtp-pass-0f9e8d"


@dataclass
class RecordingServer:
    """aiosmtpd on loopback: plain, STARTTLS-capable or implicit TLS; AUTH offered even without TLS."""

    port: int
    mode: str  # "plain", "starttls" or "implicit"
    tls: Optional[ssl.SSLContext] = None
    received: List[bool] = field(default_factory=list)  # one per message: was the connection encrypted?
    logins: List[Tuple[str, str, bool]] = field(default_factory=list)  # user, password, encrypted
    _server: Optional[asyncio.AbstractServer] = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(self._encrypted(server))
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode(), self._encrypted(server)))
        return AuthResult(success=True)

    @staticmethod
    def _encrypted(server: SMTP) -> bool:
        return server.transport is not None and server.transport.get_extra_info("sslcontext") is not None

    async def start(self) -> None:
        def protocol() -> SMTP:
            return SMTP(self, hostname="recording-sink", authenticator=self.authenticate, auth_require_tls=False,
                        tls_context=self.tls if self.mode == "starttls" else None)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(protocol, host="127.0.0.1", port=self.port,
                                                ssl=self.tls if self.mode == "implicit" else None)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's context, a client context trusting it) for a self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kesher-test-smtp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


ServerFactory = Callable[[str], "asyncio.Future[RecordingServer]"]


@pytest_asyncio.fixture()
async def servers(certificate: Tuple[ssl.SSLContext, ssl.SSLContext]) -> AsyncIterator[Any]:
    started: List[RecordingServer] = []

    async def start(mode: str) -> RecordingServer:
        server = RecordingServer(port=free_port(), mode=mode, tls=certificate[0])
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def _one_mail(store: HandoffStore, clock: FakeClock) -> MailOutbox:
    assert (await store.request(HandoffRequest(
        cid="c1", channel="web", language="en", reason="explicit_request", reference="K-TLS001",
        customer_name="Noa Cohen", email="noa@example.com", asked=["where is my order?"],
    ))).ok
    outbox = MailOutbox(store.redis, store.keys, clock)
    assert await outbox.enqueue("handoff", "c1", "handoff:K-TLS001", position=1, eta_minutes=3)
    return outbox


def _worker(outbox: MailOutbox, store: HandoffStore, agents: AgentDirectory, tmp_path: Path, port: int,
            client_tls: Optional[ssl.SSLContext], **smtp: Any) -> MailWorker:
    settings = Settings(var_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, **smtp)
    return MailWorker(outbox, store, agents, catalog(), settings, tls_context=client_tls)


async def test_a_password_is_never_sent_to_a_server_without_tls(
    servers: Any, store: HandoffStore, agents: AgentDirectory, clock: FakeClock, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    plain: RecordingServer = await servers("plain")  # offers AUTH in clear, no STARTTLS
    outbox = await _one_mail(store, clock)
    worker = _worker(outbox, store, agents, tmp_path, plain.port, None, smtp_user="kesher", smtp_password=PASSWORD)
    assert await worker.run_once() == 0
    assert plain.logins == [] and plain.received == []  # no AUTH command, nothing sent
    job = (await outbox.pending())[0]
    assert "does not offer STARTTLS" in job["last_error"] and job["attempts"] == 1  # kept, with the reason
    assert "password would be sent in clear" in caplog.text and PASSWORD not in caplog.text


async def test_smtp_tls_none_with_a_login_is_refused_before_connecting(
    servers: Any, store: HandoffStore, agents: AgentDirectory, clock: FakeClock, tmp_path: Path,
) -> None:
    plain: RecordingServer = await servers("plain")
    outbox = await _one_mail(store, clock)
    worker = _worker(outbox, store, agents, tmp_path, plain.port, None, smtp_user="kesher", smtp_password=PASSWORD,
                     smtp_tls="none")
    assert await worker.run_once() == 0
    assert plain.logins == [] and plain.received == []
    assert "SMTP_TLS=none" in (await outbox.pending())[0]["last_error"]


async def test_starttls_offered_is_used_and_then_the_login_is_sent(
    servers: Any, certificate: Tuple[ssl.SSLContext, ssl.SSLContext], store: HandoffStore, agents: AgentDirectory,
    clock: FakeClock, tmp_path: Path,
) -> None:
    server: RecordingServer = await servers("starttls")
    outbox = await _one_mail(store, clock)
    worker = _worker(outbox, store, agents, tmp_path, server.port, certificate[1], smtp_user="kesher",
                     smtp_password=PASSWORD)  # SMTP_TLS left at auto
    assert await worker.run_once() == 1
    assert server.logins == [("kesher", PASSWORD, True)]
    assert server.received == [True]


async def test_without_a_login_the_default_still_encrypts_when_the_server_offers_it(
    servers: Any, certificate: Tuple[ssl.SSLContext, ssl.SSLContext], store: HandoffStore, agents: AgentDirectory,
    clock: FakeClock, tmp_path: Path,
) -> None:
    server: RecordingServer = await servers("starttls")
    outbox = await _one_mail(store, clock)
    assert await _worker(outbox, store, agents, tmp_path, server.port, certificate[1]).run_once() == 1
    assert server.received == [True] and server.logins == []


async def test_without_a_login_a_plain_local_relay_still_gets_the_mail(
    servers: Any, store: HandoffStore, agents: AgentDirectory, clock: FakeClock, tmp_path: Path,
) -> None:
    plain: RecordingServer = await servers("plain")
    outbox = await _one_mail(store, clock)
    assert await _worker(outbox, store, agents, tmp_path, plain.port, None).run_once() == 1
    assert plain.received == [False]


async def test_implicit_tls_on_request(
    servers: Any, certificate: Tuple[ssl.SSLContext, ssl.SSLContext], store: HandoffStore, agents: AgentDirectory,
    clock: FakeClock, tmp_path: Path,
) -> None:
    server: RecordingServer = await servers("implicit")
    outbox = await _one_mail(store, clock)
    worker = _worker(outbox, store, agents, tmp_path, server.port, certificate[1], smtp_user="kesher",
                     smtp_password=PASSWORD, smtp_tls="implicit")
    assert await worker.run_once() == 1
    assert server.logins == [("kesher", PASSWORD, True)] and server.received == [True]


@pytest.mark.parametrize("env", [{"SMTP_TLS": "starttls"}, {"SMTP_STARTTLS": "1"}])
async def test_required_starttls_refuses_a_server_without_it(
    env: dict, servers: Any, store: HandoffStore, agents: AgentDirectory, clock: FakeClock, tmp_path: Path,
) -> None:
    plain: RecordingServer = await servers("plain")
    outbox = await _one_mail(store, clock)
    settings = Settings.from_env({**env, "KESHER_VAR_DIR": str(tmp_path), "SMTP_PORT": str(plain.port)})
    assert settings.smtp_tls_mode == "starttls"
    worker = MailWorker(outbox, store, agents, catalog(), settings)
    assert await worker.run_once() == 0
    assert plain.received == []
    assert "STARTTLS" in (await outbox.pending())[0]["last_error"]


def test_an_unknown_smtp_tls_value_is_refused() -> None:
    with pytest.raises(ValueError, match="SMTP_TLS must be"):
        Settings.from_env({"SMTP_TLS": "sometimes"})
