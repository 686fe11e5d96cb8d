"""``KESHER_REPLICAS=2``: two handoff services behind the nginx balancer, which lists only the ready ones.

The handoff service is the cheap replicated part (``rasa run`` has its own test in tests/e2e); what is shown
here holds for all three, which the supervisor treats alike.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import httpx
import pytest
import requests

from core.processes import free_port
from tests.frontdoor.certs import issue_local_tls
from tests.helpers.console import ConsoleAgent, console_socket
from tests.helpers.supervised import Up, processes_of
from tests.helpers.waiting import until_sync

PARTS = ("redis", "smtp", "handoff", "frontdoor")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    running = Up(tmp_path_factory.mktemp("replicas"), PARTS, replicas=2)
    running.wait_running()
    yield running
    running.stop()


@pytest.fixture()
def own_up(tmp_path: Path) -> Iterator[Up]:
    """A stack of its own, for a test that kills a replica."""
    running = Up(tmp_path, PARTS, replicas=2)
    running.wait_running()
    yield running
    running.stop()


def _served_by(port: int) -> str:
    response = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
    assert response.status_code == 200, response.text
    return response.headers["X-Kesher-Upstream"]


class Traffic:
    """Requests to the balancer one after another on fresh connections, from a thread, each one noted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.results: List[Tuple[float, str]] = []  # (when it was sent, the replica or the failure)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                response = requests.get(f"http://127.0.0.1:{self.port}/health", timeout=10)
                # nginx lists every replica it tried ("dead, survivor"): the last one answered. An old worker
                # still draining at the reload may try the killed replica first; the customer sees no failure.
                upstream = response.headers.get("X-Kesher-Upstream", "").split(", ")[-1]
                outcome = upstream if response.ok else f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                outcome = f"failed: {exc}"
            self.results.append((sent, outcome))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def failures(self, since: float = 0.0) -> List[str]:
        return [outcome for sent, outcome in self.results if sent >= since and not outcome.startswith("127.0.0.1:")]


def test_both_handoff_replicas_serve_through_the_balancer_on_the_usual_port(up: Up) -> None:
    ports = up.ports()
    assert sorted(ports) == ["handoff-1", "handoff-2"]
    balancer = up.settings.handoff_port
    assert balancer not in ports.values()

    seen = {_served_by(balancer) for _ in range(12)}

    assert seen == {f"127.0.0.1:{port}" for port in ports.values()}


def test_an_agent_logs_in_and_gets_the_live_feed_through_the_balancer_without_sticky_sessions(up: Up) -> None:
    agent = ConsoleAgent(up.settings, "dana")  # the login page from one replica, the form to the other
    agent.presence("online")
    assert agent.queue() == [] and agent.queue() == []  # both replicas know the session

    async def hello() -> None:
        ws = await console_socket(up.settings.handoff_url, str(agent.http.cookies["kesher_session"]))
        await ws.close()

    asyncio.run(hello())


def test_a_killed_replica_leaves_the_rotation_and_comes_back_into_it(own_up: Up) -> None:
    up = own_up
    balancer = up.settings.handoff_port
    survivor = up.ports()["handoff-2"]
    old_pid = up.pids()["handoff-1"]
    mark = len(up.text())
    traffic = Traffic(balancer)
    try:
        until_sync(lambda: len(traffic.results) > 10, what="traffic through the balancer", timeout=30)

        os.kill(old_pid, signal.SIGKILL)
        killed = time.monotonic()
        out = up.wait_for(rf"nginx reloaded, ready replicas' ports: handoff: {survivor}\n", after=mark)
        reloaded = time.monotonic()
        # From the reload on, every request goes to the survivor and none fails.
        until_sync(lambda: sum(sent > reloaded for sent, _ in traffic.results) >= 20, what="requests after the reload",
                   timeout=30)
        after = [outcome for sent, outcome in traffic.results if sent > reloaded]
        assert traffic.failures(since=reloaded) == []
        assert set(after) == {f"127.0.0.1:{survivor}"}

        # It comes back on a fresh port, warm, and the balancer sends to it again.
        back = up.wait_for(r"handoff-1 started \(pid \d+\) on 127\.0\.0\.1:(\d+)", after=out.end())
        new_port = int(back.group(1))
        ready = up.wait_for(r"handoff-1 is ready", after=back.end())
        up.wait_for(rf"nginx reloaded, ready replicas' ports: handoff: (?:{new_port}, {survivor}|{survivor}, "
                    rf"{new_port})\n", after=ready.end())
        assert str(new_port) not in up.text()[back.end():ready.start()]  # not in rotation before it answers
        until_sync(lambda: any(outcome == f"127.0.0.1:{new_port}" for _, outcome in traffic.results),
                   what="a request served by the replica that came back", timeout=30)
        print(f"\nhandoff-1 back in rotation {time.monotonic() - killed:.1f} s after kill -9; "
              f"{len(traffic.failures())} of {len(traffic.results)} requests failed "
              f"(all before the reload: {traffic.failures(since=reloaded) == []})")
    finally:
        traffic.stop()
    assert re.search(rf"handoff-1 \(pid {old_pid}\) was killed by SIGKILL; next try in 1 s", up.text())
    assert traffic.failures(since=reloaded) == []


def test_a_sigkilled_supervisor_takes_nginx_its_workers_and_every_replica_along(up: Up) -> None:
    nginx = up.pids()["frontdoor"]
    workers = [pid for pid in processes_of(up.var_dir) if _parent(pid) == nginx]
    assert workers  # nginx's own children, in its process group

    up.process.kill()
    up.process.wait()

    until_sync(lambda: not processes_of(up.var_dir), what="nginx, its workers and the replicas gone", timeout=15,
               every=0.1)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def test_the_tls_front_door_balances_over_the_replicas_and_logs_no_conversation_id(tmp_path: Path) -> None:
    tls = issue_local_tls(tmp_path / "tls")
    door = Up(tmp_path, PARTS, replicas=2, public_host="localhost", public_port=free_port(),
              public_bind="127.0.0.1", tls_cert=tls.server_cert, tls_key=tls.server_key)
    try:
        door.wait_running()
        replicas = {f"upstream=127.0.0.1:{port}" for port in door.ports().values()}
        with httpx.Client(base_url=door.settings.public_url, verify=tls.client_context(), timeout=15) as http:
            for _ in range(10):
                assert http.get("/console/login").status_code == 200
            assert http.get("/console/api/chats/whatsapp%3A%2B972501234567/events").status_code in (401, 403)
        log = (door.var_dir / "frontdoor" / "logs" / "access.log").read_text()
        assert {word for word in log.split() if word.startswith("upstream=")} >= replicas
        assert "972501234567" not in log
    finally:
        door.stop()
