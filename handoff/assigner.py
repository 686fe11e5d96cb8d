"""Routing: gives queued conversations to the best online agent, and keeps customers informed.

The best agent for a conversation speaks its language, has room, is the one it
was transferred to (if any) or is in the team it was sent to, is not the one
who left its customer unanswered (if any), and knows its topic. Agents who list
the topic come first, then the team that owns the topic, then whoever has the
most room. Every take goes through the atomic store, so
several service replicas may run this at once; one of them per moment does the
work (a ``SET NX`` lease naming its holder, held for the whole pass) so customers are told things once.
Each pass also takes the conversations that lapsed in the queue (nothing happened in them for nearly the
retention) out of it, recorded as abandoned.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from redis.exceptions import RedisError

from core.service_events import EventKind as ServiceEventKind
from handoff.desk import Desk
from handoff.models import Agent, Conversation, ConversationState

__all__ = ["Assigner", "DeskLoop", "rank_agents"]

log = logging.getLogger(__name__)

LEASE_MS = 30_000
# KEYS[1]: the lease; ARGV[1]: the holder's token. Frees the lease only if this holder still has it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def rank_agents(conv: Conversation, candidates: List[Tuple[Agent, int]], desk: Desk) -> List[Agent]:
    """The agents who may take ``conv``, best first.

    Args:
        conv: The queued conversation.
        candidates: Online agents with how many chats each holds now.
        desk: For the policy's topic → team map and the teams.

    Returns:
        Eligible agents in order of preference (may be empty).
    """
    owner_team = desk.policy.team_for(conv.topic)
    ranked: List[Tuple[Tuple[int, int, int, float], Agent]] = []
    for agent, active in candidates:
        if active >= agent.capacity or conv.language not in agent.languages:
            continue
        if conv.target_agent and agent.agent_id != conv.target_agent:
            continue
        if conv.left_by and agent.agent_id == conv.left_by:
            continue  # they left this customer unanswered (handoff.presence): someone else
        teams = desk.agents.team_of(agent.agent_id)
        if conv.team and conv.team not in teams:
            continue
        knows_topic = 1 if conv.topic in agent.topics else 0
        in_owner_team = 1 if owner_team and owner_team in teams else 0
        room = 1.0 - active / agent.capacity
        ranked.append(((-knows_topic, -in_owner_team, -agent.capacity + active, -room), agent))
    ranked.sort(key=lambda pair: (pair[0], pair[1].agent_id))
    return [agent for _, agent in ranked]


@dataclass
class Assigner:
    """Assigns queued conversations to agents and tells waiting customers their place."""

    desk: Desk
    auto_assign: bool = True
    stale_after_seconds: float = 0.0  # > 0: an online agent without a heartbeat this long gets nothing


    async def run_once(self) -> int:
        """One pass over the queue; returns how many conversations were assigned."""
        assigned = 0
        if self.auto_assign:
            assigned = await self._assign()
        await self._time_out_lapsed()
        await self._notify_positions()
        await self._retry_outcomes()
        return assigned

    async def _candidates(self) -> List[Tuple[Agent, int]]:
        store = self.desk.store
        out: List[Tuple[Agent, int]] = []
        online = await self.desk.online_agents()
        if self.stale_after_seconds > 0 and online:
            # The sweeper makes a silent agent away within a sweep; until then they get nothing either.
            seen = await store.redis.zmscore(store.keys.agents_seen(), [a.agent_id for a in online])
            now = self.desk.clock()
            online = [a for a, last in zip(online, seen, strict=True)
                      if last is None or now - float(last) <= self.stale_after_seconds]
        for agent in online:
            out.append((agent, int(await store.redis.scard(store.keys.agent_chats(agent.agent_id)))))
        return out

    async def _assign(self) -> int:
        store = self.desk.store
        assigned = 0
        candidates = await self._candidates()
        if not candidates:
            return 0
        # The take is atomic and re-checks the state, so a record read here may be a moment old.
        for conv in await store.get_many(await store.queue()):
            if conv is None or conv.state is not ConversationState.QUEUED:
                continue
            for agent in rank_agents(conv, candidates, self.desk):
                result = await self.desk.take(conv.cid, agent)
                if result.ok:
                    assigned += 1
                    candidates = [(a, n + 1 if a.agent_id == agent.agent_id else n) for a, n in candidates]
                    break
        return assigned

    async def _time_out_lapsed(self) -> int:
        """Takes the conversations that lapsed in the queue out of it, each recorded as abandoned; returns how many.

        A lapsed conversation (:meth:`HandoffStore.lapsing`: queued, and nothing happened in it for nearly the
        retention) goes back to the bot with ``abandoned`` (``timed_out``, its wait) and ``returned_to_bot``
        events; the customer is not written to (weeks later, on WhatsApp outside its 24-hour window). One whose
        record already expired leaves the queue with an ``abandoned`` (``expired``) event that knows only its id.
        """
        store = self.desk.store
        lapsing, gone = await store.lapsing()
        done = 0
        for conv in await store.get_many(lapsing):
            if conv is None or conv.state is not ConversationState.QUEUED:
                continue
            if (await store.give_up(conv.cid, "timed_out")).ok:
                done += 1
                log.info("%s lapsed in the queue (nothing happened in it for %d s): back to the bot", conv.cid,
                         store.retention - store.lapse_margin)
                await store.record(ServiceEventKind.ABANDONED, conv, reason="timed_out", topic=conv.topic,
                                   value=max(0.0, self.desk.clock() - (conv.queued_at or conv.requested_at)))
                await store.record(ServiceEventKind.RETURNED_TO_BOT, conv, reason="timed_out")
        for cid in gone:
            if await store.forget_lapsed(cid):
                done += 1
                log.warning("%s left the queue: its record expired before a handoff service saw it lapse", cid)
                await store.record(ServiceEventKind.ABANDONED, Conversation(cid=cid), reason="expired", language="")
        return done

    async def _notify_positions(self) -> None:
        store, texts = self.desk.store, self.desk.texts
        step = self.desk.policy.notify_eta_change_minutes
        queue = await store.queue()
        if not queue:
            return
        model = await self.desk.wait_model()
        for position, conv in enumerate(await store.get_many(queue), start=1):
            if conv is None or conv.state is not ConversationState.QUEUED:
                continue
            if conv.notified_position == 0:
                continue  # the desk has not answered the request yet; its reply says the place
            est = model.estimate(position, conv.language)
            moved = position != conv.notified_position
            eta_moved = est.eta_minutes and abs(est.eta_minutes - conv.notified_eta) >= step
            # Material: a new place in the first few, or an estimate that moved by minutes.
            if not ((moved and position <= 3) or eta_moved):
                continue
            if est.eta_minutes:
                text = texts.text("position_update", conv.language, position=position, minutes=est.eta_minutes)
            else:
                text = texts.text("position_update_no_estimate", conv.language, position=position)
            await store.update(conv.cid, notified_position=position, notified_eta=est.eta_minutes)
            await store.tell_customer(conv, text)
            await store.record(ServiceEventKind.NOTICE_SENT, conv, reason="queue_position")

    async def _retry_outcomes(self) -> None:
        store = self.desk.store
        recent = await store.redis.zrevrange(store.keys.closed(), 0, 49)
        for conv in await store.get_many(recent):
            if conv is not None and conv.outcome_pending:
                await self.desk.sync_outcome(conv)


class DeskLoop:
    """Runs the assigner whenever something changes (feed events) and every few seconds."""

    def __init__(self, assigner: Assigner, tick_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Keeps the assigner.

        Args:
            assigner: What to run.
            tick_seconds: Longest pause between two passes.
            clock: Monotonic seconds.
        """
        self.assigner = assigner
        self.tick_seconds = tick_seconds
        self.clock = clock

    async def run(self, stop: asyncio.Event, lease_name: Optional[str] = None) -> None:
        """Loops until ``stop`` is set; Redis errors are logged and retried."""
        store = self.assigner.desk.store
        lease = store.keys.lease(lease_name or "assigner")
        last_id = "$"
        while not stop.is_set():
            try:
                got = await store.redis.xread({store.keys.feed(): last_id}, count=100,
                                              block=int(self.tick_seconds * 1000))
                if got:
                    last_id = got[0][1][-1][0]
                    kinds = {fields.get("kind") for _, fields in got[0][1]}
                    if kinds <= {"typing", "customer", "agent", "note", "system", "session_ended"}:
                        continue  # messages do not change the queue
                # The lease names its holder and outlasts a slow pass: another replica's pass starts only
                # after this one ended (or after LEASE_MS, if this process died), and a release never
                # frees a lease another replica took meanwhile.
                token = uuid.uuid4().hex
                if await store.redis.set(lease, token, nx=True, px=LEASE_MS):
                    try:
                        await self.assigner.run_once()
                    finally:
                        await store.redis.eval(_RELEASE, 1, lease, token)
            except RedisError as exc:
                log.warning("assigner: redis error %s; retrying", exc)
                await asyncio.sleep(1)
