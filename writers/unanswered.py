"""What customers asked that the bot did not answer, read from the Redis tracker store.

No second copy of the conversations: each call scans the conversations the
tracker store keeps in Redis (Kesher's event lists, ``<key_prefix>:events:<sender id>``,
and any still in Rasa's own format, ``<key_prefix>:tracker:<sender id>``; see
``endpoints.yml`` and :class:`core.redis_keys.TrackerKeys`) and picks
the customer messages that ended

- in a fallback (``nlu_fallback``, ``action_fallback`` / Rasa's default fallback),
- as out of scope (intent ``out_of_scope``),
- as a low-confidence guess (top intent below :data:`LOW_CONFIDENCE`),
- with the offer of a person because nothing answered it (e.g. no knowledge-base article), or
- in a handoff to a person (the message that led to it), or
- with an answer the customer rejected ("that's not what I asked", or a thumbs-down on the answer in the
  widget: intent ``answer_rejected``, its ``rejected_answer`` entity naming the answer); the question is
  listed with the answer (reason ``rejected``).

A question whose "not sure" reply offered an FAQ's question (``core/suggestions.py``) that the customer
then sent, by tapping it or in the same words, names that FAQ (``taken``): the customer said what they
meant, so the page offers it as the intent to add the wording to.

Groups a writer dismissed (:class:`writers.dismissed.DismissedWordings`) stay hidden: their wordings are
left out before grouping.

Similar questions are grouped per language (character n-gram TF-IDF, cosine
similarity), counted and dated. E-mail addresses, phone, order, card and ID
numbers are masked before anything is shown; every pattern runs in linear time.

The work is bounded and kept off the event loop: :func:`unanswered` reads at
most :data:`MAX_TRACKERS` conversations, at most :data:`MAX_TRACKER_BYTES` of
each (Redis I/O only), then parses and groups them in a worker thread; at most
:data:`MAX_QUESTIONS` questions per language (the most recent) are grouped,
so the similarity matrix has at most that many squared cells.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import AbstractSet, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from redis.asyncio import Redis

from core.language import LANGUAGES, is_hebrew
from core.redis_keys import DEFAULT_TRACKER_PREFIX, TrackerKeys
from core.suggestions import SUGGESTION, suggested_question
from handoff.mail.masking import MASK, mask_sensitive

__all__ = [
    "LOW_CONFIDENCE",
    "MAX_QUESTIONS",
    "MAX_TRACKERS",
    "MAX_TRACKER_BYTES",
    "MAX_TRACKER_EVENTS",
    "Question",
    "QuestionGroup",
    "build_groups",
    "collect",
    "group",
    "mask_personal",
    "plain_wording",
    "questions_from",
    "read_trackers",
    "unanswered",
]

LOW_CONFIDENCE = 0.6
SIMILAR = 0.45
FALLBACK_ACTIONS = frozenset({"action_fallback", "action_default_fallback", "action_two_stage_fallback"})
HANDOFF_ACTIONS = frozenset({"action_handoff"})
OFFER_SLOT = "human_offer_reason"
REJECTED_INTENT = "answer_rejected"
NOT_A_QUESTION = frozenset({"human_handoff", "affirm", "deny", "greet", "goodbye", "thank", "inform", "rate",
                            REJECTED_INTENT, "request_callback"})
MAX_TRACKERS = 5000
MAX_TRACKER_BYTES = 2 * 1024 * 1024
MAX_TRACKER_EVENTS = 20_000
MAX_QUESTIONS = 1500
SHOWN_CHARS = 500
# A match may start only where a run of address characters starts, so a long run without "@" is
# scanned once, not once per position (the old pattern was quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+?972[\s-]?|0)(?:[23489]|5\d|7\d)[\s-]?\d{3}[\s-]?\d{4}(?!\d)")
# Starts only where a run of digits (and single separators) starts: linear, like _EMAIL.
_NOT_WORD = re.compile(r"[^\w\s]+")
_LONG_NUMBER = re.compile(r"(?<![\d•])(?<![\d•][\s-])\d(?:[\s-]?\d){5,}(?![\d•])")


def mask_personal(text: str, language: str) -> str:
    """``text`` with e-mails, phones, card/ID numbers and order numbers (6+ digits) masked."""
    text = _EMAIL.sub(lambda m: MASK * 3 + "@" + MASK * 3, text)
    text = _PHONE.sub(lambda m: re.sub(r"\d", MASK, m.group(0)), text)
    text = mask_sensitive(text, language)
    return _LONG_NUMBER.sub(lambda m: re.sub(r"\d", MASK, m.group(0)), text)


@dataclass(frozen=True)
class Question:
    """One customer message the bot did not answer well.

    Attributes:
        text: What they wrote, masked.
        language: ``he`` or ``en``.
        reason: ``fallback``, ``out_of_scope``, ``low_confidence``, ``no_answer`` (or the
            offer's reason), or ``handoff``.
        intent: The intent the NLU guessed.
        confidence: Its confidence.
        at: Epoch seconds.
        sender: The conversation.
        answer: The bot's answer the customer rejected (reason ``rejected``), masked; else "".
        taken: The FAQ (``faq/...``) whose offered question the customer sent next; else "".
    """

    text: str
    language: str
    reason: str
    intent: str
    confidence: float
    at: float
    sender: str
    answer: str = ""
    taken: str = ""


@dataclass
class QuestionGroup:
    """Similar questions in one language."""

    language: str
    questions: List[Question] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many times it was asked."""
        return len(self.questions)

    @property
    def text(self) -> str:
        """The group's most recent wording."""
        return max(self.questions, key=lambda q: q.at).text

    @property
    def last_seen(self) -> datetime:
        """When it was last asked (UTC)."""
        return datetime.fromtimestamp(max(q.at for q in self.questions), UTC)

    @property
    def reasons(self) -> Dict[str, int]:
        """How the questions ended, with counts."""
        out: Dict[str, int] = {}
        for q in self.questions:
            out[q.reason] = out.get(q.reason, 0) + 1
        return out

    @property
    def guessed_intent(self) -> str:
        """The intent the NLU guessed most often (a hint for the writer)."""
        counts: Dict[str, int] = {}
        for q in self.questions:
            counts[q.intent] = counts.get(q.intent, 0) + 1
        return max(counts, key=lambda k: counts[k]) if counts else ""

    @property
    def rejected_answers(self) -> List[str]:
        """The distinct answers customers rejected for these questions, most recent first."""
        seen: Dict[str, None] = {}
        for q in sorted(self.questions, key=lambda q: -q.at):
            if q.answer:
                seen.setdefault(q.answer, None)
        return list(seen)

    @property
    def taken_answers(self) -> Dict[str, int]:
        """The FAQs whose offered question customers then sent, with counts, most taken first."""
        counts: Dict[str, int] = {}
        for q in self.questions:
            if q.taken:
                counts[q.taken] = counts.get(q.taken, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    @property
    def group_id(self) -> str:
        """A stable name of the group while its wordings stay the same (the dismiss form names groups by it)."""
        digest = hashlib.sha256("\n".join([self.language, *sorted(self.variants)]).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:16]

    @property
    def variants(self) -> List[str]:
        """The distinct wordings, most recent first."""
        seen: Dict[str, None] = {}
        for q in sorted(self.questions, key=lambda q: -q.at):
            seen.setdefault(q.text, None)
        return list(seen)


def questions_in(events: Sequence[Dict[str, Any]], sender: str) -> List[Question]:
    """The unanswered customer messages of one tracker's events."""
    found: List[Question] = []
    last_user: Optional[Dict[str, Any]] = None
    last_question: Optional[Dict[str, Any]] = None  # the last message that was not a request for a person
    reported: Dict[int, int] = {}  # id of a customer message -> its index in ``found``
    # Each bot answer with the customer message it answered, for rejected answers.
    answers: List[Tuple[str, Dict[str, Any]]] = []

    def add(event: Dict[str, Any], reason: str, answer: str = "") -> None:
        text = str(event.get("text") or "").strip()
        if not text or text.startswith("/"):
            return  # empty, or a button payload
        if id(event) in reported and not answer:
            return
        intent = (event.get("parse_data") or {}).get("intent") or {}
        language = "he" if is_hebrew(text) else "en"
        # masked on a slice longer than what is shown, so a number cut at the edge is still masked
        shown = mask_personal(text[:SHOWN_CHARS * 2], language)[:SHOWN_CHARS]
        answer_shown = mask_personal(answer[:SHOWN_CHARS * 2], language)[:SHOWN_CHARS] if answer else ""
        question = Question(shown, language, reason, str(intent.get("name") or ""),
                            float(intent.get("confidence") or 0.0), float(event.get("timestamp") or 0.0), sender,
                            answer_shown)
        if id(event) in reported:  # a rejected answer tells more than how the NLU took the question
            found[reported[id(event)]] = question
            return
        reported[id(event)] = len(found)
        found.append(question)

    def rejected(event: Dict[str, Any]) -> None:
        """The customer rejected an answer: the one the entity names (a thumbs-down), else the latest."""
        named = next((str(e.get("value") or "") for e in (event.get("parse_data") or {}).get("entities") or []
                      if e.get("entity") == "rejected_answer"), "").strip()
        for text, question in reversed(answers):
            if not named or text.strip().startswith(named[:200]):
                add(question, "rejected", text)
                return

    def took_offer(previous: Optional[Dict[str, Any]], event: Dict[str, Any]) -> None:
        """``event`` sent the question the reply to ``previous`` offered: that question names its FAQ."""
        if previous is None or id(previous) not in reported:
            return
        parse = previous.get("parse_data") or {}
        text = " ".join(str(event.get("text") or "").casefold().split())
        for language in LANGUAGES:
            offered = suggested_question(parse, language)
            if offered and " ".join(offered.casefold().split()) == text:
                index = reported[id(previous)]
                found[index] = replace(found[index], taken=str((parse.get(SUGGESTION) or {}).get("answer") or ""))
                return

    for event in events:
        kind = event.get("event")
        if kind == "user":
            took_offer(last_user, event)
            last_user = event
            intent = ((event.get("parse_data") or {}).get("intent") or {})
            name, confidence = str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)
            if name == REJECTED_INTENT:
                rejected(event)
            elif name == "nlu_fallback":
                add(event, "fallback")
            elif name == "out_of_scope":
                add(event, "out_of_scope")
            elif confidence < LOW_CONFIDENCE and name not in NOT_A_QUESTION:
                add(event, "low_confidence")
            if name not in NOT_A_QUESTION:
                last_question = event
        elif kind == "bot" and last_question is not None and last_question is last_user and event.get("text"):
            answers.append((str(event["text"]), last_question))
        elif kind == "action" and last_user is not None:
            name = str(event.get("name") or "")
            if name in FALLBACK_ACTIONS:
                add(last_user, "fallback")
            elif name in HANDOFF_ACTIONS and last_question is not None:
                add(last_question, "handoff")
        elif kind == "slot" and last_user is not None and event.get("name") == OFFER_SLOT and event.get("value"):
            # The bot had no answer (nothing in the knowledge base, out of scope, ...) and offered a person.
            add(last_user, "no_answer" if event["value"] == "kb_no_answer" else str(event["value"]))
    return found


async def read_trackers(redis: Redis, key_prefix: str = DEFAULT_TRACKER_PREFIX, *, limit: int = MAX_TRACKERS,
                        batch: int = 200) -> List[Tuple[str, str]]:
    """The raw trackers of the Redis tracker store, as ``(sender, JSON)``; Redis I/O only.

    Kesher's store (``bot/tracker_store.py``) keeps a list of events per conversation: the newest
    :data:`MAX_TRACKER_EVENTS` events, at most :data:`MAX_TRACKER_BYTES` of them, are read. A conversation still
    in Rasa's own format (one JSON string) is read whole, unless it is larger than :data:`MAX_TRACKER_BYTES`.

    Args:
        redis: A client of the tracker store's Redis (``decode_responses=True``).
        key_prefix: ``tracker_store.key_prefix`` from ``endpoints.yml``.
        limit: Most trackers read.
        batch: Keys fetched per round trip.
    """
    keys = TrackerKeys(key_prefix)
    found: Dict[str, str] = {}
    lists: List[str] = []
    async for key in redis.scan_iter(match=keys.events_pattern(), count=batch):
        lists.append(key)
        if len(lists) >= limit:
            break
    for start in range(0, len(lists), batch):
        chunk = lists[start:start + batch]
        pipe = redis.pipeline(transaction=False)
        for key in chunk:
            pipe.lrange(key, -MAX_TRACKER_EVENTS, -1)
        for key, events in zip(chunk, await pipe.execute(), strict=True):
            kept: List[str] = []
            size = 0
            for raw in reversed(events):
                size += len(raw) + 1
                if size > MAX_TRACKER_BYTES:
                    break
                kept.append(raw)
            found[keys.sender_of(key)] = '{"events":[' + ",".join(reversed(kept)) + "]}"
    legacy: List[str] = []
    if len(found) < limit:
        async for key in redis.scan_iter(match=keys.legacy_pattern(), count=batch):
            if keys.sender_of(key) not in found:
                legacy.append(key)
            if len(found) + len(legacy) >= limit:
                break
    for start in range(0, len(legacy), batch):
        chunk = legacy[start:start + batch]
        for key, raw in zip(chunk, await redis.mget(chunk), strict=True):
            if raw and len(raw) <= MAX_TRACKER_BYTES:
                found[keys.sender_of(key)] = raw
    return list(found.items())


def questions_from(trackers: Iterable[Tuple[str, str]]) -> List[Question]:
    """The unanswered questions of raw trackers (CPU-bound: JSON and masking)."""
    found: List[Question] = []
    for sender, raw in trackers:
        try:
            tracker = json.loads(raw)
        except (ValueError, RecursionError):
            continue  # not a tracker Rasa wrote
        events = tracker.get("events") if isinstance(tracker, dict) else None
        if isinstance(events, list):
            found += questions_in([e for e in events if isinstance(e, dict)], sender)
    return found


async def collect(redis: Redis, key_prefix: str = DEFAULT_TRACKER_PREFIX, batch: int = 200) -> List[Question]:
    """Every unanswered question in the Redis tracker store (up to :data:`MAX_TRACKERS` trackers).

    Args:
        redis: A client of the tracker store's Redis (``decode_responses=True``).
        key_prefix: ``tracker_store.key_prefix`` from ``endpoints.yml``.
        batch: Keys fetched per round trip.
    """
    trackers = await read_trackers(redis, key_prefix, batch=batch)
    return await asyncio.get_running_loop().run_in_executor(None, questions_from, trackers)


def group(questions: Iterable[Question], threshold: float = SIMILAR,
          max_per_language: int = MAX_QUESTIONS) -> List[QuestionGroup]:
    """Groups similar questions per language; the most asked (then most recent) first.

    Each question joins the group whose first wording it is most similar to
    (character 2–4-grams, cosine ≥ ``threshold``), or starts a new group. Only the
    ``max_per_language`` most recent questions of each language are grouped.
    """
    # Imported here, not at the top: the handoff service imports this module for the writers' page, and
    # scikit-learn (with SciPy) would add about 60 MB to that process until a writer first opens the page.
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415
    from sklearn.metrics.pairwise import cosine_similarity  # noqa: PLC0415

    groups: List[QuestionGroup] = []
    by_language: Dict[str, List[Question]] = {}
    for q in questions:
        by_language.setdefault(q.language, []).append(q)
    for language, items in sorted(by_language.items()):
        items.sort(key=lambda q: -q.at)
        del items[max_per_language:]
        texts = [q.text.lower() for q in items]
        vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(texts)
        similarity = cosine_similarity(vectors)
        heads: List[int] = []
        members: Dict[int, List[int]] = {}
        for i in range(len(items)):
            best = max(heads, key=lambda h: similarity[i, h], default=None)
            if best is not None and similarity[i, best] >= threshold:
                members[best].append(i)
            else:
                heads.append(i)
                members[i] = [i]
        groups += [QuestionGroup(language, [items[i] for i in members[h]]) for h in heads]
    groups.sort(key=lambda g: (-g.count, -g.last_seen.timestamp()))
    return groups


def build_groups(trackers: Sequence[Tuple[str, str]],
                 dismissed: Optional[Mapping[str, AbstractSet[str]]] = None) -> List[QuestionGroup]:
    """The grouped questions of raw trackers, without dismissed wordings (CPU-bound: run it in a worker thread).

    Args:
        trackers: ``(sender, JSON)`` pairs.
        dismissed: Per language, the normalised wordings (:func:`plain_wording`) writers dismissed.
    """
    questions = questions_from(trackers)
    if dismissed:
        questions = [q for q in questions if plain_wording(q.text) not in dismissed.get(q.language, ())]
    return group(questions)


def plain_wording(text: str) -> str:
    """A wording with case, punctuation and spacing aside (how dismissed wordings are compared)."""
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


async def unanswered(redis: Redis, key_prefix: str = DEFAULT_TRACKER_PREFIX,
                     dismissed: Optional[Mapping[str, AbstractSet[str]]] = None) -> List[QuestionGroup]:
    """The grouped unanswered questions (see the module docstring); the grouping runs in a worker thread."""
    trackers = await read_trackers(redis, key_prefix)
    return await asyncio.get_running_loop().run_in_executor(None, build_groups, trackers, dismissed)
