"""The local SMTP server keeps .eml files; the console's mail page lists and reads them safely."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import AsyncIterator

import aiosmtplib
import pytest
import pytest_asyncio

from core.errors import InvalidInput, NotFound
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from handoff.agents import AgentDirectory
from handoff.mail.compose import handoff_summary
from handoff.mail.outbox import MailOutbox, MailWorker
from handoff.mail.smtpd import list_mail, read_mail, start_smtpd
from handoff.models import Conversation, HandoffRequest
from handoff.state import HandoffStore
from tests.helpers.smtp import FakeClock
from tests.helpers.texts import catalog
from tests.helpers.waiting import until_sync


@pytest_asyncio.fixture()
async def smtpd(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    mail_dir = tmp_path / "mail"
    server = await start_smtpd("127.0.0.1", 0, mail_dir)
    port = server.sockets[0].getsockname()[1]
    yield port, mail_dir
    server.close()
    await server.wait_closed()


def _message(language: str, to: str = "noa@example.com") -> EmailMessage:
    conv = Conversation(cid="c1", language=language, reason="explicit_request", reference="K-3F9A1C",
                        customer_name="נועה כהן", email=to, asked=["כרטיס 4580123456789012"])
    return handoff_summary(conv, Settings(), catalog(), position=1, eta_minutes=2, after_hours=False, next_opening=None,
                           mail_id="job1")


async def test_received_mail_is_stored_and_listed(smtpd: tuple[int, Path]) -> None:
    port, mail_dir = smtpd
    assert list_mail(mail_dir) == []
    await aiosmtplib.send(_message("he"), hostname="127.0.0.1", port=port, timeout=5)
    await aiosmtplib.send(_message("en", to="sam@example.com"), hostname="127.0.0.1", port=port, timeout=5)

    files = sorted(p.name for p in mail_dir.glob("*.eml"))
    assert len(files) == 2 and all("job1_kesher.example" in name for name in files)
    listed = list_mail(mail_dir)
    assert [m["language"] for m in listed] == ["en", "he"]  # newest first
    hebrew = listed[1]
    assert hebrew["subject"].startswith("פנייתכם הועברה לנציג שירות") and "K-3F9A1C" in hebrew["subject"]
    assert hebrew["to"] == "נועה כהן <noa@example.com>"
    assert hebrew["from"] == "Kesher Support <support@kesher.example>"
    assert hebrew["size"] > 1000 and hebrew["date"].startswith("20")

    mail = read_mail(mail_dir, hebrew["file"])
    assert '<html dir="rtl" lang="he">' in mail["html"]
    assert "שלום נועה כהן," in mail["text"]
    assert "•••• •••• •••• 9012" in mail["text"] and "4580123456789012" not in mail["text"]
    assert mail["message_id"] == "<job1@kesher.example>"
    assert ["X-Envelope-To", "noa@example.com"] in mail["headers"]


@pytest.mark.parametrize(
    "name",
    ["../secret.eml", "..", "/etc/passwd", "sub/x.eml", "..%2Fx.eml", ".hidden.eml", "x.txt", "", "a\x00.eml"],
)
def test_reading_outside_the_mail_folder_is_refused(tmp_path: Path, name: str) -> None:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    (tmp_path / "secret.eml").write_text("Subject: secret\n\nkeep out\n")
    with pytest.raises(InvalidInput):
        read_mail(mail_dir, name)


def test_a_missing_mail_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_mail(tmp_path, "20240512T074640-000000-nothing.eml")


async def test_worker_delivers_into_the_local_server(
    smtpd: tuple[int, Path], store: HandoffStore, agents: AgentDirectory, clock: FakeClock, tmp_path: Path
) -> None:
    port, mail_dir = smtpd
    settings = Settings(var_dir=tmp_path, smtp_port=port, mail_dir=mail_dir)
    await store.request(HandoffRequest(cid="c9", channel="web", language="he", reason="verification_failed",
                                       reference="K-ABC123", email="noa@example.com"))
    await MailOutbox(store.redis, store.keys, clock).enqueue("handoff", "c9", "handoff:K-ABC123")
    worker = MailWorker(MailOutbox(store.redis, store.keys, clock), store, agents, catalog(), settings)
    assert await worker.run_once() == 1
    [listed] = list_mail(mail_dir)
    assert "K-ABC123" in listed["subject"] and listed["language"] == "he"
    assert "לא הצלחנו לאמת את פרטי ההזמנה" in read_mail(mail_dir, listed["file"])["text"]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_module_entry_point_serves_until_terminated(tmp_path: Path) -> None:
    port = free_port()
    mail_dir = tmp_path / "var-mail"
    settings = Settings(var_dir=tmp_path, mail_dir=mail_dir, smtp_port=port)
    process = subprocess.Popen(
        [sys.executable, "-m", "kesher", "serve", "smtpd"],
        cwd=PROJECT_ROOT, env=settings.child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        until_sync(lambda: _listening(port), what=f"smtpd listening on port {port}", timeout=20, every=0.05)
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(_message("en"))
        assert len(list_mail(mail_dir)) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
