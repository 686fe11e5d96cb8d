"""Relay benchmark: how fast messages cross the live-agent handoff, against a plain bot turn.

Run with ``make bench-relay`` (or ``python -m bench.relay``). In one invocation it:

1. starts the whole stack as ``make up`` does (redis-server, the SMTP server,
   the action server, ``rasa run``, the handoff service) on free loopback
   ports, with a benchmark agents file (agents of large capacity) and with
   manual assignment, so the assigner does not move the benchmark's chats;
2. runs, in this process, the customers' callback server (the URL the
   ``kesher_callback`` channel POSTs to) and a few logged-in agent consoles,
   each with its websocket open, as the browser console has;
3. per level (10 and 100 concurrent conversations):

   - **baseline**: a plain bot turn over Rasa's REST channel (``/greet``,
     which skips NLU) from as many concurrent customers, in conversations of
     5 turns, as many turns as the relay has round trips;
   - **relay**: puts that many conversations straight into the with-agent
     state in Redis (``HandoffStore.request`` + ``take``, no bot turn), does
     one unmeasured round trip per conversation, then each conversation does
     its round trips one after the other, without pauses (like the baseline's
     customers, so both run the machine at capacity): the customer posts to
     the webhook and waits until its agent's websocket shows the message
     (**customer → console**); the agent posts the answer to the console API
     and waits until the customer's callback server receives it
     (**agent → customer**);

4. prints p50/p95/p99 latency per path and level, the handoff service's
   resident memory (RSS), the CPU each part used during the relay phases,
   and writes the same tables to
   ``bench/out/relay-<date>[-replicas-N].md``.

With ``--replicas 2`` (``make bench-relay REPLICAS=2``) the stack runs as ``make up REPLICAS=2`` runs it:
two each of ``rasa run``, the action server and the handoff service behind the nginx balancer, which the
customers' webhooks and the agents' consoles and websockets go through, so a message often crosses from
one replica to the other (through Redis) on its way.

The load generator, the callback server and the agent websockets share the
machine (and one event loop) with the servers, as in ``bench/turns.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import aiohttp
import yaml
from aiohttp import web

from bench.turns import OUT_DIR, Result, load, machine, rest_headers, rest_url, rss_mb, without_limits
from connectors.callback import SECRET_HEADER
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from handoff.identity import conversation_id, split_conversation_id
from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor
from wiring.container import Container

LEVELS = (10, 100)
ROUNDS = (100, 20)  # the relay phases last seconds, not fractions of one
AGENTS = 2
CAPACITY = 1000
BASELINE_SCRIPT = ["/greet"] * 5
WAIT_SECONDS = 30.0
PASSWORD = "kesher-demo"  # the demo agents' password; their hash is reused below
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


# -- where things arrive --------------------------------------------------------------
class Arrivals:
    """Futures keyed by a unique message text, resolved with the time the message arrived."""

    def __init__(self) -> None:
        self.waiting: Dict[str, asyncio.Future[float]] = {}
        self.early: Dict[str, float] = {}

    def expect(self, key: str) -> asyncio.Future[float]:
        """A future for ``key``; create it before sending, so no arrival is missed."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if key in self.early:
            future.set_result(self.early.pop(key))
        else:
            self.waiting[key] = future
        return future

    def arrived(self, key: str, at: float) -> None:
        """Records an arrival (messages nobody waits for are ignored)."""
        future = self.waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(at)

    def forget(self, key: str) -> None:
        """Drops a future that timed out."""
        self.waiting.pop(key, None)


async def callback_runner(arrivals: Arrivals) -> web.AppRunner:
    """The customers' side, set up but not listening yet: every message Kesher sends them is POSTed to /inbox."""

    async def inbox(request: web.Request) -> web.Response:
        at = time.perf_counter()
        message = await request.json()
        arrivals.arrived(str(message.get("text", "")), at)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    return runner


async def start_callback_server(port: int, arrivals: Arrivals) -> web.AppRunner:
    """:func:`callback_runner` listening on ``port`` of loopback."""
    runner = await callback_runner(arrivals)
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


# -- the agents ------------------------------------------------------------------------
def write_agents_file(path: Path, count: int) -> List[str]:
    """Benchmark agents (the demo agents' password hash, large capacity); returns their ids."""
    demo = yaml.safe_load((PROJECT_ROOT / "handoff" / "agents.yml").read_text(encoding="utf-8"))
    password_hash = demo["agents"]["dana"]["password_hash"]
    ids = [f"bench{i + 1}" for i in range(count)]
    agents = {
        agent_id: {
            "name": f"Bench Agent{i + 1}",
            "password_hash": password_hash,
            "email": f"{agent_id}@kesher.example",
            "languages": ["he", "en"],
            "topics": ["orders"],
            "teams": ["orders"],
            "capacity": CAPACITY,
            "role": "agent",
        }
        for i, agent_id in enumerate(ids)
    }
    data = {"teams": {"orders": {"name": "Orders and deliveries"}}, "agents": agents}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return ids


@dataclass
class Console:
    """One agent logged in to the console, with its websocket open."""

    agent_id: str
    base: str
    http: aiohttp.ClientSession
    csrf: str = ""
    ws: Optional[aiohttp.ClientWebSocketResponse] = None
    reader: Optional[asyncio.Task[None]] = None
    received: int = 0

    @classmethod
    async def login(cls, base: str, agent_id: str, arrivals: Arrivals) -> Console:
        """Logs in with the form (CSRF cookie + field), sets online, opens the websocket."""
        # The console sets its cookies on 127.0.0.1, which aiohttp's default jar refuses.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=60))
        console = cls(agent_id, base, http)
        async with http.get(f"{base}/console/login") as page:
            token = _search(r'name="csrf_token" value="([^"]+)"', await page.text())
        form = {"agent_id": agent_id, "password": PASSWORD, "csrf_token": token}
        async with http.post(f"{base}/console/login", data=form) as desk:
            body = await desk.text()
            if desk.status != 200:
                raise RuntimeError(f"login of {agent_id} failed: {desk.status} {body[:300]}")
        console.csrf = _search(r'<meta name="csrf-token" content="([^"]+)"', body)
        async with http.post(f"{base}/console/api/presence", json={"status": "online"},
                             headers={"X-CSRF-Token": console.csrf}) as presence:
            if presence.status != 200:
                raise RuntimeError(f"presence of {agent_id}: {presence.status} {await presence.text()}")
        console.ws = await http.ws_connect(f"{base}/console/ws", origin=base, heartbeat=None)
        hello = await console.ws.receive_json(timeout=30)
        if hello.get("type") != "hello":
            raise RuntimeError(f"unexpected first websocket message: {hello}")
        console.reader = asyncio.create_task(console._read(arrivals))
        return console

    async def _read(self, arrivals: Arrivals) -> None:
        assert self.ws is not None
        async for message in self.ws:
            at = time.perf_counter()
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if data.get("type") == "event" and data.get("event", {}).get("kind") == "customer":
                self.received += 1
                arrivals.arrived(str(data["event"].get("text", "")), at)

    async def send(self, cid: str, text: str) -> int:
        """The agent's answer through the console API; returns the HTTP status."""
        async with self.http.post(f"{self.base}/console/api/chats/{cid}/messages", json={"text": text},
                                  headers={"X-CSRF-Token": self.csrf}) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        """Closes the websocket and the HTTP session."""
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except asyncio.CancelledError:
                pass
        await self.http.close()


def _search(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"{pattern!r} not found in the page")
    return found.group(1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(supervisor: Supervisor) -> Dict[str, float]:
    """CPU seconds so far of each part and of this process (the load generator)."""
    out = {p.name: cpu_seconds(p.process.pid) for p in supervisor.parts
           if p.process and p.kind in ("redis", "rasa", "handoff", "frontdoor")}
    out["load generator"] = cpu_seconds(os.getpid())
    return out


# -- one level ------------------------------------------------------------------------
@dataclass
class RelayRun:
    """The latencies of one relay level (milliseconds)."""

    to_console: List[float] = field(default_factory=list)
    to_customer: List[float] = field(default_factory=list)
    webhook_answered: List[float] = field(default_factory=list)
    api_answered: List[float] = field(default_factory=list)
    errors_to_console: int = 0
    errors_to_customer: int = 0


async def handoff_conversations(store: HandoffStore, consoles: Sequence[Console], count: int,
                                label: str) -> List[Tuple[str, Console]]:
    """``count`` conversations put straight into the with-agent state, spread over the consoles."""
    pairs: List[Tuple[str, Console]] = []
    for i in range(count):
        # Letters only: the handoff masks long digit runs (IDs, phones) in what customers write, and the
        # messages carry the conversation id, so an id like "...-09387705" never matched its arrival.
        cid = conversation_id("kesher_callback", f"relay-{label}-{i}-{uuid.uuid4().hex[:8].translate(_LETTERS)}")
        console = consoles[i % len(consoles)]
        requested = await store.request(HandoffRequest(
            cid=cid, channel="kesher_callback", language="en", reason="explicit_request",
            reference=f"K-{uuid.uuid4().hex[:6].upper()}", topic="orders",
        ))
        taken = await store.take(cid, console.agent_id, console.agent_id, CAPACITY, require_online=False)
        if not (requested.ok and taken.ok):
            raise RuntimeError(f"could not hand over {cid}: {requested.state}, {taken.state}")
        pairs.append((cid, console))
    return pairs


async def round_trips(http: aiohttp.ClientSession, webhook: str, cid: str, console: Console, rounds: int,
                      arrivals: Arrivals, run: Optional[RelayRun], tag: str) -> None:
    """One conversation's round trips: customer → console, then agent → customer, ``rounds`` times."""
    own = split_conversation_id(cid)
    sender = own[1] if own else cid  # the callback's sender is the address in its conversation id
    for r in range(rounds):
        text = f"Where is my parcel? [{tag} {cid} {r}]"
        arrival = arrivals.expect(text)
        start = time.perf_counter()
        ok = False
        try:
            async with http.post(webhook, json={"sender": sender, "message": text}) as response:
                body = await response.json(content_type=None)
                answered = time.perf_counter()
                ok = response.status == 200 and body.get("routed") == ["with_agent"]
            if ok:
                at = await asyncio.wait_for(arrival, WAIT_SECONDS)
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if not ok:
            arrivals.forget(text)
            if run is not None:
                run.errors_to_console += 1
        elif run is not None:
            run.webhook_answered.append((answered - start) * 1000)
            run.to_console.append((at - start) * 1000)

        reply = f"Checking it now. [{tag} {cid} {r}]"
        arrival = arrivals.expect(reply)
        start = time.perf_counter()
        try:
            status = await console.send(cid, reply)
            answered = time.perf_counter()
            ok = status == 201
            if ok:
                at = await asyncio.wait_for(arrival, WAIT_SECONDS)
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if not ok:
            arrivals.forget(reply)
            if run is not None:
                run.errors_to_customer += 1
        elif run is not None:
            run.api_answered.append((answered - start) * 1000)
            run.to_customer.append((at - start) * 1000)


async def relay_level(settings: Settings, store: HandoffStore, consoles: Sequence[Console], arrivals: Arrivals,
                      concurrency: int, rounds: int) -> Tuple[RelayRun, float]:
    """Hands over ``concurrency`` conversations, warms them up, and measures their round trips."""
    webhook = f"http://127.0.0.1:{settings.rasa_port}/webhooks/kesher_callback/webhook"
    pairs = await handoff_conversations(store, consoles, concurrency, str(concurrency))
    run = RelayRun()
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0),
                                     headers={SECRET_HEADER: settings.callback_secret}) as http:
        await asyncio.gather(*(round_trips(http, webhook, cid, c, 1, arrivals, None, "warm-up")
                               for cid, c in pairs))
        start = time.perf_counter()
        await asyncio.gather(*(round_trips(http, webhook, cid, c, rounds, arrivals, run, "measured")
                               for cid, c in pairs))
        seconds = time.perf_counter() - start
    return run, seconds


# -- the whole run -----------------------------------------------------------------------
@dataclass
class Level:
    """Everything measured at one concurrency."""

    concurrency: int
    rounds: int
    baseline: Result
    relay: RelayRun
    relay_seconds: float
    handoff_rss_mb: float
    relay_cpu: Dict[str, float]


async def measure(supervisor: Supervisor, callback_port: int, agent_ids: Sequence[str],
                  levels: Sequence[Tuple[int, int]]) -> Tuple[List[Level], float]:
    settings = supervisor.settings
    arrivals = Arrivals()
    runner = await start_callback_server(callback_port, arrivals)
    container = Container(settings)
    redis, store = container.redis, container.store
    handoff_pids = [p.process.pid for p in supervisor.parts if p.kind == "handoff" and p.process]
    consoles: List[Console] = []
    results: List[Level] = []
    try:
        print(f"Logging in {len(agent_ids)} agents and opening their websockets...", flush=True)
        consoles = [await Console.login(settings.handoff_url, a, arrivals) for a in agent_ids]
        idle_rss = sum(rss_mb(pid) for pid in handoff_pids)
        for concurrency, rounds in levels:
            print(f"Baseline: bot turns over REST, {concurrency} concurrent customers, "
                  f"{concurrency * rounds} turns...", flush=True)
            baseline = await load(rest_url(settings), BASELINE_SCRIPT, concurrency, concurrency * rounds,
                                  "bot turn, REST `/greet` (baseline)", rest_headers(settings))
            print(f"Relay: {concurrency} concurrent handoff conversations, {rounds} round trips each...",
                  flush=True)
            before = cpu_by_part(supervisor)
            relay, seconds = await relay_level(settings, store, consoles, arrivals, concurrency, rounds)
            cpu = {k: v - before[k] for k, v in cpu_by_part(supervisor).items()}
            results.append(Level(concurrency, rounds, baseline, relay, seconds,
                                 sum(rss_mb(pid) for pid in handoff_pids), cpu))
    finally:
        for console in consoles:
            await console.close()
        await redis.close()
        await runner.cleanup()
    return results, idle_rss


def report(levels: Sequence[Level], idle_rss: float, agents: int, other_rss: Dict[str, float],
           load_before: float, replicas: int = 1) -> str:
    header = [
        "| path | concurrent conversations | messages | p50 ms | p95 ms | p99 ms | messages/s | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows: List[str] = []
    for level in levels:
        r, s, n = level.relay, level.relay_seconds, level.concurrency
        rows += [
            level.baseline.row(),
            Result("customer → agent console (websocket)", n, r.to_console, s, r.errors_to_console).row(),
            Result("agent → customer (callback)", n, r.to_customer, s, r.errors_to_customer).row(),
            Result("· customer's webhook answered", n, r.webhook_answered, s, r.errors_to_console).row(),
            Result("· agent's API POST answered", n, r.api_answered, s, r.errors_to_customer).row(),
        ]
    rounds = ", ".join(f"{level.rounds} at {level.concurrency}" for level in levels)
    what = "handoff service RSS (MB)" if replicas == 1 else f"handoff services' RSS, {replicas} replicas (MB)"
    memory = ["", f"| {what} | |", "|---|---|",
              f"| idle, {agents} consoles logged in | {idle_rss:.0f} |"]
    memory += [f"| after {level.concurrency} conversations | {level.handoff_rss_mb:.0f} |" for level in levels]
    parts = list(levels[0].relay_cpu) if levels else []
    memory += ["", "| relay phase | wall s | " + " | ".join(f"CPU s, {p}" for p in parts) + " |",
               "|---|---|" + "---|" * len(parts)]
    memory += [f"| {level.concurrency} conversations | {level.relay_seconds:.1f} | "
               + " | ".join(f"{level.relay_cpu[p]:.1f}" for p in parts) + " |" for level in levels]
    memory += ["", "Other parts after the run (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in other_rss.items())]
    return "\n".join([
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; 1-minute load average "
        f"{load_before:.2f} before the stack started, {os.getloadavg()[0]:.2f} at the end",
        f"Replicas: {replicas}" + (" (behind the nginx balancer)" if replicas > 1 else "") + "; "
        f"round trips per conversation: {rounds}; {agents} agent websockets; "
        "baseline: as many `/greet` turns per customer, in 5-turn conversations.",
        "",
        *header,
        *rows,
        *memory,
    ])


def _ints(raw: str) -> List[int]:
    return [int(x) for x in raw.split(",") if x.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=_ints, default=list(LEVELS),
                        help="concurrent conversations per level, comma-separated (default 10,100)")
    parser.add_argument("--rounds", type=_ints, default=list(ROUNDS),
                        help="round trips per conversation at each level (default 100,20)")
    parser.add_argument("--agents", type=int, default=AGENTS, help="agent consoles (websockets)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="replicas of rasa run, the action server and the handoff service (default 1)")
    args = parser.parse_args(argv)
    if len(args.levels) != len(args.rounds):
        parser.error("--levels and --rounds need the same number of values")

    print("Training the model if the data changed...", flush=True)
    model = train_model(Settings())  # a no-op when the model is current, as for `make up`
    load_before = os.getloadavg()[0]  # other work on the machine shows in the figures
    work = Path(tempfile.mkdtemp(prefix="kesher-relay-"))
    try:
        agent_ids = write_agents_file(work / "agents.yml", args.agents)
        callback_port = free_port()
        settings = without_limits(Settings(var_dir=work / "var")).replace(
            callback_url=f"http://127.0.0.1:{callback_port}/inbox", callback_secret=uuid.uuid4().hex,
            agents_file=work / "agents.yml",
            manual_assign=True, replicas=args.replicas,
        ).with_ports(redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(),
                     smtp=free_port(), models=free_port())
        seed(settings)
        print(f"Starting the stack (redis, smtp, actions, rasa, handoff; {args.replicas} replica(s))...",
              flush=True)
        started = time.perf_counter()
        with Supervisor(settings, model=model) as supervisor:
            print(f"Stack up in {time.perf_counter() - started:.0f} s.", flush=True)
            levels, idle_rss = asyncio.run(
                measure(supervisor, callback_port, agent_ids, list(zip(args.levels, args.rounds, strict=True)))
            )
            other = {p.name: rss_mb(p.process.pid) for p in supervisor.parts
                     if p.process and p.kind != "handoff"}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = report(levels, idle_rss, args.agents, other, load_before, args.replicas)
    print("\n" + text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    suffix = f"-replicas-{args.replicas}" if args.replicas > 1 else ""
    out = OUT_DIR / f"relay-{date.today().isoformat()}{suffix}.md"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
