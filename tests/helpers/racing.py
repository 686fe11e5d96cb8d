"""Agents racing for the same conversations from separate processes, each with its own Redis connection.

:func:`race_for_conversations` starts one process per agent (``spawn``: nothing
is shared but what is passed). Before each conversation every process waits at
one barrier, then all send ``HandoffStore.take`` at once, so Redis really
receives concurrent takes from different connections.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any, List, Sequence, Tuple

from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.state import HandoffStore


@dataclass(frozen=True)
class Attempt:
    """One agent's take of one conversation, as that agent's process saw it."""

    agent_id: str
    cid: str
    ok: bool
    state: str


async def _take_each(port: int, prefix: str, agent_id: str, cids: Sequence[str], barrier: Barrier,
                     ) -> List[Attempt]:
    redis = Redis(port=port, decode_responses=True)
    store = HandoffStore(redis, RedisKeys(prefix))
    attempts: List[Attempt] = []
    try:
        await redis.ping()  # connected before the first start signal
        for cid in cids:
            await asyncio.to_thread(barrier.wait, 30)  # every agent's process is here: go
            result = await store.take(cid, agent_id, agent_id.title(), 1_000_000)
            attempts.append(Attempt(agent_id, cid, result.ok, result.state))
    finally:
        await redis.close()
    return attempts


def _agent_process(port: int, prefix: str, agent_id: str, cids: Sequence[str], barrier: Barrier,
                   results: Any) -> None:
    """The body of one agent's process: its takes go back through ``results``."""
    try:
        results.put(("ok", asyncio.run(_take_each(port, prefix, agent_id, cids, barrier))))
    except BaseException as exc:  # reported to the test, which fails with it
        barrier.abort()
        results.put(("error", f"{agent_id}: {exc!r}"))


def race_for_conversations(port: int, prefix: str, agent_ids: Sequence[str], cids: Sequence[str],
                           timeout: float = 60.0) -> List[Attempt]:
    """Every agent, each in its own process, takes every conversation at the same moment as the others.

    Args:
        port: The redis-server's port.
        prefix: The Redis key prefix of the store.
        agent_ids: One process per agent (each must be online in the store).
        cids: The queued conversations, raced for one at a time.
        timeout: Seconds the whole race may take.

    Returns:
        Every attempt of every agent.

    Raises:
        AssertionError: A process failed or did not finish in time.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(agent_ids))
    results = ctx.Queue()
    processes = [ctx.Process(target=_agent_process, args=(port, prefix, agent, list(cids), barrier, results),
                             name=f"agent-{agent}", daemon=True) for agent in agent_ids]
    for process in processes:
        process.start()
    reports: List[Tuple[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(reports) < len(processes):
            try:
                reports.append(results.get(timeout=1.0))
            except queue.Empty:
                died = [f"{p.name} exited with {p.exitcode}" for p in processes if p.exitcode not in (None, 0)]
                assert not died, died
                assert time.monotonic() < deadline, f"the race did not end within {timeout:g} s"
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    errors = [detail for status, detail in reports if status == "error"]
    assert not errors, errors
    return [attempt for _, attempts in reports for attempt in attempts]
