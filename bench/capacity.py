"""Capacity: what each part and each conversation costs, for the plan in docs/operations.md.

Run with ``make bench-capacity`` (or ``python -m bench.capacity [--replicas 2] [--bot 200] [--handoffs 100]``).
It starts the whole stack as ``make up`` does (with ``--replicas`` N: as ``make up REPLICAS=N``), then:

1. **idle**: each part's resident memory (RSS and PSS: shared pages split between sharers), Redis's
   ``used_memory``, its key count and the length of each stream;
2. **bot conversations**: ``--bot`` customers each run the 12-message mix of ``bench/turns.py`` (FAQs,
   the knowledge base, a verified order status, Hebrew) over the REST channel, 20 at a time; then
   Redis memory, keys and stream lengths again: the growth per bot conversation;
3. **handoff conversations**: ``--handoffs`` conversations go to agents (as ``bench/relay.py`` does:
   straight into the with-agent state) and each does 5 round trips customer ↔ agent through the
   webhook and the console API; the growth per handoff conversation;
4. the parts' memory after the load.

Each stream's cap (``MAXLEN``, approximate) is printed beside its length: how long until it stops growing.
Prints the tables and writes them to ``bench/out/capacity-<date>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import aiohttp
from aiohttp import web

from bench.relay import Arrivals, Console, callback_runner, round_trips, write_agents_file
from bench.relay import handoff_conversations as hand_over
from bench.turns import (
    OUT_DIR,
    kesher_script,
    load,
    machine,
    pss_mb,
    rest_headers,
    rest_url,
    rss_mb,
    shipped_order,
    without_limits,
)
from connectors.callback import SECRET_HEADER
from connectors.delivery import UNDELIVERED_MAXLEN
from connectors.runtime import OUTBOUND_MAXLEN
from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.event_log import SERVICE_EVENTS_MAXLEN
from handoff.redis_client import RedisAddress, sync_redis
from handoff.state import FEED_MAXLEN
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor
from wiring.container import Container

CONCURRENCY = 20
ROUND_TRIPS = 5
AGENTS = 2


def streams() -> Dict[str, Tuple[str, int]]:
    """The shared streams that grow with traffic: name → (key, approximate MAXLEN)."""
    keys = RedisKeys()
    return {
        "service-events": (keys.service_events(), SERVICE_EVENTS_MAXLEN),
        "outbound": (keys.outbound(), OUTBOUND_MAXLEN),
        "feed": (keys.feed(), FEED_MAXLEN),
        "undelivered": (keys.undelivered(), UNDELIVERED_MAXLEN),
    }


def redis_snapshot(settings: Settings) -> Dict[str, float]:
    """Redis's used memory (bytes), key count and each stream's length."""
    client = sync_redis(RedisAddress.from_settings(settings), socket_timeout=10)
    try:
        info = client.info("memory")
        out: Dict[str, float] = {"used_memory": float(info["used_memory"]),
                                 "dataset": float(info["used_memory_dataset"]), "keys": float(client.dbsize())}
        for name, (key, _) in streams().items():
            out[name] = float(client.xlen(key)) if client.exists(key) else 0.0
        return out
    finally:
        client.close()


def part_memory(supervisor: Supervisor) -> Dict[str, Tuple[float, float]]:
    """Each running part's RSS and PSS (MB), its own children included."""
    return {p.name: (rss_mb(p.process.pid), pss_mb(p.process.pid)) for p in supervisor.parts
            if p.process and p.process.poll() is None}


async def bot_conversations(settings: Settings, count: int) -> float:
    """``count`` customers each running the 12-message mix; returns turns per second."""
    script = kesher_script(*shipped_order(settings))
    result = await load(rest_url(settings), script, min(CONCURRENCY, count), count * len(script),
                        "bot conversation", rest_headers(settings))
    return result.turns_per_second


async def _callback_server(listening: socket.socket, arrivals: Arrivals) -> web.AppRunner:
    """The customers' side on a socket bound before the stack started (a free port may be taken meanwhile)."""
    runner = await callback_runner(arrivals)
    await web.SockSite(runner, listening).start()
    return runner


async def handoff_conversations(settings: Settings, agent_ids: Sequence[str], listening: socket.socket,
                                count: int) -> int:
    """``count`` conversations with agents, :data:`ROUND_TRIPS` round trips each; returns the failed ones."""
    arrivals = Arrivals()
    runner = await _callback_server(listening, arrivals)
    container = Container(settings)
    consoles: List[Console] = []
    try:
        consoles = [await Console.login(settings.handoff_url, a, arrivals) for a in agent_ids]
        pairs = await hand_over(container.store, consoles, count, "capacity")
        webhook = f"{settings.rasa_url}/webhooks/kesher_callback/webhook"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120),
                                         connector=aiohttp.TCPConnector(limit=0),
                                         headers={SECRET_HEADER: settings.callback_secret}) as http:
            before = sum(c.received for c in consoles)
            await asyncio.gather(*(round_trips(http, webhook, cid, c, ROUND_TRIPS, arrivals, None, "capacity")
                                   for cid, c in pairs))
            return count * ROUND_TRIPS - (sum(c.received for c in consoles) - before)
    finally:
        for console in consoles:
            await console.close()
        await container.close()
        await runner.cleanup()


def growth_table(label: str, count: int, before: Dict[str, float], after: Dict[str, float]) -> List[str]:
    """Markdown rows: what ``count`` conversations added to Redis, in total and per conversation."""
    rows = [f"| {label} | total added | per conversation | cap (MAXLEN) |", "|---|---|---|---|"]
    memory = after["used_memory"] - before["used_memory"]
    rows.append(f"| Redis used_memory | {memory / 2**20:.1f} MB | {memory / count / 1024:.1f} KB | |")
    dataset = after["dataset"] - before["dataset"]
    rows.append(f"| Redis dataset | {dataset / 2**20:.1f} MB | {dataset / count / 1024:.1f} KB | |")
    rows.append(f"| keys | {after['keys'] - before['keys']:.0f} | {(after['keys'] - before['keys']) / count:.1f} | |")
    for name, (_, cap) in streams().items():
        added = after[name] - before[name]
        rows.append(f"| stream `{name}` entries | {added:.0f} | {added / count:.1f} | {cap:,} |")
    return rows


def memory_table(idle: Dict[str, Tuple[float, float]], loaded: Dict[str, Tuple[float, float]]) -> List[str]:
    """Markdown rows: each part's RSS and PSS idle and after the load."""
    rows = ["| part | RSS idle MB | RSS after load MB | PSS after load MB |", "|---|---|---|---|"]
    for name, (rss, pss) in loaded.items():
        rows.append(f"| {name} | {idle.get(name, (0.0, 0.0))[0]:.0f} | {rss:.0f} | {pss:.0f} |")
    total_rss = sum(v[0] for v in loaded.values())
    total_pss = sum(v[1] for v in loaded.values())
    rows.append(f"| **all parts** | {sum(v[0] for v in idle.values()):.0f} | {total_rss:.0f} | {total_pss:.0f} |")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=1, help="replicas of rasa run, actions, handoff (default 1)")
    parser.add_argument("--bot", type=int, default=200, help="bot conversations of 12 messages (default 200)")
    parser.add_argument("--handoffs", type=int, default=100, help="conversations with agents (default 100)")
    args = parser.parse_args(argv)

    model = train_model(Settings())  # a no-op when the model is current
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kesher-capacity-"))
    try:
        agent_ids = write_agents_file(work / "agents.yml", AGENTS)
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.bind(("127.0.0.1", 0))
        listening.listen(512)
        callback_port = listening.getsockname()[1]
        settings = without_limits(Settings(var_dir=work / "var")).replace(
            callback_url=f"http://127.0.0.1:{callback_port}/inbox", callback_secret=uuid.uuid4().hex,
            agents_file=work / "agents.yml", manual_assign=True, replicas=args.replicas,
        ).with_ports(redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(),
                     smtp=free_port(), models=free_port())
        seed(settings)
        print(f"Starting the stack ({args.replicas} replica(s))...", flush=True)
        started = time.perf_counter()
        with Supervisor(settings, model=model) as supervisor:
            print(f"Stack up in {time.perf_counter() - started:.0f} s.", flush=True)
            idle_memory = part_memory(supervisor)
            idle = redis_snapshot(settings)
            print(f"{args.bot} bot conversations of 12 messages, {CONCURRENCY} at a time...", flush=True)
            turns_per_second = asyncio.run(bot_conversations(settings, args.bot))
            after_bot = redis_snapshot(settings)
            print(f"{args.handoffs} conversations with agents, {ROUND_TRIPS} round trips each...", flush=True)
            lost = asyncio.run(handoff_conversations(settings, agent_ids, listening, args.handoffs))
            after_handoffs = redis_snapshot(settings)
            loaded_memory = part_memory(supervisor)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; {args.replicas} replica(s); "
        f"1-minute load average {load_before:.2f} before the stack started, {os.getloadavg()[0]:.2f} at the end",
        f"Idle Redis: used_memory {idle['used_memory'] / 2**20:.1f} MB, {idle['keys']:.0f} keys.",
        f"Bot conversations ran at {turns_per_second:.1f} turns/s ({CONCURRENCY} customers at a time); "
        f"handoff round trips that did not reach the console: {lost}.",
        "",
        *growth_table(f"{args.bot} bot conversations (12 messages each)", args.bot, idle, after_bot),
        "",
        *growth_table(f"{args.handoffs} handoff conversations ({ROUND_TRIPS} round trips each)", args.handoffs,
                      after_bot, after_handoffs),
        "",
        *memory_table(idle_memory, loaded_memory),
    ]
    report = "\n".join(lines)
    print("\n" + report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"capacity-{date.today().isoformat()}-replicas-{args.replicas}.md"
    out.write_text(report + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
