"""Faults you can kill -9 (issue #15 point 4): ``make test-faults``, also part of ``make test``.

The whole stack runs as ``make up REPLICAS=2`` runs it (``kesher up`` from a background shell: two each of
``rasa run``, the action server and the handoff service behind nginx, Redis with its append-only file fsynced
every second). Customers write on Telegram (the fake Bot API records every ``sendMessage``, so what reached
them can be counted exactly); two agents work in the console over HTTP through the balancer.

Mid-conversation, one after another: kill -9 of a ``rasa run`` replica, of an action server, of a handoff
service, of Redis (the supervisor starts it again; the append-only file has every write it acknowledged),
and of the delivery worker (it runs inside ``rasa run``: the replica whose worker holds unsent messages is
the one killed); the SMTP server is down (SIGSTOP: it accepts connections and never answers) for a minute
meanwhile. Around each fault the customers and agents go on talking, each message with a text of its own.
At the end every message is counted and the table printed: none lost, none shown twice, no chat held by two
agents, every conversation answered after its fault.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Tuple

import httpx
import pytest
import redis
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from actions.orders.models import OrderRow
from core.redis_keys import RedisKeys
from core.settings import PROJECT_ROOT
from kesher.supervisor import ALL_PARTS
from tests.helpers import fake_telegram
from tests.helpers.console import ConsoleAgent
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.summary import SUMMARY
from tests.helpers.supervised import Up
from tests.helpers.waiting import until_sync

pytestmark = [pytest.mark.stack, pytest.mark.faults]

SECRET = "faults-telegram-secret"
SMTP_DOWN_SECONDS = 60.0
"""How long the SMTP server stays down (the issue's minute)."""
AFTER_FAULT_SECONDS = 120.0
"""How long a message sent around a fault may take to arrive (a dead worker's entries are claimed after 15 s)."""

_update_ids = itertools.count(10_000)


@dataclass
class Expected:
    """One message that must arrive exactly once: on Telegram (``chat``) or in the console (``cid``)."""

    fault: str
    where: str  # "telegram" or "console"
    chat: int
    text: str  # the unique text, or for a bot reply a fragment of it
    after: bool  # sent after the fault: proves the conversation continued


@dataclass
class Ledger:
    """Everything sent during the test, to be counted at the end."""

    expected: List[Expected] = field(default_factory=list)
    faults: List[str] = field(default_factory=list)


class TelegramUser:
    """A customer on Telegram: updates to the webhook through the balancer, retried as Telegram retries them."""

    def __init__(self, up: Up, telegram: FakeTelegram, chat_id: int) -> None:
        self.url = f"{up.settings.rasa_url}/webhooks/telegram/webhook"
        self.telegram, self.chat_id = telegram, chat_id
        self.cid = f"telegram:{chat_id}"

    def say(self, text: str) -> None:
        """Sends ``text`` once; an update not answered 200 is sent again, same ``update_id``, as Telegram does."""
        update = fake_telegram.text_update(next(_update_ids), self.chat_id, text)
        headers = fake_telegram.webhook_headers(SECRET)

        def accepted() -> bool:
            try:
                return httpx.post(self.url, json=update, headers=headers, timeout=60).status_code == 200
            except httpx.HTTPError:
                return False

        until_sync(accepted, what=f"the webhook accepting {text!r}", timeout=AFTER_FAULT_SECONDS, every=0.5)

    def texts(self) -> List[str]:
        """What Kesher sent this chat, in order."""
        return self.telegram.texts(self.chat_id)

    def wait_for(self, fragment: str, count: int = 1, timeout: float = AFTER_FAULT_SECONDS) -> None:
        """Waits until ``count`` messages containing ``fragment`` reached the chat."""
        until_sync(lambda: sum(fragment in t for t in self.texts()) >= count,
                   what=f"{count} message(s) with {fragment!r} to chat {self.chat_id}: {self.texts()}",
                   timeout=timeout, every=0.2)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, telegram: FakeTelegram) -> Iterator[Up]:
    folder = tmp_path_factory.mktemp("faults")
    policy = yaml.safe_load((PROJECT_ROOT / "handoff" / "policy.yml").read_text(encoding="utf-8"))
    policy["business_hours"]["days"] = {day: ["00:00", "23:59:59"] for day in range(7)}  # the desk always open
    (folder / "policy.yml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    running = Up(folder, ALL_PARTS, replicas=2, handoff_policy=folder / "policy.yml",
                 limit_sessions_per_source="0/60", limit_messages_per_source="0/60",
                 limit_messages_per_sender="0/60", telegram_token=fake_telegram.DEFAULT_TOKEN,
                 telegram_secret_token=SECRET, telegram_api_base=telegram.base_url)
    running.wait_running(timeout=900)
    yield running
    running.stop()


def _an_order(up: Up) -> OrderRow:
    engine = create_engine(up.settings.orders_db_url)
    with Session(engine) as session:
        order = session.scalars(select(OrderRow).where(OrderRow.status == "shipped", OrderRow.language == "en",
                                                       OrderRow.tracking_number != None)).first()  # noqa: E711
    engine.dispose()
    assert order is not None
    return order


def _mails_to(up: Up, address: str) -> int:
    return sum(address in path.read_text(encoding="utf-8", errors="replace")
               for path in up.settings.mail_dir.glob("*.eml"))


def _redis(up: Up) -> redis.Redis:
    return redis.Redis(port=up.settings.redis_port, socket_timeout=2, decode_responses=True)


def _redis_answers(up: Up) -> bool:
    client = _redis(up)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _contains(text: str) -> Callable[[List[str]], bool]:
    return lambda texts: text in texts


def _kill(up: Up, name: str) -> int:
    pid = up.pids()[name]
    os.kill(pid, signal.SIGKILL)
    return pid


def _kill_the_delivery_worker_holding_messages(
    up: Up, telegram: FakeTelegram, unsent: int,
) -> Tuple[Callable[[], None], Callable[[], None]]:
    """What makes the next ``unsent`` sends fail, and what kills the ``rasa run`` whose worker then holds them."""

    def fail() -> None:
        telegram.fail_next(unsent, status=500, method="sendMessage")

    def kill() -> None:
        client = _redis(up)
        stream = RedisKeys().outbound()

        def holder() -> str:
            # The entries failed once and stay pending with the worker that read them, to be retried.
            failed = sum(1 for c in telegram.calls_of("sendMessage", include_failed=True) if c.status == 500)
            if failed < unsent:
                return ""
            pending = client.xpending_range(stream, "delivery", min="-", max="+", count=100)
            return str(pending[0]["consumer"]) if pending else ""

        consumer = until_sync(holder, what="a delivery worker holding the failed messages", timeout=60)
        client.close()
        pid = int(consumer.rsplit("-", 2)[1])  # <host>-<pid>-<random>
        names = [name for name, p in up.pids().items() if p == pid]
        assert names and names[0].startswith("rasa-"), (consumer, up.pids())
        print(f"\n  the delivery worker holding the messages is in {names[0]} (pid {pid}): kill -9")
        os.kill(pid, signal.SIGKILL)

    return fail, kill


def test_kill_9_anything_mid_conversation_loses_nothing_and_doubles_nothing(up: Up, telegram: FakeTelegram,
                                                                          record_property: Any) -> None:
    ledger = Ledger()
    order = _an_order(up)
    sarah, dana = ConsoleAgent(up.settings, "sarah"), ConsoleAgent(up.settings, "dana")
    for agent in (sarah, dana):
        agent.presence("online")

    # SMTP goes down first and stays down a minute, across the faults below: the summary e-mail of the
    # verified customer's handoff waits in the outbox and is retried.
    smtp_pid = up.pids()["smtp"]
    os.kill(smtp_pid, signal.SIGSTOP)
    smtp_down = time.monotonic()
    try:
        verified = TelegramUser(up, telegram, 9_100_001)
        for text, answer in (("where is my order?", "order number"), (order.order_id, "e-mail"),
                             (order.email, order.order_id)):
            verified.say(text)
            verified.wait_for(answer)
        other = TelegramUser(up, telegram, 9_100_002)
        handoffs = [verified, other]
        for customer in handoffs:
            customer.say("I want to talk to a human")
            customer.wait_for("from our team has joined")
        holder: Dict[str, ConsoleAgent] = {}
        for customer in handoffs:
            for agent in (sarah, dana):
                if any(c["cid"] == customer.cid for c in agent.get("/api/chats")["chats"]):
                    holder[customer.cid] = agent
        assert set(holder) == {c.cid for c in handoffs}, holder

        bot_chats = itertools.count(9_200_001)
        rasa_killed_at = len(up.text())

        def around(fault: str, inject: Callable[[], object], before: Callable[[], object] = time.monotonic) -> None:
            """Conversations going on when ``inject`` strikes, and after it."""
            ledger.faults.append(fault)
            bot = TelegramUser(up, telegram, next(bot_chats))
            bot.say("how much does delivery cost?")
            bot.wait_for("29.90")
            ledger.expected.append(Expected(fault, "telegram", bot.chat_id, "29.90", after=False))
            before()
            for n, customer in enumerate(handoffs):
                said = f"[{fault}] agent before {n}"
                response = holder[customer.cid].send(customer.cid, said)
                assert response, said
                ledger.expected.append(Expected(fault, "telegram", customer.chat_id, said, after=False))
                wrote = f"[{fault}] customer before {n}"
                customer.say(wrote)
                ledger.expected.append(Expected(fault, "console", customer.chat_id, wrote, after=False))
            inject()  # mid-conversation: the messages above may still be on their way
            bot.say("where is my order?")
            ledger.expected.append(Expected(fault, "telegram", bot.chat_id, "order number", after=True))
            for n, customer in enumerate(handoffs):
                wrote = f"[{fault}] customer after {n}"
                customer.say(wrote)
                ledger.expected.append(Expected(fault, "console", customer.chat_id, wrote, after=True))
                said = f"[{fault}] agent after {n}"
                holder[customer.cid].send(customer.cid, said)
                ledger.expected.append(Expected(fault, "telegram", customer.chat_id, said, after=True))
            for item in ledger.expected:
                if item.fault == fault and item.where == "telegram":
                    TelegramUser(up, telegram, item.chat).wait_for(item.text)
                elif item.fault == fault:
                    cid = f"telegram:{item.chat}"
                    holder[cid].wait_customer_texts(cid, _contains(item.text), timeout=AFTER_FAULT_SECONDS)
            print(f"\n  {fault}: every message around it arrived")

        around("rasa run kill -9", lambda: _kill(up, "rasa-1"))
        around("action server kill -9", lambda: _kill(up, "actions-1"))
        around("handoff service kill -9", lambda: _kill(up, "handoff-1"))

        def redis_restarted() -> None:
            _kill(up, "redis")
            until_sync(lambda: _redis_answers(up), what="Redis started again by the supervisor", timeout=60)

        around("Redis kill -9, restarted", redis_restarted)

        # The delivery worker runs in every `rasa run`: both must be up, so that one is left to take over.
        up.wait_for(r"rasa-1 is ready", timeout=600, after=rasa_killed_at)
        up.wait_for(r"nginx reloaded, ready replicas' ports: rasa: \d+, \d+", timeout=60, after=rasa_killed_at)
        fail, kill_worker = _kill_the_delivery_worker_holding_messages(up, telegram, unsent=len(handoffs))
        around("delivery worker kill -9", kill_worker, before=fail)

        assert _mails_to(up, order.email) == 0, "an e-mail went out while SMTP was down"
        until_sync(lambda: time.monotonic() - smtp_down >= SMTP_DOWN_SECONDS, what="SMTP down a minute",
                   timeout=SMTP_DOWN_SECONDS + 5, every=0.5)
    finally:
        os.kill(smtp_pid, signal.SIGCONT)
    print(f"\n  SMTP back after {time.monotonic() - smtp_down:.0f} s down")
    until_sync(lambda: _mails_to(up, order.email) >= 1, what="the handoff's summary e-mail after the outage",
               timeout=180, every=0.5)
    ledger.faults.append("SMTP down a minute")

    # The count: each message exactly once where it was meant to arrive, each chat with one agent.
    rows: Dict[str, List[int]] = {fault: [0, 0, 0, 0, 0] for fault in ledger.faults}  # lost, twice, 2 agents, ok, n
    console: Dict[str, List[str]] = {c.cid: holder[c.cid].customer_texts(c.cid) for c in handoffs}
    for item in ledger.expected:
        if item.where == "telegram":
            seen = sum(item.text in t for t in telegram.texts(item.chat))
        else:
            seen = console[f"telegram:{item.chat}"].count(item.text)
        row = rows[item.fault]
        row[0] += seen == 0
        row[1] += seen > 1
        row[4] += 1
    held: Dict[str, int] = {c.cid: 0 for c in handoffs}
    for agent in (sarah, dana):
        for chat in agent.get("/api/chats")["chats"]:
            if chat["cid"] in held:
                held[chat["cid"]] += 1
    joined = {c.cid: sum("from our team has joined" in t for t in c.texts()) for c in handoffs}
    two_agents = sum(held[cid] != 1 or joined[cid] != 1 for cid in held)
    for fault, row in rows.items():
        row[2] = two_agents
        continued = [i for i in ledger.expected if i.fault == fault and i.after]
        row[3] = len({i.chat for i in continued}) if not row[0] else 0
    mails = _mails_to(up, order.email)
    rows["SMTP down a minute"] = [0 if mails else 1, int(mails > 1), two_agents, len(handoffs), 1]

    print("\n" + _table(rows))
    record_property(SUMMARY, _table(rows))  # printed at the end of `make test` too (tests/helpers/summary.py)
    assert all(row[0] == 0 and row[1] == 0 and row[2] == 0 for row in rows.values()), _table(rows)
    assert all(row[3] >= 1 for row in rows.values()), _table(rows)


def _table(rows: Dict[str, List[int]]) -> str:
    head = f"{'fault':<28} {'messages':>8} {'lost':>5} {'twice':>6} {'chats on 2 agents':>18} {'conv. go on':>11}"
    lines = [head, "-" * len(head)]
    for fault, (lost, twice, two, ok, n) in rows.items():
        lines.append(f"{fault:<28} {n:>8} {lost:>5} {twice:>6} {two:>18} {ok:>11}")
    return "\n".join(lines)
