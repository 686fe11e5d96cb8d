"""What the tracker store costs a turn as a conversation grows: Rasa's Redis store against Kesher's.

Run with ``python -m bench.tracker_store``. On a redis-server of its own it grows one conversation per store
to ``--messages`` customer messages, turn by turn as Rasa does (read, add the turn's events, save), and
reports at 12, 50, 100 and 200 messages the median time of that read + save, the replay of the past states
that every policy asks for (``past_states``), and the size of the tracker Rasa posts to the action server.
The turns are the conversation tests' and stories' events (forms, slots, FAQs), one after the other.
Both stores are measured in the same run; ``--no-speedups`` leaves out ``bot/rasa_speedups.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from rasa.core.tracker_store import RedisTrackerStore, TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import EventVerbosity
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from bench.turns import machine
from bot.rasa_speedups import install
from bot.tracker_store import WindowedRedisTrackerStore
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from kesher.supervisor import Supervisor

MARKS = (12, 50, 100, 200)


def story_turns(domain: Domain) -> List[List[Event]]:
    """Every story's and conversation test's events, cut after each ``action_listen``."""
    steps = []
    for path in [PROJECT_ROOT / "data" / "stories" / "conversations.yml",
                 *sorted((PROJECT_ROOT / "tests" / "conversations").glob("*.yml"))]:
        steps += YAMLStoryReader(domain).read_from_file(str(path))
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, remove_duplicates=False, augmentation_factor=0,
                                     use_story_concatenation=False).generate_story_trackers()
    turns: List[List[Event]] = [[]]
    for tracker in trackers:
        if tracker.is_rule_tracker:
            continue
        for event in list(tracker.events)[1:]:
            turns[-1].append(event)
            if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
                turns.append([])
    return [t for t in turns if t]


def _fresh(event: Event) -> Event:
    data = event.as_dict()
    data["timestamp"] = time.time()
    found = Event.from_parameters(data)
    assert found is not None
    return found


async def grow(store: TrackerStore, domain: Domain, sender: str, turns: Sequence[List[Event]],
               messages: int) -> Dict[int, Dict[str, float]]:
    """Grows one conversation to ``messages`` customer messages; the figures at each of :data:`MARKS`."""
    start = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    tracker = store.init_tracker(sender)
    for event in start:
        tracker.update(event)
    await store.save(tracker)
    out: Dict[int, Dict[str, float]] = {}
    samples: Dict[str, List[float]] = {"store": [], "states": [], "kb": []}
    said = 0
    i = 0
    while said < messages:
        turn = [_fresh(e) for e in turns[i % len(turns)]]
        i += 1
        began = time.perf_counter()
        read = await store.retrieve(sender)
        assert read is not None
        for event in turn:
            read.update(event)
        await store.save(read)
        samples["store"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        read.past_states(domain)
        samples["states"].append((time.perf_counter() - began) * 1000)
        samples["kb"].append(len(json.dumps(read.current_state(EventVerbosity.ALL))) / 1024)
        said += sum(1 for e in turn if e.type_name == "user")
        for mark in MARKS:
            if said >= mark and mark not in out:
                # the median of the last few turns before the mark, so one slow turn does not decide it
                out[mark] = {k: statistics.median(v[-5:]) for k, v in samples.items()}
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=max(MARKS))
    parser.add_argument("--no-speedups", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_speedups:
        install()
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    turns = story_turns(domain)
    settings = Settings(var_dir=Path(tempfile.mkdtemp(prefix="kesher-bench-store-"))).with_ports(
        redis=free_port(), rasa=0, actions=0)
    results: Dict[str, Dict[int, Dict[str, float]]] = {}
    with Supervisor(settings, parts=("redis",)):
        stores: Dict[str, Any] = {
            "Rasa RedisTrackerStore": RedisTrackerStore(domain, host="127.0.0.1", port=settings.redis_port,
                                                        key_prefix="rasa", record_exp=3600),
            "Kesher WindowedRedisTrackerStore": WindowedRedisTrackerStore(
                domain, host="127.0.0.1", port=settings.redis_port, key_prefix="kesher", record_exp=3600),
        }
        for name, store in stores.items():
            results[name] = asyncio.run(grow(store, domain, "bench", turns, args.messages))
    print(f"Run {time.strftime('%Y-%m-%d %H:%M')} on {machine()}; speed-ups {'off' if args.no_speedups else 'on'}")
    print("\n| store | customer messages so far | read + save ms | past states ms | tracker sent to an action KB |")
    print("|---|---|---|---|---|")
    for name, marks in results.items():
        for mark, figures in sorted(marks.items()):
            print(f"| {name} | {mark} | {figures['store']:.1f} | {figures['states']:.1f} | {figures['kb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
