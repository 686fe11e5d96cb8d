"""The outbox end to end: enqueue → worker → a real SMTP server on loopback → the mail as received."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from core.bidi import strip_controls
from core.settings import Settings
from handoff.agents import AgentDirectory
from handoff.mail.outbox import MailOutbox, MailWorker, backoff_seconds, mail_id_for
from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from tests.helpers.smtp import FakeClock, SmtpSink
from tests.helpers.texts import catalog

CARD = "4580 1234 5678 9015"
ID_NUMBER = "123456782"


async def _handoff(store: HandoffStore, cid: str = "c1", language: str = "he", email: str = "noa@example.com",
                   reference: str = "K-3F9A1C") -> None:
    asked = (
        [f"שילמתי בכרטיס {CARD} ות.ז. {ID_NUMBER}, איפה הזמנה 123456?", "אפשר לחזור אליי ב-050-1234567"]
        if language == "he"
        else [f"I paid with card {CARD}, ID {ID_NUMBER}. Where is order 123456?", "Call me on 050-1234567"]
    )
    found = ["הזמנה 123456: נשלחה ב-2 במאי"] if language == "he" else ["Order 123456: shipped on 2 May"]
    result = await store.request(HandoffRequest(
        cid=cid, channel="callback", language=language, reason="complaint_frustration", reference=reference,
        customer_name="Noa Cohen", email=email, asked=asked, found=found,
    ))
    assert result.ok


def _parts(msg: EmailMessage) -> tuple[str, str]:
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return plain.get_content(), rich.get_content()


@pytest.fixture()
def outbox(store: HandoffStore, clock: FakeClock) -> MailOutbox:
    return MailOutbox(store.redis, store.keys, clock)


@pytest.fixture()
def worker(store: HandoffStore, agents: AgentDirectory, mail_settings: Settings, clock: FakeClock) -> MailWorker:
    return MailWorker(MailOutbox(store.redis, store.keys, clock), store, agents, catalog(), mail_settings)


@pytest.mark.parametrize("language", ["he", "en"])
async def test_handoff_mail_arrives_masked_in_the_customers_language(
    language: str, store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink
) -> None:
    await _handoff(store, language=language)
    assert await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C", position=3, eta_minutes=12, after_hours=False)
    assert await worker.run_once() == 1

    assert len(smtp_sink.messages) == 1
    msg = smtp_sink.messages[0]
    assert smtp_sink.envelopes[0] == ["noa@example.com"]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert "K-3F9A1C" in msg["Subject"]
    assert msg["Message-ID"] == f"<{mail_id_for('handoff:K-3F9A1C')}@kesher.example>"
    plain, rich = _parts(msg)
    direction = "rtl" if language == "he" else "ltr"
    assert f'<html dir="{direction}" lang="{language}">' in rich
    for part in (plain, rich):
        assert CARD not in part and "4580" not in part and "•••• •••• •••• 9015" in part
        assert ID_NUMBER not in part and "•••••••82" in part
        assert "123456" in part and "050-1234567" in part  # order number and phone stay readable
        assert "K-3F9A1C" in part
    position = "אתם במקום 3 בתור" if language == "he" else "You are number 3 in line"
    assert position in strip_controls(plain)
    assert await outbox.pending() == []


async def test_closing_mail_has_the_agents_reply_to(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink
) -> None:
    await _handoff(store, language="en")
    await store.redis.sadd(store.keys.agents_online(), "dana")
    assert (await store.take("c1", "dana", "Dana Levi", capacity=3)).ok
    assert (await store.close("c1", "dana", "replacement_sent", summary="Sent a new kettle <b>today</b>.",
                              next_steps="Return the old one with the label we e-mailed.")).ok
    assert (await store.resume("c1")).ok  # the bot is back before the mail goes out: still sent
    assert await outbox.enqueue("closing", "c1", "closing:K-3F9A1C:4", agent_id="dana")
    assert await worker.run_once() == 1

    msg = smtp_sink.messages[0]
    assert msg["Reply-To"] == "Dana Levi <dana@kesher.example>"
    assert "K-3F9A1C" in msg["Subject"]
    plain, rich = _parts(msg)
    assert "Sent a new kettle <b>today</b>." in plain
    assert "Sent a new kettle &lt;b&gt;today&lt;/b&gt;." in rich
    assert "Return the old one with the label we e-mailed." in rich
    # Nothing Kesher records sends a replacement: the code never claims one, the agent's own summary may.
    assert "We've sent you a replacement." not in plain and "The conversation has ended." in plain
    assert "Dana Levi" in plain


async def test_the_same_mail_is_sent_once(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink
) -> None:
    await _handoff(store)
    assert await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    assert not await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    # Queued again after it went out (a retried request, a restarted Desk): still once.
    assert not await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    assert await worker.run_once() == 0
    assert len(smtp_sink.messages) == 1


async def test_two_workers_at_once_send_one_mail(
    store: HandoffStore, agents: AgentDirectory, mail_settings: Settings, clock: FakeClock,
    outbox: MailOutbox, smtp_sink: SmtpSink,
) -> None:
    await _handoff(store)
    await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    workers = [MailWorker(MailOutbox(store.redis, store.keys, clock), store, agents, catalog(), mail_settings)
               for _ in range(4)]
    sent = await asyncio.gather(*(w.run_once() for w in workers))
    assert sum(sent) == 1
    assert len(smtp_sink.messages) == 1


async def test_an_smtp_outage_delays_mail_and_loses_none(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink, clock: FakeClock
) -> None:
    await _handoff(store)
    await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    await smtp_sink.stop()

    assert await worker.run_once() == 0
    [job] = await outbox.pending()
    assert job["attempts"] == 1 and job["due_at"] == clock() + 5
    assert "unreachable" in job["last_error"]
    assert await worker.run_once() == 0  # not due again yet: no hammering a server that is down
    assert (await outbox.pending())[0]["attempts"] == 1

    await smtp_sink.start()
    assert await worker.run_once() == 0
    clock.advance(5)
    assert await worker.run_once() == 1
    assert await outbox.pending() == []
    clock.advance(600)
    assert await worker.run_once() == 0
    assert len(smtp_sink.messages) == 1


async def test_a_long_outage_keeps_every_mail_and_backs_off(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink, clock: FakeClock
) -> None:
    await _handoff(store, cid="c1")
    await _handoff(store, cid="c2", language="en", email="sam@example.com", reference="K-000002")
    await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    await outbox.enqueue("handoff", "c2", "handoff:K-000002")
    await smtp_sink.stop()
    for _ in range(12):
        await worker.run_once()
        clock.advance(700)  # beyond the 10-minute cap: every round finds both due
    jobs = await outbox.pending()
    assert len(jobs) == 2 and all(job["attempts"] >= 5 for job in jobs)
    assert all(job["due_at"] - clock() <= 600 for job in jobs)

    await smtp_sink.start()
    clock.advance(600)
    assert await worker.run_once() == 2
    assert await worker.run_once() == 0
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == [
        "noa@example.com", "sam@example.com"]


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [backoff_seconds(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 320, 600]
    assert backoff_seconds(50) == 600


async def test_no_address_means_no_mail(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink
) -> None:
    await _handoff(store, email="")
    assert await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    assert await worker.run_once() == 0
    assert smtp_sink.messages == []
    assert await outbox.pending() == []  # dropped, not retried forever
    # The customer gives an address (with consent) afterwards: the Desk queues the summary again.
    await store.update("c1", email="noa@example.com", email_consent=True)
    assert await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    assert await worker.run_once() == 1
    assert smtp_sink.messages[0]["To"].addresses[0].addr_spec == "noa@example.com"


async def test_a_mail_of_an_older_handoff_is_not_sent(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink
) -> None:
    await _handoff(store, reference="K-OLD001")
    assert await outbox.enqueue("handoff", "c1", "handoff:K-OLD001")
    await store.update("c1", reference="K-NEW002")  # a new handoff started before the worker ran
    assert await worker.run_once() == 0
    assert smtp_sink.messages == []
    assert await outbox.pending() == []


async def test_no_handoff_summary_after_the_customer_gave_up(
    store: HandoffStore, outbox: MailOutbox, worker: MailWorker, smtp_sink: SmtpSink
) -> None:
    await _handoff(store)
    assert await outbox.enqueue("handoff", "c1", "handoff:K-3F9A1C")
    assert (await store.give_up("c1")).ok
    assert await worker.run_once() == 0
    assert smtp_sink.messages == [] and await outbox.pending() == []


async def test_unknown_kind_is_refused(outbox: MailOutbox) -> None:
    with pytest.raises(ValueError):
        await outbox.enqueue("newsletter", "c1", "x")
