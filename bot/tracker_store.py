"""Kesher's tracker store: conversations in Redis, written by appending, read in a bounded window.

Rasa's own ``RedisTrackerStore`` reads, merges and rewrites the whole tracker
on every save with a blocking client, and every turn replays (and every action
call carries) the whole conversation, so a turn gets slower as a conversation
grows. This store (``endpoints.yml``: ``type: bot.tracker_store.WindowedRedisTrackerStore``)
keeps per conversation, on ``redis.asyncio`` (keys in :class:`core.redis_keys.TrackerKeys`):

- a Redis list of every event (JSON), to which a save only appends the events
  the turn added; a Lua script checks the list still has the length the
  tracker was read at, so two replicas never interleave or duplicate events
  (a writer that lost the race re-reads what was added and appends only what is
  missing);
- a small hash with the *window*: the list index where the bot's read starts
  and the tracker's exact state at that index (slots, active loop, latest
  message and action...).

``retrieve`` (every turn) reads, in one script, the window and the events from
its start: only the latest session, and within it the last
``window_turns`` to ``window_turns`` + a third customer messages (12–16 by
default; the actions look back at most 10, see ``actions/handoff.py``). The tracker it
returns (:class:`WindowedTracker`) starts from the saved state, so Rasa's
replay of the window (featurisation, rules, forms) yields exactly the states
the whole session would, as long as the policies look back fewer turns than
the window holds (``max_history`` 5 states; a customer message is at least two).
``retrieve_full_tracker`` (Rasa's ``GET /conversations/<id>/tracker``, which the
handoff service reads for the agent's transcript) returns every event.

Conversations Rasa's ``RedisTrackerStore`` wrote (``<prefix>:tracker:<sender>``)
are moved into this format the first time they are read. Both keys of a
conversation expire ``record_exp`` seconds after its last save, like Rasa's.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, PREVIOUS_ACTION
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker, TrackerActiveLoop
from redis.asyncio import Redis

from bot.metrics import count_turns
from bot.rasa_speedups import event_from_dict
from bot.redis_client import LoopBoundRedis
from bot.turn_outcome import customer_turns, turn_outcome
from core.masking import mask_contacts, mask_sensitive
from core.redis_keys import DEFAULT_TRACKER_PREFIX, RedisKeys, TrackerKeys
from core.service_events import EventKind, ServiceEvent, TurnOutcome, contact_id, turn_topic
from handoff.event_log import EventLog
from handoff.redis_client import RedisAddress

__all__ = [
    "DEFAULT_WINDOW_TURNS",
    "WindowedRedisTrackerStore",
    "WindowedTracker",
    "session_start_of",
    "state_of",
    "turn_events",
    "window_slack",
    "window_start",
]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_TURNS = 12
_MAX_RACES = 20
FAQ_ACTION = "utter_faq"  # the retrieval action: its answer is the FAQ selector's
SESSION_START_KEY = "session_start"  # in a window's base state: when the session it belongs to started
_OFF = frozenset({"", "0", "off", "false", "no"})

# KEYS: events list, window hash, legacy key. ARGV[1]: "1" for every event, else the window.
# Returns {length, window start, base state JSON, events...}, or {-1, legacy JSON} for a conversation
# only Rasa's own format holds, or {0} for none.
_READ = """
local n = redis.call('LLEN', KEYS[1])
if n == 0 then
  local legacy = redis.call('GET', KEYS[3])
  if legacy then return {-1, legacy} end
  return {0}
end
local start, base = 0, ''
if ARGV[1] ~= '1' then
  local window = redis.call('HMGET', KEYS[2], 'start', 'base')
  start = tonumber(window[1] or '0') or 0
  base = window[2] or ''
  if start >= n then start, base = 0, '' end
end
local out = {n, start, base}
local events = redis.call('LRANGE', KEYS[1], start, -1)
for i = 1, #events do out[#out + 1] = events[i] end
return out
"""

# KEYS: events list, window hash, legacy key. ARGV: expected length, seconds to keep (0: forever),
# new window start ('' keeps it), its base state, then the events to append.
# Returns {1, new length}, or {0, actual length} when someone else appended since the tracker was read.
_APPEND = """
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) then return {0, n} end
local last = #ARGV
for i = 5, last, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, last)))
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'start', ARGV[3], 'base', ARGV[4])
elseif n == 0 then
  redis.call('HSET', KEYS[2], 'start', '0', 'base', '')
end
if n == 0 then redis.call('DEL', KEYS[3]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return {1, n + math.max(last - 4, 0)}
"""


def state_of(tracker: DialogueStateTracker) -> Dict[str, Any]:
    """Everything of a tracker's current state that its events would rebuild, as JSON-able data.

    Slots are kept only once set (a slot's "has been set" counts in featurisation).
    """
    return {
        "slots": {name: slot.value for name, slot in tracker.slots.items() if slot.has_been_set},
        "paused": tracker.is_paused(),
        "followup_action": tracker.followup_action,
        "latest_action": tracker.latest_action,
        "latest_message": tracker.latest_message.as_dict() if tracker.latest_message else None,
        "latest_bot_utterance": tracker.latest_bot_utterance.as_dict() if tracker.latest_bot_utterance else None,
        "active_loop": dataclasses.asdict(tracker.active_loop) if tracker.active_loop else None,
    }


def _apply_state(tracker: DialogueStateTracker, state: Dict[str, Any]) -> None:
    for name, value in (state.get("slots") or {}).items():
        if name in tracker.slots:
            tracker.slots[name].value = value
    tracker._paused = bool(state.get("paused"))
    tracker.followup_action = state.get("followup_action")
    tracker.latest_action = state.get("latest_action") or {}
    message = state.get("latest_message")
    if message:
        parsed = event_from_dict(message)
        if isinstance(parsed, UserUttered):
            tracker.latest_message = parsed
    utterance = state.get("latest_bot_utterance")
    if utterance:
        said = event_from_dict(utterance)
        if isinstance(said, BotUttered):
            tracker.latest_bot_utterance = said
    loop = state.get("active_loop")
    tracker.active_loop = TrackerActiveLoop(**loop) if loop else None


class _StateReplay:
    """Rasa's ``Domain.states_for_tracker_history`` for one set of arguments, carried on as events come.

    Rasa replays every applied event from the start for each state list a policy asks for, several times
    per turn (every prediction, every policy). This keeps the replayed tracker, the states found at each
    action so far and the loop's two variables, and replays only the events applied since; the last state
    (the tracker as it is now) is recomputed each time, as Rasa does. When the applied events are no longer
    an extension of those replayed (a form folded its turns away, an event was reverted), the caller starts
    a new replay. A test compares it with Rasa's after every event of every story.
    """

    def __init__(self, tracker: DialogueStateTracker, domain: Domain, omit_unset_slots: bool,
                 ignore_rule_only_turns: bool, rule_only_data: Optional[Dict[str, Any]]) -> None:
        self.tracker = tracker  # the state before the first applied event
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data
        self.applied: List[Event] = []
        self.states: List[State] = []
        self.last_ml_action: Optional[Dict[str, Any]] = None
        self.turn_was_hidden = False

    def continues(self, applied: Sequence[Event]) -> bool:
        """Whether ``applied`` starts with exactly the events replayed so far."""
        done = self.applied
        return len(applied) >= len(done) and all(a is b for a, b in zip(done, applied[:len(done)], strict=True))

    def _visit(self, hide_rule_turn: bool) -> Optional[State]:
        """One step of Rasa's loop on the tracker as replayed; ``None`` where Rasa skips the turn."""
        domain, tracker = self.domain, self.tracker
        if self.ignore_rule_only_turns:
            if not self.turn_was_hidden:
                self.last_ml_action = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
                self.turn_was_hidden = hide_rule_turn
            if self.turn_was_hidden:
                return None
        state = domain.get_active_state(tracker, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if self.last_ml_action:
                state[PREVIOUS_ACTION] = self.last_ml_action
        return domain._clean_state(state)

    def states_for(self, applied: Sequence[Event]) -> List[State]:
        """The states of the tracker whose applied events are ``applied`` (see :meth:`continues`)."""
        for event in applied[len(self.applied):]:
            if isinstance(event, ActionExecuted):
                state = self._visit(event.hide_rule_turn)
                if state is not None:
                    self.states.append(state)
            self.tracker.update(event)
        self.applied = list(applied)
        # Rasa's last state is the tracker as it stands; it is not kept, so the loop's variables are restored.
        kept = (self.last_ml_action, self.turn_was_hidden)
        final = self._visit(False)
        self.last_ml_action, self.turn_was_hidden = kept
        return self.states + ([final] if final is not None else [])


class WindowedTracker(DialogueStateTracker):
    """A tracker holding the end of a conversation, starting from the exact state before its first event.

    Rasa rebuilds past states by replaying ``events`` on :meth:`init_copy`, which here starts from
    ``base`` instead of the empty state, so the states are those of the whole conversation.

    Attributes:
        base: The state before ``events[0]`` (``None``: the conversation's or session's start).
        start: Index in the stored event list of ``events[0]``.
        stored: How many events the list held when this tracker was read (``None``: unknown).
        loaded: How many of ``events`` came from the store (the rest are new).
    """

    def __init__(
        self,
        sender_id: str,
        slots: Optional[Iterable[Slot]],
        max_event_history: Optional[int] = None,
        sender_source: Optional[str] = None,
        is_rule_tracker: bool = False,
        base: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(sender_id, slots, max_event_history, sender_source, is_rule_tracker)
        self.base = base
        self.start = 0
        self.stored: Optional[int] = None
        self.loaded = 0
        self._states: Dict[Tuple[Any, ...], List[State]] = {}
        self._states_at: Tuple[int, int] = (-1, 0)
        self._replays: Dict[Tuple[Any, ...], _StateReplay] = {}
        if base:
            _apply_state(self, base)

    def past_states(
        self,
        domain: Domain,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[Dict[str, Any]] = None,
    ) -> List[State]:
        """Rasa's past states, computed once per set of arguments while no event is added.

        Every policy asks for them, some several times, for each action a turn predicts; each time Rasa
        replays the whole tracker. Events are only ever appended (``update``), so the number of events and the
        last one identify the tracker's state; after an event is added only the new events are replayed
        (:class:`_StateReplay`). Callers get their own copy, as some change what they get.
        """
        last = id(self.events[-1]) if self.events else 0
        key = (id(domain), omit_unset_slots, ignore_rule_only_turns,
               json.dumps(rule_only_data, sort_keys=True, default=str) if rule_only_data else "")
        if self._states_at != (len(self.events), last):
            self._states_at = (len(self.events), last)
            self._states.clear()
        if key not in self._states:
            applied = self.applied_events()
            replay = self._replays.get(key)
            if replay is None or replay.domain is not domain or not replay.continues(applied):
                replay = _StateReplay(self.init_copy(), domain, omit_unset_slots, ignore_rule_only_turns,
                                      rule_only_data)
                self._replays[key] = replay
            self._states[key] = replay.states_for(applied)
        # States are dicts of dicts of strings and tuples: two levels of copying make them independent.
        return [{name: dict(sub_state) for name, sub_state in state.items()} for state in self._states[key]]

    def init_copy(self) -> WindowedTracker:
        """A tracker in the state before the first of this tracker's events (see the class docstring)."""
        return WindowedTracker(self.sender_id or "default", self.slots.values(), self._max_event_history,
                               is_rule_tracker=self.is_rule_tracker, base=self.base)

    def copy(self) -> WindowedTracker:
        """A duplicate of this tracker, which knows what of it is stored.

        Rasa copies a tracker before every action it runs, by replaying all its events into a new one; this
        copies the state those events built instead (the events themselves are shared, as Rasa's replay shares
        them). A test compares the two.
        """
        duplicate = copy.copy(self)
        duplicate.events = deque(self.events, self._max_event_history)
        slots = type(self.slots)()
        slots.update({name: copy.copy(slot) for name, slot in self.slots.items()})
        duplicate.slots = slots
        duplicate.latest_action = dict(self.latest_action) if self.latest_action is not None else None
        duplicate.active_loop = dataclasses.replace(self.active_loop) if self.active_loop is not None else None
        duplicate._states, duplicate._states_at, duplicate._replays = {}, (-1, 0), {}
        return duplicate


def _is_session_start(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME


def session_start_of(events: Sequence[Event], base: Optional[Dict[str, Any]]) -> Optional[float]:
    """When the latest session of a tracker started (epoch seconds): its start event, else its window's base.

    The start is the time of ``action_session_start`` (the action server finds the same in its tracker).
    """
    for event in reversed(events):
        if _is_session_start(event):
            return float(event.timestamp)
    value = (base or {}).get(SESSION_START_KEY)
    return float(value) if value is not None else None


def _faq_key(parse_data: Dict[str, Any]) -> str:
    selector = parse_data.get("response_selector") or {}
    for name in ("faq", "default"):
        response = (selector.get(name) or {}).get("response") or {}
        key = response.get("intent_response_key")
        if key:
            return str(key)
    return ""


def turn_events(sender: str, new: Sequence[Event], contact: str, language: str,
                now: Optional[float] = None) -> List[ServiceEvent]:
    """The ``turn`` service events of the customer messages among a save's new events.

    Each message's turn runs up to the next message: the actions that ran say whether the bot fell back
    (``nlu_fallback``, or a fallback or out-of-scope action) or handed over (``handoff_requested`` set), and the
    retrieval action's run makes the FAQ answer's key the topic (:func:`core.service_events.turn_topic`: else the
    intent, and none for small talk). The customer's words are kept, masked, only
    for the turns the bot could not answer.

    Args:
        sender: The conversation id.
        new: The events the save appends.
        contact: The session's :func:`core.service_events.contact_id` ("" when unknown).
        language: The ``language`` slot.
        now: Epoch seconds of the save (the last turn's duration is measured up to it).
    """
    turns = list(customer_turns(new))
    out: List[ServiceEvent] = []
    for n, (user, after) in enumerate(turns):
        actions = {e.action_name for e in after if isinstance(e, ActionExecuted) and e.action_name}
        intent = str(user.intent.get("name") or "")
        confidence = user.intent.get("confidence")
        outcome = turn_outcome(user, after)
        topic = turn_topic(intent, _faq_key(user.parse_data or {}) if FAQ_ACTION in actions else "")
        text = ""
        if outcome is not TurnOutcome.ANSWERED and user.text:
            text = mask_contacts(mask_sensitive(user.text[:2000]))
        last = n + 1 == len(turns)
        out.append(ServiceEvent(
            kind=EventKind.TURN, conversation=sender, at=datetime.fromtimestamp(user.timestamp, tz=UTC),
            contact=contact, channel=user.input_channel or "", language=language, intent=intent,
            confidence=float(confidence) if confidence is not None else None, outcome=outcome.value,
            topic=topic, text=text,
            value=round((now - user.timestamp) * 1000, 1) if last and now is not None else None,
        ))
    return out


def _dump(event: Event) -> str:
    return json.dumps(event.as_dict(), ensure_ascii=False, separators=(",", ":"))


def window_slack(min_turns: int) -> int:
    """How many customer messages past ``min_turns`` a read may hold before the window moves on.

    Moving it costs one replay of the window at a save, so it moves every few messages, not at each.
    """
    return max(1, min_turns // 3)


def window_start(events: Sequence[Event], min_turns: int) -> Tuple[Optional[int], bool]:
    """Where the next read of a conversation should start, within ``events`` (the tracker in memory).

    The read starts at the latest session's start, and moves to ``min_turns`` customer messages before the
    end once more than ``min_turns`` + :func:`window_slack` have been said since: at the ``action_listen``
    before that message (a message's own events are never split), and never while a form or other loop is
    active (Rasa folds a loop's happy path back to its previous execution when it replays events, so the
    loop's start must be read).

    Returns:
        The index in ``events`` (``None``: keep the current start) and whether it is a session's start (whose
        state is the empty one).
    """
    origin = 0
    session = False
    for i in range(len(events) - 1, -1, -1):
        if _is_session_start(events[i]):
            origin, session = i, True
            break
    users: List[int] = []
    free: List[bool] = []  # whether no loop was active when that message came
    loop = False
    for i in range(origin, len(events)):
        event = events[i]
        if isinstance(event, UserUttered):
            users.append(i)
            free.append(not loop)
        elif isinstance(event, ActiveLoop):
            loop = event.name is not None
        elif isinstance(event, (SessionStarted, Restarted)):
            loop = False
    if len(users) > min_turns + window_slack(min_turns):
        for k in range(len(users) - min_turns, 0, -1):
            if free[k]:
                cut = users[k]
                previous = events[cut - 1]
                if isinstance(previous, ActionExecuted) and previous.action_name == ACTION_LISTEN_NAME:
                    cut -= 1
                return cut, False
    if session and origin > 0:
        return origin, True
    return None, False


class WindowedRedisTrackerStore(TrackerStore):
    """Rasa 3.6 tracker store on ``redis.asyncio``: append-only saves, windowed reads (see the module docstring).

    ``endpoints.yml`` gives ``url`` (host), ``port``, ``db``, ``password``, ``key_prefix``, ``record_exp``
    (seconds to keep a conversation after its last save), optionally ``window_turns``, and the Redis
    Sentinel keys ``sentinels``, ``sentinel_master``, ``sentinel_password``.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: str = "localhost",
        port: Any = 6379,
        db: Any = 0,
        password: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        record_exp: Any = None,
        key_prefix: Optional[str] = None,
        window_turns: Any = DEFAULT_WINDOW_TURNS,
        event_log: Any = True,
        **kwargs: Any,
    ) -> None:
        """Keeps the connection settings; connects on first use, in the loop that uses it.

        Args:
            domain: The bot's domain (its slots).
            host: Redis host (``url`` in ``endpoints.yml``).
            port: Redis port.
            db: Redis database number.
            password: Redis password (empty: none).
            event_broker: Receives the new events of each save, if configured.
            record_exp: Seconds a conversation is kept after its last save (empty or 0: forever).
            key_prefix: Prefix of the keys (:class:`core.redis_keys.TrackerKeys`).
            window_turns: The fewest customer messages a read holds (at most a third more).
            event_log: Whether each customer message's ``turn`` goes on the service-events stream
                (``KESHER_EVENT_LOG``; ``off``/``0``: not).
            kwargs: Other ``endpoints.yml`` keys: ``sentinels`` (``host:port,...``; empty: ``host:port``
                directly), ``sentinel_master`` and ``sentinel_password`` (Redis Sentinel); the rest ignored.
        """
        super().__init__(domain, event_broker)
        self.address = RedisAddress.from_endpoint(host, port, db, password, kwargs)
        self.record_exp = int(float(record_exp)) if record_exp else 0
        self.keys_ = TrackerKeys(key_prefix or DEFAULT_TRACKER_PREFIX)
        self.window_turns = max(1, int(window_turns))
        self._redis = LoopBoundRedis(self.address)
        self.log_turns = str(event_log).strip().lower() not in _OFF
        self.handoff_keys = RedisKeys()
        self._event_log: Optional[EventLog] = None
        self._event_log_client: Optional[Redis] = None

    def init_tracker(self, sender_id: str) -> WindowedTracker:
        """A new conversation's tracker, which knows nothing of it is stored yet."""
        tracker = WindowedTracker(sender_id, self.domain.slots)
        tracker.stored = 0
        return tracker

    # -- Redis ----------------------------------------------------------------
    @property
    def redis(self) -> Redis:
        """The client for the running event loop (a client is bound to the loop it was first used in)."""
        return self._redis.client

    async def close(self) -> None:
        """Closes the Redis client."""
        await self._redis.close()

    @property
    def event_log(self) -> EventLog:
        """The service-events stream, on the running loop's client."""
        client = self.redis
        if self._event_log is None or self._event_log_client is not client:
            self._event_log, self._event_log_client = EventLog(client, self.handoff_keys), client
        return self._event_log

    def _turns(self, tracker: DialogueStateTracker, events: Sequence[Event],
               new: Sequence[Event]) -> Tuple[List[ServiceEvent], str]:
        """The save's turn events, and the session's contact when the session starts in this save (else "")."""
        if not self.log_turns or not any(isinstance(e, UserUttered) for e in new):
            return [], ""
        base = tracker.base if isinstance(tracker, WindowedTracker) else None
        started = session_start_of(events, base)
        contact = contact_id(tracker.sender_id, started) if started is not None else ""
        new_session = started is not None and session_start_of(new, None) == started
        language = tracker.get_slot("language") if "language" in tracker.slots else None
        turns = turn_events(tracker.sender_id, new, contact, str(language or ""), now=time.time())
        return turns, contact if new_session else ""

    def _keys(self, sender_id: str) -> List[str]:
        return [self.keys_.events(sender_id), self.keys_.window(sender_id), self.keys_.legacy(sender_id)]

    async def _read(self, sender_id: str, everything: bool) -> List[Any]:
        result: List[Any] = await self.redis.eval(_READ, 3, *self._keys(sender_id), "1" if everything else "0")
        return result

    # -- TrackerStore ------------------------------------------------------------
    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The latest session of a conversation, its last customer messages (see the module docstring)."""
        return await self._retrieve(sender_id, everything=False)

    async def retrieve_full_tracker(self, conversation_id: str) -> Optional[DialogueStateTracker]:
        """Every event of a conversation, all sessions."""
        return await self._retrieve(conversation_id, everything=True)

    async def _retrieve(self, sender_id: str, everything: bool) -> Optional[WindowedTracker]:
        reply = await self._read(sender_id, everything)
        if reply[0] == -1:
            await self._migrate(sender_id, reply[1])
            reply = await self._read(sender_id, everything)
        if reply[0] <= 0:
            return None
        stored, start, base = int(reply[0]), int(reply[1]), reply[2]
        tracker = WindowedTracker(sender_id, self.domain.slots, base=json.loads(base) if base else None)
        for raw in reply[3:]:
            event = event_from_dict(json.loads(raw))
            if event is not None:
                tracker.update(event)
        tracker.start, tracker.stored, tracker.loaded = start, stored, len(reply) - 3
        return tracker

    async def exists(self, conversation_id: str) -> bool:
        """Whether the conversation is stored (in either format)."""
        keys = self._keys(conversation_id)
        return bool(await self.redis.exists(keys[0], keys[2]))

    async def keys(self) -> Iterable[str]:
        """Every stored conversation id (both formats)."""
        found: Dict[str, None] = {}
        for pattern in (self.keys_.events_pattern(), self.keys_.legacy_pattern()):
            async for key in self.redis.scan_iter(match=pattern, count=500):
                found.setdefault(self.keys_.sender_of(key), None)
        return list(found)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the tracker's new events, atomically (see the module docstring)."""
        events = list(tracker.events)
        known = isinstance(tracker, WindowedTracker) and tracker.stored is not None
        if isinstance(tracker, WindowedTracker) and tracker.stored is not None:
            expected, new = tracker.stored, events[tracker.loaded:]
            window = self._window(tracker, events)
        else:
            expected, new, window = 0, events, self._window(None, events)
        if not new:
            return
        sender = tracker.sender_id
        turns, contact = self._turns(tracker, events, new)
        ok, length = await self._append(sender, expected, new, window, turns, contact)
        races = 0
        while not ok:
            races += 1
            if races > _MAX_RACES:
                raise RuntimeError(f"could not save conversation {sender!r}: {_MAX_RACES} concurrent writes")
            # Someone appended since this tracker was read (or it was never read from here): add only what
            # is not there yet. Their window stands.
            since = expected if known and length >= expected else 0
            theirs = await self.redis.lrange(self.keys_.events(sender), since, length - 1)
            new = _missing(new if since else events, theirs)
            if not new:
                break
            expected = length
            ok, length = await self._append(sender, expected, new, None)
        if isinstance(tracker, WindowedTracker):
            tracker.stored, tracker.loaded = length, len(events)
            if races:
                tracker.start = -1
        count_turns(new, tracker.get_slot("language"))
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new, sender)

    def _window(self, tracker: Optional[WindowedTracker], events: Sequence[Event]) -> Optional[Tuple[int, str]]:
        """The new window (stored index, base state JSON) after saving ``events``, or ``None`` to keep it."""
        offset = tracker.start if tracker is not None else 0
        if offset < 0:
            return None  # this tracker lost a race: its events no longer mirror the stored list
        cut, session = window_start(events, self.window_turns)
        if cut is None or cut == 0:
            return None
        if session:
            return offset + cut, ""
        origin, session_origin = 0, False
        for i in range(cut - 1, -1, -1):
            if _is_session_start(events[i]):
                origin, session_origin = i, True
                break
        base = None if session_origin or tracker is None else tracker.base
        slots = tracker.slots.values() if tracker is not None else self.domain.slots
        replay = WindowedTracker("window", slots, base=base)
        for event in events[origin:cut]:
            replay.update(event)
        # The state Rasa's replay of *applied* events reaches (a loop's folded turns leave out their messages),
        # which is what the policies' past states are built from.
        *_, (replayed, _) = replay.generate_all_prior_trackers()
        state = state_of(replayed)
        started = session_start_of(events[origin:cut], None if session_origin or tracker is None else tracker.base)
        if started is not None:
            state[SESSION_START_KEY] = started  # the contact of the turns read from this window on
        return offset + cut, json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    async def _append(self, sender: str, expected: int, events: Sequence[Event],
                      window: Optional[Tuple[int, str]], turns: Sequence[ServiceEvent] = (),
                      contact: str = "") -> Tuple[bool, int]:
        """Appends ``events``; the turns go on the service-events stream in the same round trip.

        A turn is recorded even when this append loses a race: the customer's message was handled, and
        the retry appends only what is missing. ``contact`` (a session starting) is kept for the desk.
        """
        start, base = (str(window[0]), window[1]) if window else ("", "")
        args = (_APPEND, 3, *self._keys(sender), expected, self.record_exp, start, base, *[_dump(e) for e in events])
        if not turns and not contact:
            ok, length = await self.redis.eval(*args)
            return bool(ok), int(length)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.eval(*args)
            for turn in turns:
                self.event_log.add_to(pipe, turn)
            if contact:
                pipe.set(self.handoff_keys.session_contact(sender), contact, ex=self.record_exp or None)
            results = await pipe.execute(raise_on_error=False)
        if isinstance(results[0], Exception):
            raise results[0]
        for failed in results[1:]:
            if isinstance(failed, Exception):
                logger.warning("turn of %s not recorded in the event log: %s", sender, failed)
        ok, length = results[0]
        return bool(ok), int(length)

    async def _migrate(self, sender_id: str, legacy: str) -> None:
        """Moves a conversation Rasa's ``RedisTrackerStore`` wrote into this format (once, atomically)."""
        old = self.deserialise_tracker(sender_id, legacy)
        if old is None:
            return
        events = list(old.events)
        ok, _ = await self._append(sender_id, 0, events, self._window(None, events)) if events else (True, 0)
        if ok:
            logger.info("Moved a conversation from Rasa's Redis format to Kesher's (%d events).", len(events))


def _missing(ours: Sequence[Event], theirs: Sequence[str]) -> List[Event]:
    """``ours`` without the events already in ``theirs`` (stored JSON), each matched once."""
    stored: Dict[str, int] = {}
    for raw in theirs:
        key = json.dumps(json.loads(raw), sort_keys=True)
        stored[key] = stored.get(key, 0) + 1
    out: List[Event] = []
    for event in ours:
        key = json.dumps(event.as_dict(), sort_keys=True)
        if stored.get(key):
            stored[key] -= 1
        else:
            out.append(event)
    return out
