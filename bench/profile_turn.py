"""Where a Kesher turn's time goes: ``rasa run`` under cProfile while customers hold long conversations.

Run with ``python -m bench.profile_turn --model models/<model>.tar.gz``. It starts Redis, the model server and
the action server as ``make up`` does, then ``kesher.rasa_server`` under ``cProfile``; sends ``--conversations``
conversations of ``--turns`` messages each (the benchmark's Kesher script, one customer at a time), stops Rasa
so the profile is written, and prints the functions with the most cumulative and own time, the Redis commands
the turns cost (``INFO commandstats``). Timings under cProfile are inflated; compare the shares.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import aiohttp
import redis
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import EventVerbosity

from bench.turns import (
    KINDS,
    LIVE_TURNS,
    Bot,
    _cycle,
    _wait_http,
    kesher_script,
    record_template,
    rest_headers,
    rest_url,
    seed_conversations,
    seeded_history,
    shipped_order,
    stack_settings,
)
from bot.tracker_store import WindowedRedisTrackerStore
from connectors.rest import KesherRestChannel
from core.rasa_api import api_headers
from core.settings import PROJECT_ROOT, Settings
from handoff.identity import conversation_id
from kesher.cli import seed
from kesher.supervisor import Supervisor


def _commandstats(port: int) -> Dict[str, int]:
    client = redis.Redis(port=port)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def _talk(settings: Settings, script: Sequence[str], conversations: int, turns: int,
                sender: str = "", senders: Sequence[str] = ()) -> List[float]:
    took: List[float] = []
    async with aiohttp.ClientSession(headers=rest_headers(settings)) as session:
        for index in range(conversations):
            name = senders[index] if senders else sender or uuid.uuid4().hex
            for message in _cycle(script, turns):
                start = time.perf_counter()
                async with session.post(rest_url(settings), json={"sender": name, "message": message}) as resp:
                    await resp.read()
                took.append((time.perf_counter() - start) * 1000)
    return took


async def _action_payloads(settings: Settings, senders: Dict[str, int]) -> Dict[int, tuple[int, int]]:
    """The size of ``tracker.current_state(ALL)`` (what Rasa posts to the action server), windowed and full."""
    store = WindowedRedisTrackerStore(Domain.load(str(PROJECT_ROOT / "domain")), host="127.0.0.1",
                                      port=settings.redis_port, key_prefix=settings.tracker_key_prefix)
    out: Dict[int, tuple[int, int]] = {}
    try:
        for sender, turns in senders.items():
            cid = conversation_id(KesherRestChannel.name(), sender)
            window, full = await store.retrieve(cid), await store.retrieve_full_tracker(cid)
            assert window is not None and full is not None
            out[turns] = (len(json.dumps(window.current_state(EventVerbosity.ALL))),
                          len(json.dumps(full.current_state(EventVerbosity.ALL))))
    finally:
        await store.close()
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--turns", type=int, default=4 * LIVE_TURNS)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--long", type=int, default=200, help="messages in the conversation whose action-call "
                        "size is compared with a 5-message one")
    parser.add_argument("--out", type=Path, help="keep the profile here")
    parser.add_argument("--kind", choices=KINDS, default=KINDS[0],
                        help="the measured conversations' earlier history, as in bench.turns")
    args = parser.parse_args(argv)

    var = Path(tempfile.mkdtemp(prefix="kesher-profile-"))
    settings = stack_settings(var)
    seed(settings)
    order_id, email = shipped_order(settings)
    profile = args.out or var / "rasa.prof"
    with Supervisor(settings, model=args.model, parts=("redis", "models", "actions")):
        log = (var / "rasa.log").open("wb")
        rasa = subprocess.Popen([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "kesher.rasa_server"],
                                env=settings.child_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            print(f"rasa run under cProfile, log in {var / 'rasa.log'}", flush=True)
            _wait_http(f"http://127.0.0.1:{settings.rasa_port}/version", timeout=900)
            script = kesher_script(order_id, email)
            asyncio.run(_talk(settings, script, 1, LIVE_TURNS))  # warm-up, and the model is loaded
            senders = [uuid.uuid4().hex for _ in range(args.conversations)]
            if args.kind != KINDS[0]:
                bot = Bot("kesher", rest_url(settings), rest_headers(settings), settings.rasa_url,
                          lambda: api_headers(settings.rasa_api_token, username="bench"), script,
                          lambda sender: conversation_id(KesherRestChannel.name(), sender))
                template = asyncio.run(record_template(bot))
                asyncio.run(seed_conversations(bot, senders, seeded_history(template, args.kind, time.time())))
            before = _commandstats(settings.redis_port)
            took = asyncio.run(_talk(settings, script, args.conversations, args.turns, senders=senders))
            after = _commandstats(settings.redis_port)
            asyncio.run(_talk(settings, script, 1, 5, sender="five"))
            asyncio.run(_talk(settings, script, 1, args.long, sender="long"))
            sizes = asyncio.run(_action_payloads(settings, {"five": 5, "long": args.long}))
        finally:
            rasa.send_signal(signal.SIGINT)
            rasa.wait(timeout=60)
            log.close()
    n = len(took)
    late = [t for i, t in enumerate(took) if i % args.turns >= args.turns - LIVE_TURNS]
    print(f"{n} turns, mean {sum(took) / n:.1f} ms; the last {LIVE_TURNS} of each conversation: "
          f"mean {sum(late) / len(late):.1f} ms")
    print("\nRedis commands per turn (every process):")
    for name in sorted(after, key=lambda k: -(after[k] - before.get(k, 0))):
        calls = after[name] - before.get(name, 0)
        if calls:
            print(f"  {name:12s} {calls / n:6.2f}")
    print("\nThe tracker in an action call (JSON bytes) after n customer messages; Rasa's own store sends every event:")
    for turns, (window, full) in sizes.items():
        print(f"  {turns:4d} messages: this store {window:8d}, every event {full:8d}")
    stats = pstats.Stats(str(profile))
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
