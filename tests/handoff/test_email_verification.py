"""A typed e-mail address is trusted only after its code: the router, the desk, the outbox and a real SMTP server.

The customer is in the queue and types an address; Kesher mails a code there
(and nothing else), the customer types it back, and only then does the
summary go out and the agent's panel use the address.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders.models import OrderRow
from actions.orders.repository import SqlOrderRepository
from actions.orders.seed import seed_database
from core.settings import Settings
from handoff.agents import load_agents
from handoff.desk import Desk
from handoff.identity import IdentityBook
from handoff.mail.compose import code_mail
from handoff.mail.outbox import MailOutbox, MailWorker
from handoff.models import Conversation, EventKind
from handoff.policy import load_policy
from handoff.router import HandoffRouter, InboundMessage
from handoff.state import HandoffStore
from tests.handoff.helpers import agent, conversation, request
from tests.helpers.backends import ROOT, TODAY
from tests.helpers.smtp import FakeClock, SmtpSink
from tests.helpers.texts import catalog

EVE = "eve.k@example.org"
CID = "web:s-1"


class Kesher:
    """The handoff side of one test: desk, router and mail worker on a real Redis and SMTP server."""

    def __init__(self, store: HandoffStore, sink: SmtpSink, tmp_path: Path,
                 orders: SqlOrderRepository | None = None) -> None:
        self.clock = FakeClock()
        store.clock = self.clock
        self.store = store
        self.sink = sink
        self.outbox = MailOutbox(store.redis, store.keys, self.clock)
        self.desk = Desk(store, load_policy(), load_agents(ROOT / "handoff" / "agents.yml"), catalog(),
                         IdentityBook(store.redis, store.keys, clock=self.clock), outbox=self.outbox,
                         orders=orders, clock=self.clock)
        self.router = HandoffRouter(self.desk, clock=self.clock)
        settings = Settings(var_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=sink.port)
        self.worker = MailWorker(self.outbox, store, self.desk.agents, catalog(), settings)

    async def say(self, text: str, cid: str = CID) -> None:
        await self.router.route(InboundMessage(cid=cid, channel="web", text=text))

    async def told(self, cid: str = CID) -> List[str]:
        rows = await self.store.redis.xrange(self.store.keys.outbound())
        return [fields["text"] for _, fields in rows if fields["cid"] == cid]

    def mails(self, kind: str) -> List[str]:
        """The recipients of the received mails of one kind, in order."""
        return [env[0] for msg, env in zip(self.sink.messages, self.sink.envelopes, strict=True)
                if msg["X-Kesher-Kind"] == kind]

    def last_code(self) -> str:
        codes = [m for m in self.sink.messages if m["X-Kesher-Kind"] == "code"]
        assert codes, "no code mail arrived"
        plain = codes[-1].get_body(("plain",))
        assert plain is not None
        found = re.search(r"\b\d{6}\b", plain.get_content())
        assert found, "the code mail has no code"
        return found.group(0)


@pytest.fixture()
def kesher(store: HandoffStore, smtp_sink: SmtpSink, tmp_path: Path) -> Kesher:
    return Kesher(store, smtp_sink, tmp_path)


@pytest.mark.parametrize(("language", "asks_code", "confirmed"), [
    ("en", "we've sent a 6-digit code there", "the summary will go to"),
    ("he", "שלחנו אליה קוד בן 6 ספרות", "הסיכום יישלח אל"),
])
async def test_a_typed_address_gets_only_a_code_until_the_customer_types_it_back(
    kesher: Kesher, language: str, asks_code: str, confirmed: str
) -> None:
    ticket = await kesher.desk.request(request(CID, language=language, channel="web"))
    assert not ticket.email_known
    await kesher.say(f"sure: {EVE}")
    assert asks_code in (await kesher.told())[-1]
    assert (await conversation(kesher.store, CID)).email == ""

    assert await kesher.worker.run_once() == 1
    assert kesher.mails("code") == [EVE] and kesher.mails("handoff") == []
    code_mail = kesher.sink.messages[0]
    assert code_mail["Content-Language"] == language
    reference = (await conversation(kesher.store, CID)).reference
    for part in (code_mail.get_body(("plain",)), code_mail.get_body(("html",))):
        assert part is not None
        assert reference not in part.get_content()  # nothing about the conversation goes to an unproved address
    code = kesher.last_code()

    await kesher.say(code)
    conv = await conversation(kesher.store, CID)
    assert conv.email == EVE and conv.email_unverified == "" and not conv.email_requested
    assert confirmed in (await kesher.told())[-1]
    events = await kesher.store.events(CID)
    assert code not in [e.text for e in events if e.kind is EventKind.CUSTOMER]  # the agent never sees the code
    assert EVE in [e for e in events if e.kind is EventKind.NOTE][-1].text

    assert await kesher.worker.run_once() == 1
    assert kesher.mails("handoff") == [EVE]
    assert reference in kesher.sink.messages[-1]["Subject"]


async def test_five_wrong_codes_lock_and_no_summary_is_ever_mailed(kesher: Kesher) -> None:
    await kesher.desk.request(request(CID, channel="web"))
    await kesher.say(EVE)
    await kesher.worker.run_once()
    code = kesher.last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await kesher.say(wrong)
    told = await kesher.told()
    assert [t.split(". ", 1)[-1] for t in told[-5:-1]] == [
        "4 tries left.", "3 tries left.", "2 tries left.", "One more try."]
    assert "That was the last try" in told[-1]

    await kesher.say(code)  # too late: an ordinary message for the agent now
    conv = await conversation(kesher.store, CID)
    assert conv.email == "" and conv.email_unverified == EVE
    dana = agent(kesher.desk, "dana")
    await kesher.desk.take(CID, dana, require_online=False)
    await kesher.desk.close(CID, dana, "resolved", summary="Refund issued")
    assert "summary is on its way" not in (await kesher.told())[-1]
    assert await kesher.worker.run_once() == 0
    assert kesher.mails("handoff") == [] and kesher.mails("closing") == [] and kesher.mails("code") == [EVE]


async def test_skipping_leaves_the_address_unverified_and_cancels_the_code_mail(kesher: Kesher) -> None:
    await kesher.desk.request(request(CID, channel="web"))
    await kesher.say(EVE)
    await kesher.say("skip")  # before the worker got to the code mail
    assert "we won't send anything by e-mail" in (await kesher.told())[-1]
    assert await kesher.worker.run_once() == 0
    assert kesher.sink.messages == []
    conv = await conversation(kesher.store, CID)
    assert conv.email == "" and conv.email_unverified == EVE
    notes = [e.text for e in await kesher.store.events(CID) if e.kind is EventKind.NOTE]
    assert "not verified" in notes[-1]
    panel = await kesher.desk.customer_panel(CID)
    assert panel["email"] == "" and panel["email_unverified"] == EVE


async def test_one_conversation_cannot_make_kesher_mail_many_addresses(kesher: Kesher) -> None:
    await kesher.desk.request(request(CID, channel="web"))
    for n in range(4):
        await kesher.say(f"victim{n}@example.org")
        await kesher.worker.run_once()
    assert "We can't send a code to victim3@example.org" in (await kesher.told())[-1]
    await kesher.say("victim4@example.org")  # no longer asked for an address: not even tried
    assert await kesher.worker.run_once() == 0
    assert kesher.mails("code") == ["victim0@example.org", "victim1@example.org", "victim2@example.org"]
    assert not await kesher.desk.waiting_for_code(CID)


async def test_many_conversations_cannot_make_kesher_mail_one_address_often(kesher: Kesher) -> None:
    for n in range(4):
        cid = f"web:attacker-{n}"
        await kesher.desk.request(request(cid, channel="web"))
        await kesher.say(EVE, cid=cid)
    assert "We can't send a code" in (await kesher.told("web:attacker-3"))[-1]
    assert await kesher.worker.run_once() == 3
    assert kesher.mails("code") == [EVE] * 3


async def test_a_summary_job_for_an_unverified_address_is_dropped_at_send_time(kesher: Kesher) -> None:
    await kesher.desk.request(request(CID, channel="web"))
    await kesher.store.update(CID, email_unverified=EVE)
    assert await kesher.outbox.enqueue("handoff", CID, "handoff:forged", position=1, eta_minutes=3)
    assert await kesher.worker.run_once() == 0
    assert kesher.sink.messages == [] and await kesher.outbox.pending() == []


async def test_an_address_that_comes_without_its_order_is_not_trusted(kesher: Kesher) -> None:
    ticket = await kesher.desk.request(request(CID, channel="web", email=EVE))  # no verified order with it
    assert not ticket.email_known  # so the bot asks for an address, which then gets a code
    conv = await conversation(kesher.store, CID)
    assert conv.email == "" and conv.email_unverified == EVE and conv.email_requested
    assert await kesher.outbox.pending() == []


async def test_the_panel_uses_a_typed_address_for_nothing_until_its_code(
    store: HandoffStore, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    repo = SqlOrderRepository.from_url(f"sqlite:///{tmp_path / 'orders.db'}")
    seed_database(repo.engine, TODAY, count=20)
    with Session(repo.engine) as session:
        row = session.scalars(select(OrderRow).order_by(OrderRow.order_id)).first()
    assert row is not None
    kesher = Kesher(store, smtp_sink, tmp_path, orders=repo)
    await store.record_history(Conversation(cid="web:old", email=row.email, reference="K-0LD000",
                                            resolution="resolved", summary="Replaced the kettle"))
    await kesher.desk.request(request(CID, channel="web"))
    await kesher.say(row.email)  # anyone can type a customer's address

    panel = await kesher.desk.customer_panel(CID)
    assert panel["email"] == "" and panel["email_unverified"] == row.email
    assert panel["orders"] == [] and panel["history"] == []

    await kesher.worker.run_once()
    await kesher.say(kesher.last_code())  # only the owner of the mailbox can do this
    panel = await kesher.desk.customer_panel(CID)
    assert panel["email"] == row.email
    assert row.order_id in [o["order_id"] for o in panel["orders"]]
    assert [h["reference"] for h in panel["history"]] == ["K-0LD000"]


def test_the_code_mail_says_nothing_about_the_customer(tmp_path: Path) -> None:
    conv = Conversation(cid=CID, language="en", customer_name="Noa Cohen", reference="K-3F9A1C",
                        asked=["Where is order 123456?"], found=["Order 123456: shipped"])
    settings = Settings(var_dir=tmp_path)
    msg = code_mail(conv, settings, catalog(), to=EVE, code="042917", minutes=10)
    assert str(msg["To"]) == EVE and msg["X-Kesher-Reference"] is None
    for part in (msg.get_body(("plain",)), msg.get_body(("html",))):
        assert part is not None
        content = part.get_content()
        assert "042917" in content and "10 minutes" in content
        assert "Noa" not in content and "K-3F9A1C" not in content and "123456" not in content
