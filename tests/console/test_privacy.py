"""Against the running handoff service: after a whole handoff through the console's API, nothing is kept forever,
agents see card and ID numbers masked, and the service's log shows neither the customer's phone nor e-mail.
"""

from __future__ import annotations

import random

import httpx
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.models import ConversationState, HandoffRequest
from handoff.router import InboundMessage
from handoff.state import HandoffStore
from tests.console.conftest import Service, login
from tests.helpers.retention import shared_keys, ttls
from wiring.container import Container

RETENTION = Settings().retention_seconds  # the service runs with the default: 30 days
CARD = "4580\u202f1234\u202f5678\u202f9015"  # narrow no-break spaces
ID_NUMBER = "123.456.782"


async def test_a_handoff_through_the_console_leaves_nothing_without_an_expiry(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
) -> None:
    phone = f"+97250{random.randrange(10**6, 10**7)}"
    email = f"privacy{random.randrange(10**6)}@example.com"
    cid = conversation_id("whatsapp", phone)
    # the customer's side, as `rasa run` does it: same Redis, same keys
    customer = Container(Settings().with_ports(redis=console_service.redis_port, rasa=1, actions=1))
    keys = RedisKeys()
    dana = httpx.AsyncClient(base_url=console_service.base_url, follow_redirects=False, timeout=15)
    try:
        await customer.desk.customer_verified(cid, email, "whatsapp", "en")
        await customer.desk.request(HandoffRequest(
            cid=cid, channel="whatsapp", language="en", reason="explicit_request", reference="K-PRIV99",
            priority=1, topic="general", email=email, phone=phone, asked=[f"I paid with {CARD}"],
        ))
        await customer.router.route(InboundMessage(cid=cid, channel="whatsapp", text=f"my ID is {ID_NUMBER}"))

        csrf = await login(dana, "dana")
        h = {"X-CSRF-Token": csrf}
        assert (await dana.post("/console/api/presence", json={"status": "online"}, headers=h)).status_code == 200
        assert (await dana.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200
        # what the agent sees of the customer: masked
        stored = await live_store.get(cid)
        assert stored is not None and stored.asked == ["I paid with •••• •••• •••• 9015"]
        events = (await dana.get(f"/console/api/chats/{cid}/events")).json()["events"]
        said = [e["text"] for e in events if e["kind"] == "customer"]
        assert said == ["my ID is •••••••82"]
        sent = await dana.post(f"/console/api/chats/{cid}/messages", json={"text": "On it!"}, headers=h)
        assert sent.status_code == 201
        assert (await dana.post(f"/console/api/chats/{cid}/notes", json={"text": "ok"}, headers=h)).status_code == 201
        closed = await dana.post(f"/console/api/chats/{cid}/close", headers=h,
                                 json={"resolution": "resolved", "summary": "Refunded."})
        assert closed.status_code == 200, closed.text
        await customer.router.route(InboundMessage(cid=cid, channel="whatsapp", text="4"))
        await customer.router.route(InboundMessage(cid=cid, channel="whatsapp", text="thanks"))
        conv = await live_store.get(cid)
        assert conv is not None and conv.state is ConversationState.BOT

        found = await ttls(redis_client, keys.prefix)
        shared = shared_keys(keys, [])
        kept = {k: t for k, t in found.items() if k not in shared and not k.startswith(keys.prefix + "agent:")}
        assert keys.conversation(cid) in kept and keys.events(cid) in kept and keys.closed() in kept
        forever = {k: t for k, t in kept.items() if not 0 < t <= RETENTION}
        assert forever == {}, f"kept beyond {RETENTION} s (-1: forever): {forever}"
    finally:
        await dana.aclose()
        await customer.close()

    log = console_service.log_tail(10**7)
    assert f"queued: closing for whatsapp:+{'•' * (len(phone) - 3)}{phone[-2:]}" in log  # the service logged it ...
    assert phone not in log and phone[1:] not in log and email not in log  # ... masked
