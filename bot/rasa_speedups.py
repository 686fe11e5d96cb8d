"""Measured fixes for Rasa 3.6's slowest steps, applied when Rasa loads our components.

Rasa 3.6 checks every action-server response with ``jsonschema.validate``.
With the jsonschema 4.17 that Rasa pins, ``validate`` first re-checks the
*schema* against the draft-2020-12 meta-schema, on every call: 55 ms of CPU
per custom action with events, more than everything else in a turn together
(profiled with cProfile over 50 turns). :func:`install` keeps Rasa's check and
its error message but builds the validator once, so the schema is checked once
per process. Even so, each event is checked against all 26 branches of the
event schema's ``oneOf``: 1.6 ms for the order form's answer of 11 events.
The branches differ by the ``event`` constant, so an event is valid exactly when
it is valid against its own type's branch; each event is checked against that
one first (0.1 ms for the same answer), and anything that does not pass goes
through Rasa's whole schema, which raises Rasa's error.

Rasa 3.6 finds an event's class (``Event.resolve_by_type``, on every event it
reads from a tracker store, an action's answer or its API) by walking every
subclass of ``Event`` and checking each for abstractness: about 0.2 ms per event,
a tenth of a turn's CPU under cProfile with the tracker store's window of about
150 events. :func:`install` remembers the classes by type name (the first match
of Rasa's own order, looked up again when an unknown name comes), with Rasa's
answers for unknown names.

Rasa 3.6 keys its training cache by fingerprints of every component's output.
A message's fingerprint prints each sparse feature matrix to text
(``sparse_matrix_to_string``), every container is hashed as a tree of JSON
dumps and MD5s (each key, each value, each token, each event), and Rasa
computes the training data's again after every featurizer and the
trackers' before every policy: 19 % of a ``rasa train`` (py-spy, 2026-11-30,
~4,300 examples, 30,581 char n-grams). :func:`install` hashes a sparse
matrix's arrays, and a container as one JSON dump: as stable across
processes and as sensitive to content. Only the fingerprints' values change,
so a Rasa cache or a model from before is not reused once.

``rasa test nlu`` parses the held-out examples one at a time, each a run of
the whole inference graph: one ``CountVectorizer.transform`` of one text, one
matrix-vector product per classifier, and Rasa's per-call graph overhead.
That was 30 % of the NLU gate (py-spy, 2026-11-30: 1,500 parses in three
draws). :func:`get_eval_data_in_one_pass` runs the graph once over all of them
(each component's ``process`` takes a list of messages) and hands Rasa's own
``get_eval_data`` the parse results in order, so every figure and file it
writes is built by Rasa's code, from the same predictions.

Rasa posts the tracker to the action server with every custom action: in a
12-message conversation 65 KB, 60 % of it the earlier messages' parses, each with
its intent ranking and the FAQ selector's output (the chosen answer's texts in both
languages and a ranking of ten). The action server's round trip grows with it
(1.18 ms for the 65 KB, 0.75 ms for the same tracker without those parts).
:func:`action_call_format` leaves them out of every message but the latest (and
``latest_message``, which stays whole): Kesher's actions read an earlier message's
text, intent, entities and FAQ answer key, never its rankings. The form's
validation and the form's questions read only the latest message, the slots and
the form: the endpoint names them (``turn_only_actions`` in endpoints.yml) and
they get the events from the customer's latest message on. The form's
validation also got the whole domain (Rasa sends it to every ``validate_``
action), 27 of its 33 KB the responses, which no action reads: they are left out.

Rasa runs a model's graph (the NLU pipeline once per message, the policies once
per action) through ``dask.get``, which rebuilds the dask graph and schedules it
on every run, and formats the run's inputs, the tracker included, into a debug
message whether or not debug logging is on: 0.16 of the 0.40 ms of a prediction,
and about 0.5 ms of a parse. :func:`run_in_order` runs the same nodes with the same
inputs in a dependency order worked out once per set of targets. Graphs with
hooks (training's caching and logging) still go through dask.

Rasa packs every trained model with gzip's slowest level (``tarfile``'s
default, 9). A model is mostly float32 arrays, which gzip hardly shrinks: the
project's model took 1.65 s at level 9 and 0.38 s at level 1, for 15.9 MB
against 16.2 MB. :class:`QuickTarSafe` packs at level 1; reading is unchanged.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from hashlib import md5
from typing import Any, Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Set, Tuple, Type

import numpy as np
import rasa
import rasa.engine.storage.local_model_storage
import rasa.nlu.test
import rasa.shared.utils.io
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.runner.interface import GraphRunner
from rasa.graph_components.converters.nlu_message_converter import NLUMessageConverter
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.plugin import plugin_manager
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import KEY_RESPONSES, Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.common import all_subclasses
from tarsafe import TarSafe

__all__ = [
    "TURN_ONLY_ACTIONS",
    "QuickTarSafe",
    "action_call_format",
    "deep_container_fingerprint",
    "event_from_dict",
    "features_fingerprint",
    "get_eval_data_in_one_pass",
    "install",
    "message_fingerprint",
    "parse_all",
    "resolve_event_type",
    "run_in_order",
]

_RASA_VERSION = "3.6.21"


@lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@lru_cache(maxsize=1)
def _event_validators() -> Dict[str, Any]:
    """A validator per event type: Rasa's event schema with its ``oneOf`` narrowed to that type's branch.

    A type named by more than one branch gets none (only Rasa's whole schema can decide those).
    """
    schema = RemoteAction.action_response_format_spec()
    event_schema = schema["properties"]["events"]["items"]
    cls = validator_for(schema)
    base = {key: value for key, value in event_schema.items() if key != "oneOf"}
    branches: Dict[str, List[Dict[str, Any]]] = {}
    for branch in event_schema["oneOf"]:
        branches.setdefault(branch["properties"]["event"]["const"], []).append(branch)
    return {name: cls({**base, "allOf": found}) for name, found in branches.items() if len(found) == 1}


def _quickly_valid(result: Any) -> bool:
    """Whether ``result`` passes Rasa's response schema, checking each event against its own type's branch.

    False means "not shown valid": the caller asks Rasa's whole schema.
    """
    if not isinstance(result, dict):
        return False
    events, responses = result.get("events", []), result.get("responses", [])
    if not isinstance(events, list) or not isinstance(responses, list):
        return False
    if not all(isinstance(response, dict) for response in responses):
        return False
    validators = _event_validators()
    for event in events:
        name = event.get("event") if isinstance(event, dict) else None
        validator = validators.get(name) if isinstance(name, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    if _quickly_valid(result):
        return True
    try:
        _action_result_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise


_EVENT_TYPES: Dict[str, Type[Event]] = {}


def resolve_event_type(type_name: str, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """``Event.resolve_by_type`` with the classes remembered by type name (same answers).

    Raises:
        ValueError: An unknown type name and no ``default`` (as Rasa's).
    """
    found = _EVENT_TYPES.get(type_name)
    if found is None:
        for cls in all_subclasses(Event):
            _EVENT_TYPES.setdefault(cls.type_name, cls)
        found = _EVENT_TYPES.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # Rasa's backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def event_from_dict(parameters: Dict[str, Any]) -> Optional[Event]:
    """``Event.from_parameters`` through :func:`resolve_event_type`."""
    name = parameters.get("event")
    cls = resolve_event_type(name) if name is not None else None
    return cls._from_parameters(parameters) if cls is not None else None


def _fingerprint_as_json(value: Any) -> Any:
    fingerprint = getattr(value, "fingerprint", None)
    if callable(fingerprint):
        return ["fingerprint", fingerprint()]
    raise TypeError(type(value).__name__)  # json.dumps fails, and the caller falls back to Rasa's fingerprint


def deep_container_fingerprint(obj: Any, encoding: str = rasa.shared.utils.io.DEFAULT_ENCODING) -> str:
    """Rasa's ``deep_container_fingerprint`` (and its dict and list forms) as one JSON dump and one digest.

    Objects with a ``fingerprint()`` go in by their fingerprint, as in Rasa's. A container that is not plain
    JSON (a set, a path or a numpy value in it, keys of mixed types) is hashed Rasa's way, part by part: a
    dict's keys and values and a list's items through this function, anything else as ``str()``.
    """
    if not isinstance(obj, (dict, list)):
        fingerprint = getattr(obj, "fingerprint", None)
        if callable(fingerprint):
            return str(fingerprint())
    try:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=_fingerprint_as_json)
    except (TypeError, ValueError):
        if isinstance(obj, dict):
            parts = {deep_container_fingerprint(k, encoding): deep_container_fingerprint(v, encoding)
                     for k, v in obj.items()}
            text = json.dumps(parts, sort_keys=True)
        elif isinstance(obj, list):
            text = json.dumps([deep_container_fingerprint(item, encoding) for item in obj])
        else:
            text = str(obj)
    return md5(text.encode(encoding), usedforsecurity=False).hexdigest()


def _token_as_json(value: Any) -> Any:
    if isinstance(value, Token):
        return ["token", value.text, value.start, value.end, value.lemma, value.data]
    return _fingerprint_as_json(value)


def message_fingerprint(self: Message) -> str:
    """``Message.fingerprint`` as one JSON dump of the data, its tokens written out, and the features' digests.

    Remembered until the message changes, as Rasa's; through :func:`deep_container_fingerprint` when the
    data is not plain JSON.
    """
    if self._cached_fingerprint is None:
        try:
            text = json.dumps([self.data, [f.fingerprint() for f in self.features]], sort_keys=True,
                              ensure_ascii=False, default=_token_as_json)
        except (TypeError, ValueError):
            self._cached_fingerprint = deep_container_fingerprint([self.data, self.features])
        else:
            self._cached_fingerprint = md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return str(self._cached_fingerprint)


def features_fingerprint(self: Features) -> str:
    """``Features.fingerprint`` from the matrix's arrays instead of its printout (remembered, as Rasa's)."""
    if self._cached_fingerprint is None:
        digest = md5(usedforsecurity=False)
        digest.update(json.dumps([self.type, self.origin, self.attribute]).encode())
        matrix = self.features
        if self.is_dense():
            parts = [np.asarray(matrix)]
        else:
            matrix = matrix.tocoo()
            parts = [matrix.row, matrix.col, matrix.data]
        digest.update(repr((matrix.shape, matrix.dtype.str, self.is_dense())).encode())
        for part in parts:
            digest.update(np.ascontiguousarray(part).tobytes())
        self._cached_fingerprint = digest.hexdigest()
    return str(self._cached_fingerprint)


_RASA_GET_EVAL_DATA = rasa.nlu.test.get_eval_data


def parse_all(processor: MessageProcessor, texts: List[str]) -> List[Dict[str, Any]]:
    """What ``processor.parse_message(UserMessage(text), only_output_properties=False)`` returns for each text.

    One run of the model's inference graph over all the texts, with a new tracker as
    ``parse_message`` makes when given none.
    """
    messages = [UserMessage(text=text) for text in texts]
    runner: GraphRunner = processor.graph_runner
    target = processor.model_metadata.nlu_target
    parsed = runner.run(inputs={PLACEHOLDER_MESSAGE: messages,
                                PLACEHOLDER_TRACKER: DialogueStateTracker.from_events(messages[0].sender_id, [])},
                        targets=[target])[target] if messages else []
    results: List[Dict[str, Any]] = []
    for message in parsed:
        parse_data: Dict[str, Any] = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                                      ENTITIES: []}
        parse_data.update(message.as_dict(only_output_properties=False))
        processor._update_full_retrieval_intent(parse_data)
        processor._check_for_unseen_features(parse_data)  # as parse_message does: warns of unknown intents
        results.append(parse_data)
    return results


class _ParsedAhead:
    """Stands in for the processor in Rasa's ``get_eval_data``: answers each parse from results made before."""

    def __init__(self, processor: MessageProcessor, texts: List[str], results: List[Dict[str, Any]]) -> None:
        self.model_metadata = processor.model_metadata
        self._answers: Iterator[Tuple[str, Dict[str, Any]]] = iter(zip(texts, results, strict=True))

    async def parse_message(self, message: UserMessage, tracker: Optional[DialogueStateTracker] = None,
                            only_output_properties: bool = True) -> Dict[str, Any]:
        text, result = next(self._answers)
        assert message.text == text and tracker is None and not only_output_properties, "asked out of order"
        return result


async def get_eval_data_in_one_pass(processor: MessageProcessor, test_data: TrainingData) -> Any:
    """Rasa's ``get_eval_data``, with the examples parsed in one run of the graph (:func:`parse_all`).

    Falls back to Rasa's own when the model is served over HTTP, when a plugin mocks trackers for
    evaluation, or when the graph does not start with Rasa's message converter (one message in, one out).
    """
    examples = test_data.nlu_examples
    hooks = plugin_manager().hook
    one_for_one = any(isinstance(node.uses, type) and issubclass(node.uses, NLUMessageConverter)
                      for node in processor.model_metadata.predict_schema.nodes.values())
    if (processor.http_interpreter is not None or not examples or not one_for_one
            or any(hooks.mock_tracker_for_evaluation(example=examples[0], model_metadata=processor.model_metadata))):
        return await _RASA_GET_EVAL_DATA(processor, test_data)
    texts = [example.get(TEXT) for example in examples]
    return await _RASA_GET_EVAL_DATA(_ParsedAhead(processor, texts, parse_all(processor, texts)), test_data)


_RASA_ACTION_CALL_FORMAT = RemoteAction._action_call_format
_LEFT_OUT_OF_EARLIER_PARSES = ("intent_ranking", "response_selector", "article_coverage")


def _earlier_parse(parse_data: Dict[str, Any]) -> Dict[str, Any]:
    """An earlier message's parse as an action call carries it: no rankings, the FAQ answer by its key."""
    slim = {key: value for key, value in parse_data.items() if key not in _LEFT_OUT_OF_EARLIER_PARSES}
    selector = parse_data.get("response_selector")
    if isinstance(selector, dict):
        slim["response_selector"] = {
            name: {"response": {key: value for key, value in (chosen.get("response") or {}).items()
                                if key != "responses"}}
            if isinstance(chosen, dict) and isinstance(chosen.get("response"), dict) else chosen
            for name, chosen in selector.items()
        }
    return slim


TURN_ONLY_ACTIONS = "turn_only_actions"


def _turn_only_actions(endpoint: Any) -> FrozenSet[str]:
    """The actions the action endpoint's ``turn_only_actions`` (endpoints.yml) names."""
    names = getattr(endpoint, "kwargs", {}).get(TURN_ONLY_ACTIONS) or ()
    return frozenset([names] if isinstance(names, str) else names)


def _events_of_the_turn(tracker: DialogueStateTracker) -> List[Dict[str, Any]]:
    """The tracker's events from the customer's latest message on (all of them if there is none)."""
    events = tracker.events
    start = 0
    for number in range(len(events) - 1, -1, -1):
        if isinstance(events[number], UserUttered):
            start = number
            break
    return [event.as_dict() for event in itertools.islice(events, start, None)]


_LEAN_DOMAIN = "_kesher_lean_domain"


def _lean_domain(domain: Domain) -> Dict[str, Any]:
    """The domain as an action call carries it: without the responses, which actions never read.

    Rasa sends the domain to the form validation actions (``validate_<form>``) whatever the endpoint says:
    33 KB for Kesher's, 27 KB of it the responses in both languages. Worked out once per domain.
    """
    lean: Optional[Dict[str, Any]] = domain.__dict__.get(_LEAN_DOMAIN)
    if lean is None:
        lean = {key: value for key, value in domain.as_dict().items() if key != KEY_RESPONSES}
        domain.__dict__[_LEAN_DOMAIN] = lean
    return lean


def action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Any) -> Dict[str, Any]:
    """Rasa's action call, cut to what Kesher's actions read.

    - An action the endpoint lists under ``turn_only_actions`` gets the events from the customer's latest
      message on; the state (slots, the form, ``latest_message``) is whole.
    - Any other action gets every event, every user message but the latest with a slimmer parse
      (:func:`_earlier_parse`).
    - The domain, where Rasa sends it, comes without its responses (:func:`_lean_domain`).
    """
    if self.name() in _turn_only_actions(self.action_endpoint):
        state = tracker.current_state(EventVerbosity.NONE)
        state["events"] = _events_of_the_turn(tracker)
        body: Dict[str, Any] = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state,
                                "version": rasa.__version__}
        if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
            body["domain"] = domain.as_dict()
    else:
        body = _RASA_ACTION_CALL_FORMAT(self, tracker, domain)
        state = body.get("tracker")
        events = state.get("events") if isinstance(state, dict) else None
        if isinstance(events, list):
            users = [number for number, event in enumerate(events) if event.get("event") == "user"]
            for number in users[:-1]:
                event = events[number]
                if isinstance(event.get("parse_data"), dict):
                    events[number] = {**event, "parse_data": _earlier_parse(event["parse_data"])}
    if isinstance(body.get("domain"), dict) and isinstance(domain, Domain):
        body["domain"] = _lean_domain(domain)
    return body


_DASK_RUN = DaskGraphRunner.run
_PLANS = "_kesher_plans"


class _Plan(NamedTuple):
    """The nodes a run computes, each after the nodes it needs, with their inputs' names; and their names."""

    steps: List[Tuple[str, GraphNode, Tuple[str, ...]]]
    names: FrozenSet[str]


def _plan(runner: DaskGraphRunner, targets: Tuple[str, ...]) -> Optional[_Plan]:
    """What a run for ``targets`` computes, worked out once per runner and targets (None: use dask)."""
    plans: Dict[Tuple[str, ...], Optional[_Plan]] = runner.__dict__.setdefault(_PLANS, {})
    if targets in plans:
        return plans[targets]
    nodes = runner._instantiated_nodes
    plan: Optional[_Plan] = None
    if not any(node._hooks for node in nodes.values()):
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        found: List[Tuple[str, GraphNode, Tuple[str, ...]]] = []
        placed: Set[str] = set()

        def place(name: str) -> None:
            if name in placed or name not in schema.nodes:
                return
            placed.add(name)
            needs = tuple(schema.nodes[name].needs.values())
            for need in needs:
                place(need)
            found.append((name, nodes[name], needs))

        for target in targets:
            place(target)
        plan = _Plan(found, frozenset(placed))
    plans[targets] = plan
    return plan


def run_in_order(self: DaskGraphRunner, inputs: Optional[Dict[str, Any]] = None,
                 targets: Optional[List[str]] = None) -> Dict[str, Any]:
    """``DaskGraphRunner.run`` without dask: each node once, after the nodes it needs (same results).

    As with dask, a node is handed each of its inputs as ``(name, output)``, or the bare name when
    nothing provides it (``GraphNode`` warns); an input named like a node stands in for it.

    Raises:
        GraphRunError: An input's value is the name of a node or of an earlier input, or a node raised
            ``RuntimeError`` (as Rasa's).
    """
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plan = _plan(self, run_targets)
    if plan is None:
        return _DASK_RUN(self, inputs, targets)
    results: Dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and (value in plan.names or value in results):
            raise GraphRunError(f"Input value '{value}' clashes with a node name. Make sure that none of the "
                                f"input names passed to the `run` method are the same as node names in the "
                                f"graph schema.")
        results[name] = (name, value)
    try:
        for name, node, needs in plan.steps:
            if name not in results:
                results[name] = node(*(results.get(need, need) for need in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results[target] for target in run_targets)


class QuickTarSafe(TarSafe):
    """Rasa's safe tar file, writing gzip at its fastest level unless told otherwise."""

    @classmethod
    def open(cls, name: Any = None, mode: str = "r", fileobj: Any = None, bufsize: int = 10240,
             **kwargs: Any) -> Any:
        """``TarSafe.open``; a ``w:gz`` archive is compressed at level 1 by default."""
        if mode == "w:gz":
            kwargs.setdefault("compresslevel", 1)
        return super().open(name, mode, fileobj, bufsize, **kwargs)


def install() -> bool:
    """Installs the fixes on the Rasa version they were measured on.

    Replaces ``RemoteAction._validate_action_result``, ``Event.resolve_by_type``,
    ``Features.fingerprint``, ``Message.fingerprint``, Rasa's container fingerprints
    (``rasa.shared.utils.io``), ``rasa.nlu.test.get_eval_data``, the model packer's ``TarSafe``,
    ``DaskGraphRunner.run`` and ``RemoteAction._action_call_format``.

    Returns:
        Whether the fixes were installed (not on another Rasa version).
    """
    if rasa.__version__ != _RASA_VERSION:
        return False
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)
    Features.fingerprint = features_fingerprint
    Message.fingerprint = message_fingerprint
    for name in ("deep_container_fingerprint", "get_dictionary_fingerprint", "get_list_fingerprint"):
        setattr(rasa.shared.utils.io, name, deep_container_fingerprint)
    rasa.nlu.test.get_eval_data = get_eval_data_in_one_pass
    rasa.engine.storage.local_model_storage.TarSafe = QuickTarSafe
    DaskGraphRunner.run = run_in_order
    RemoteAction._action_call_format = action_call_format
    return True
