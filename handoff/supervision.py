"""What a supervisor sees and does: every agent's load, the queue's waits, reassigning and joining chats.

The console's supervisor view (``console/supervisor.py``) goes through
:class:`Supervision`; every change is one of the desk's atomic transitions, and
each is recorded in the event log (``agent_action`` with reason
``supervisor_reassign`` / ``supervisor_join`` / ``supervisor_message``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List

from core.errors import Conflict, InvalidInput, NotFound
from core.service_events import EventKind as ServiceEventKind
from handoff.desk import Desk
from handoff.models import Agent, Conversation, ConversationState, Event, EventKind
from handoff.presence import PresenceKeeper, move_chat

__all__ = ["Supervision"]


@dataclass
class Supervision:
    """The supervisor's operations (see the module docstring).

    Attributes:
        desk: The desk.
        presence: Heartbeats (last seen times) and moves.
        wait_alert_seconds: A queue wait this long is an alert.
    """

    desk: Desk
    presence: PresenceKeeper
    wait_alert_seconds: int = 300

    async def overview(self) -> Dict[str, Any]:
        """Every desk agent with presence, last heartbeat, open chats and capacity; the queue with waits."""
        store = self.desk.store
        now = self.desk.clock()
        seen = await self.presence.last_seen()
        agents: List[Dict[str, Any]] = []
        for agent in self.desk.agents.all():
            if agent.role not in ("agent", "supervisor"):
                continue
            chats = await self.desk.my_chats(agent.agent_id)
            last = seen.get(agent.agent_id)
            agents.append({
                "id": agent.agent_id, "name": agent.name, "languages": list(agent.languages),
                "teams": self.desk.agents.team_of(agent.agent_id),
                "presence": await self.desk.presence(agent.agent_id),
                "seen_seconds_ago": int(now - last) if last is not None else None,
                "capacity": agent.capacity, "open": len(chats),
                "chats": [{"cid": c.cid, "reference": c.reference, "customer_name": c.customer_name,
                           "language": c.language, "channel": c.channel,
                           "since_seconds": int(now - c.assigned_at) if c.assigned_at else 0} for c in chats],
            })
        queue = await self.desk.queue_view()
        for row in queue:
            row["alert"] = row["waiting_seconds"] >= self.wait_alert_seconds
        return {"agents": agents, "queue": queue, "alert_seconds": self.wait_alert_seconds,
                "alerts": sum(1 for row in queue if row["alert"]), "server_time": now,
                "queue_length": int(await store.redis.zcard(store.keys.queue()))}

    async def _conversation(self, cid: str) -> Conversation:
        conv = await self.desk.store.get(cid)
        if conv is None:
            raise NotFound(f"no handoff conversation {cid!r}", text="desk_error_no_conversation")
        return conv

    async def reassign(self, cid: str, supervisor: Agent, to_agent: str) -> Conversation:
        """Gives a queued or active chat to ``to_agent`` (who gets it at once if they have room).

        Raises:
            NotFound: No such conversation or agent.
            InvalidInput: The chat is already that agent's.
            Conflict: The chat is neither queued nor with an agent, or changed meanwhile.
        """
        target = self.desk.agents.get(to_agent)
        if target is None or target.role not in ("agent", "supervisor"):
            raise NotFound(f"no agent {to_agent!r}", text="desk_error_no_agent", agent=to_agent)
        conv = await self._conversation(cid)
        if conv.state is ConversationState.WITH_AGENT:
            if conv.agent_id == target.agent_id:
                raise InvalidInput("the chat is already with that agent", text="supervisor_error_same_agent")
            if await move_chat(self.desk, conv, target, reason="supervisor", by=supervisor.agent_id) is None:
                raise Conflict("the chat changed meanwhile", text="supervisor_error_changed")
        elif conv.state is ConversationState.QUEUED:
            await self.desk.store.update(cid, target_agent=target.agent_id)
            result = await self.desk.take(cid, target, require_online=False)
            await self.desk.store.record(ServiceEventKind.AGENT_ACTION, conv, agent=supervisor.agent_id,
                                         reason="supervisor_reassign")
            if not result.ok and result.state != "agent_full":
                raise Conflict(f"could not assign: {result.state}", text="supervisor_error_changed")
        else:
            raise Conflict(f"conversation {cid} is {conv.state.value}", text="supervisor_error_not_open")
        return await self._conversation(cid)

    async def join(self, cid: str, supervisor: Agent) -> Conversation:
        """The supervisor joins an open chat: its agent gets a note; recorded in the event log.

        Raises:
            NotFound: No such conversation.
            Conflict: The chat is not open (queued or with an agent).
        """
        conv = await self._conversation(cid)
        if not conv.in_handoff:
            raise Conflict(f"conversation {cid} is {conv.state.value}", text="supervisor_error_not_open")
        await self.desk.store.add_event(cid, Event(
            kind=EventKind.NOTE, author=supervisor.agent_id, author_name=supervisor.first_name,
            text=self.desk.texts.text("agent_note_supervisor_joined", "en", supervisor=supervisor.name),
        ))
        await self.desk.store.record(ServiceEventKind.AGENT_ACTION, conv, agent=supervisor.agent_id,
                                     reason="supervisor_join")
        return conv

    async def say(self, cid: str, supervisor: Agent, text: str) -> Event:
        """The supervisor writes to the customer of an open chat; the customer sees it as from the team.

        Raises:
            NotFound: No such conversation.
            Conflict: The chat is not open.
            InvalidInput: An empty message.
            TooLarge: A message over the limit.
        """
        text = self.desk._clean(text)
        conv = await self._conversation(cid)
        if not conv.in_handoff:
            raise Conflict(f"conversation {cid} is {conv.state.value}", text="supervisor_error_not_open")
        team = self.desk.texts.text("supervisor_author", conv.language)
        event = await self.desk.store.tell_customer(conv, text, kind=EventKind.AGENT, author=supervisor.agent_id,
                                                    author_name=team, data={"supervisor": True})
        await self.desk.store.record(ServiceEventKind.AGENT_ACTION, conv, agent=supervisor.agent_id,
                                     reason="supervisor_message")
        return event
