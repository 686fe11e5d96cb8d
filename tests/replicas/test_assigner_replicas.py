"""Two handoff service replicas' assigner loops on one Redis: one pass at a time, however long a pass takes."""

from __future__ import annotations

import asyncio
from typing import List

import pytest
from redis.asyncio import Redis

from core.tasks import cancel_and_wait
from handoff.assigner import DeskLoop
from handoff.state import HandoffStore
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio

PASS_SECONDS = 2.5  # a slow pass: many waiting customers to tell their place, Rasa slow to answer


class SlowAssigner:
    """Stands in for :class:`handoff.assigner.Assigner`: records when each replica's pass runs."""

    def __init__(self, name: str, store: HandoffStore, passes: List[str], running: List[str]) -> None:
        self.name, self.passes, self.running = name, passes, running
        self.desk = type("DeskView", (), {"store": store})()

    async def run_once(self) -> int:
        self.running.append(self.name)
        self.passes.append(f"{self.name}:{len(self.running)}")  # how many passes ran at once
        await asyncio.sleep(PASS_SECONDS)
        self.running.remove(self.name)
        return 0


async def test_only_one_replica_assigns_at_a_time_even_when_a_pass_is_slow(redis_client: Redis) -> None:
    passes: List[str] = []
    running: List[str] = []
    store = HandoffStore(redis_client)
    loops = [DeskLoop(SlowAssigner(name, store, passes, running), tick_seconds=0.1)  # type: ignore[arg-type]
             for name in ("a", "b")]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        await until(lambda: len(passes) >= 2, what="two passes of the assigners", timeout=30)
    finally:
        stop.set()
        for task in tasks:
            await cancel_and_wait(task)
    assert all(entry.endswith(":1") for entry in passes), passes
