"""The local SMTP server keeps .eml files; the console's mail page lists and reads them safely."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
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
from handoff.mail.smtpd import list_mail, prune_mail, read_mail, run_pruner, start_smtpd
from handoff.models import Conversation, HandoffRequest
from handoff.state import HandoffStore
from tests.helpers.smtp import FakeClock
from tests.helpers.texts import catalog
from tests.helpers.waiting import until, until_sync


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
                        customer_name="נועה כהן", email=to, asked=["כרטיס 4580123456789015"])
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
    assert "•••• •••• •••• 9015" in mail["text"] and "4580123456789015" not in mail["text"]
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


DAY = 24 * 3600


def _stored(mail_dir: Path, name: str, age_seconds: float, now: float) -> Path:
    mail_dir.mkdir(parents=True, exist_ok=True)
    path = mail_dir / name
    path.write_bytes(bytes(_message("en")))
    os.utime(path, (now - age_seconds, now - age_seconds))
    return path


def test_mail_older_than_the_retention_is_deleted(tmp_path: Path) -> None:
    now = time.time()
    old = _stored(tmp_path, "20240101T000000-000000-old.eml", 31 * DAY, now)
    partial = _stored(tmp_path, ".20240101T000000-000000-half.eml.part", 31 * DAY, now)
    recent = _stored(tmp_path, "20240201T000000-000000-recent.eml", 29 * DAY, now)
    assert prune_mail(tmp_path, 30 * DAY, now) == 2
    assert not old.exists() and not partial.exists() and recent.exists()
    assert [m["file"] for m in list_mail(tmp_path)] == [recent.name]
    assert prune_mail(tmp_path / "missing", 30 * DAY, now) == 0


async def test_the_server_prunes_again_while_it_runs(tmp_path: Path) -> None:
    now = time.time()
    clock = [now]
    mail = _stored(tmp_path, "20240101T000000-000000-a.eml", 0, now)
    stop = asyncio.Event()
    pruner = asyncio.create_task(run_pruner(tmp_path, DAY, stop, every_seconds=0.02, clock=lambda: clock[0]))
    try:
        marker = _stored(tmp_path, "20240101T000000-000000-marker.eml", DAY + 60, now)
        await until(lambda: not marker.exists(), what="the first pruning")  # it ran, the fresh mail stays
        assert mail.exists()
        clock[0] = now + DAY + 60  # a day later, the same mail is too old
        await until(lambda: not mail.exists(), what="the mail pruned a day later")
    finally:
        stop.set()
        await pruner


def test_the_server_process_deletes_mail_older_than_its_retention(tmp_path: Path) -> None:
    port = free_port()
    mail_dir = tmp_path / "var-mail"
    now = time.time()
    old = _stored(mail_dir, "20240101T000000-000000-old.eml", 2 * DAY + 60, now)
    kept = _stored(mail_dir, "20240101T000000-000000-kept.eml", DAY - 60, now)
    settings = Settings(var_dir=tmp_path, mail_dir=mail_dir, smtp_port=port, retention_days=2)
    process = subprocess.Popen(
        [sys.executable, "-m", "kesher", "serve", "smtpd"],
        cwd=PROJECT_ROOT, env=settings.child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        until_sync(lambda: not old.exists(), what="the old mail deleted at start", timeout=20, every=0.05)
        assert kept.exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
