"""``make up`` with ``KESHER_REPLICAS=2``: two of each of ``rasa run``, the action server and the handoff
service behind the nginx balancer on the usual ports; a ``rasa run`` killed mid-conversation is not missed.

``kesher up`` runs as an operator runs it (its own stack, not the session's), with the trained model.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Iterator, List, Tuple

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from websockets.client import connect

from actions.orders.models import OrderRow
from kesher.supervisor import ALL_PARTS
from tests.helpers.supervised import Up, processes_of
from tests.helpers.waiting import until_sync

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    running = Up(tmp_path_factory.mktemp("replicas-live"), ALL_PARTS, replicas=2,
                 limit_messages_per_source="0/60", limit_messages_per_sender="0/60")
    running.wait_running(timeout=900)
    yield running
    running.stop()


def _say(up: Up, sender: str, text: str) -> Tuple[str, str]:
    """The bot's reply over the REST channel through the balancer, and which ``rasa run`` gave it."""
    response = requests.post(f"{up.settings.rasa_url}/webhooks/kesher_rest/webhook",
                             json={"sender": sender, "message": text}, timeout=120,
                             headers={"Authorization": f"Bearer {up.settings.rest_token}"})
    assert response.status_code == 200, response.text
    reply = "\n".join(m.get("text", "") for m in response.json())
    assert reply, f"no reply to {text!r}"
    # "a, b" when nginx found a refused and took the next: b answered.
    return reply, response.headers["X-Kesher-Upstream"].split(", ")[-1]


def _an_order(up: Up) -> OrderRow:
    engine = create_engine(up.settings.orders_db_url)
    with Session(engine) as session:
        order = session.scalars(select(OrderRow).where(OrderRow.status == "shipped", OrderRow.language == "en",
                                                       OrderRow.tracking_number != None)).first()  # noqa: E711
    engine.dispose()
    assert order is not None
    return order


def test_a_conversation_goes_on_across_both_replicas_and_a_kill_9_of_one(up: Up) -> None:
    rasa = {f"127.0.0.1:{port}" for name, port in up.ports().items() if name.startswith("rasa-")}
    assert len(rasa) == 2 and {n for n in up.ports()} >= {"actions-1", "actions-2", "handoff-1", "handoff-2"}
    order = _an_order(up)
    served: List[str] = []
    # The order form's checks run on the action servers, which `rasa run` reaches through the balancer too.
    for text in ("where is my order?", order.order_id):
        served.append(_say(up, "replicas-1", text)[1])
    mark = len(up.text())

    os.kill(up.pids()["rasa-1"], signal.SIGKILL)
    killed = time.monotonic()
    reply, by = _say(up, "replicas-1", order.email)  # mid-conversation, while rasa-1 is gone

    assert str(order.tracking_number) in reply
    served.append(by)
    for n in range(6):
        served.append(_say(up, f"replicas-{n + 2}", "how much does delivery cost?")[1])
    restarted = up.wait_for(r"rasa-1 started \(pid \d+\) on 127\.0\.0\.1:(\d+)", timeout=60, after=mark)
    back = up.wait_for(r"rasa-1 is ready", timeout=600, after=restarted.end())
    up.wait_for(rf"nginx reloaded, ready replicas' ports: rasa: [\d, ]*{restarted.group(1)}", timeout=60,
                after=back.end())
    # Not in rotation before its model is loaded and warm (the supervisor's readiness check parses first).
    assert restarted.group(1) not in up.text()[restarted.end():back.start()]
    print(f"\nrasa-1 back in rotation, warm, {time.monotonic() - killed:.0f} s after kill -9")
    until_sync(lambda: _say(up, "replicas-9", "hi")[1] not in rasa, what="a turn on the new rasa-1", timeout=60,
               every=0.2)
    assert set(served) <= rasa
    access = (up.var_dir / "frontdoor" / "logs" / "access.log").read_text()
    actions = [port for name, port in up.ports().items() if name.startswith("actions-")]
    # `rasa run` called the action servers through the balancer (the log names no path: they hold ids).
    assert any("POST 200 " in line and f"upstream=127.0.0.1:{port}" in line
               for line in access.splitlines() for port in actions), access[-2000:]


def test_the_widget_talks_over_a_websocket_through_the_balancer(up: Up) -> None:
    session = requests.post(f"{up.settings.rasa_url}/webhooks/web/session", timeout=30).json()

    async def talk() -> List[str]:
        url = up.settings.rasa_url.replace("http://", "ws://") + "/webhooks/web/socket"
        texts: List[str] = []
        async with connect(url, max_size=2**22, open_timeout=30) as ws:
            await ws.send(json.dumps({"type": "hello", **session, "after": 0}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "hello"
            await ws.send(json.dumps({"type": "message", "text": "how much does delivery cost?"}))
            while not any("29.90" in t for t in texts):
                frame = json.loads(await asyncio.wait_for(ws.recv(), 90))
                if frame.get("type") == "message" and frame.get("role") == "bot":
                    texts.append(frame["text"])
        return texts

    assert asyncio.run(talk())


def test_stopping_leaves_nothing(up: Up) -> None:
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=120) == 0
    until_sync(lambda: not processes_of(up.var_dir), what="every replica and nginx gone", timeout=15)
