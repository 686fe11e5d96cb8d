"""A model swap nobody notices: ``rasa run`` loads a pulled model off its event loop.

Rasa 3.6 pulls a new model from the model server (``endpoints.yml`` ``models:``)
in ``rasa.core.agent._update_model_from_server``: it reads the whole file into
memory, writes it, then calls ``agent.load_model`` *inside the event loop*, so
every turn that arrives while the model is unpacked and its components are
loaded waits for it (measured: turn p95 from ~2 s to 5–14 s during a swap with
TensorFlow models, docs/benchmarks.md).

:func:`install` replaces that function with one that

1. streams the download to disk in chunks, each write in a worker thread;
2. builds the new ``MessageProcessor`` (unpack, load every component) in a
   worker thread, and runs one message and one prediction through it there,
   so the first customer after the swap does not pay for lazy first-use work;
3. swaps the agent over to it in one step on the event loop (no ``await``
   between the assignments): a turn runs on the old processor or on the new
   one, whole. Turns already running keep the processor they started with;
4. then settles the heap (:func:`settle_heap`): the model, Rasa and
   TensorFlow are half a million long-lived objects, and every full pass of
   Python's cyclic garbage collector walked them all, a 200–240 ms pause of
   the event loop every few thousand turns (logged with ``gc.callbacks`` in
   ``rasa run``). Frozen, they are left out of those passes.

A model that fails to download or load leaves the old one serving, as Rasa's
own code does. Installed, like :mod:`bot.rasa_speedups`, when Rasa imports
``bot.components`` (the first model load); every later pull goes through it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import aiohttp
import rasa
import rasa.core.agent as rasa_agent
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.nlu.utils import is_url
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

__all__ = ["install", "load_processor", "pull_model", "swap", "update_model_from_server"]

logger = logging.getLogger(__name__)

_RASA_VERSION = "3.6.21"
_CHUNK_BYTES = 1 << 20
_WARM_UP_TEXT = "hello"


async def pull_model(model_server: EndpointConfig, fingerprint: Optional[str], directory: Path) -> Optional[Path]:
    """Downloads the model if the server has another one than ``fingerprint``.

    Args:
        model_server: The ``models:`` endpoint.
        fingerprint: The ETag of the model being served (sent as ``If-None-Match``).
        directory: Where to put the file.

    Returns:
        The downloaded file, or None when there is nothing new (304/204/404, another
        status, or the server cannot be reached: the next pull tries again).
        The new fingerprint is in the file's ``.etag`` sibling.
    """
    loop = asyncio.get_running_loop()
    try:
        async with model_server.session() as session:
            async with session.request(
                "GET", model_server.url, timeout=DEFAULT_REQUEST_TIMEOUT,
                headers={"If-None-Match": fingerprint or ""}, params=model_server.combine_parameters(),
            ) as response:
                if response.status != 200:
                    logger.debug("Model server answered %s: no new model", response.status)
                    return None
                etag = response.headers.get("ETag")
                if not etag:
                    logger.warning("The model server sent a model without an ETag; ignored")
                    return None
                path = directory / Path(response.headers.get("filename", "model.tar.gz")).name
                with path.open("wb") as file:
                    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                        await loop.run_in_executor(None, file.write, chunk)
    except aiohttp.ClientError as exc:
        logger.debug("Could not reach the model server (%s); the next pull tries again", exc)
        return None
    (directory / ".etag").write_text(etag, encoding="utf-8")
    return path


def load_processor(agent: Agent, model_path: Path) -> MessageProcessor:
    """Builds a processor for ``model_path`` with the agent's stores and endpoints, then warms it up.

    Runs in a worker thread: it touches nothing the agent's running turns use.
    """
    processor = MessageProcessor(
        model_path=model_path, tracker_store=agent.tracker_store, lock_store=agent.lock_store,
        action_endpoint=agent.action_endpoint, generator=agent.nlg, http_interpreter=agent.http_interpreter,
    )
    try:
        tracker = DialogueStateTracker("kesher-model-warm-up", processor.domain.slots)
        parsed = processor._parse_message_with_graph(UserMessage(_WARM_UP_TEXT), tracker)
        tracker.update(UserUttered(_WARM_UP_TEXT, parsed.get("intent"), parsed.get("entities"), parsed))
        processor._predict_next_with_tracker(tracker)
    except Exception:  # a warm-up that fails only costs the first turn its speed
        logger.warning("Warming up the new model failed; it is used anyway", exc_info=True)
    return processor


def swap(agent: Agent, processor: MessageProcessor, fingerprint: str) -> None:
    """Puts ``processor`` in service: what ``Agent.load_model`` sets, with no ``await`` in between."""
    agent.processor = processor
    agent.domain = processor.domain
    agent.fingerprint = fingerprint
    if agent.tracker_store is not None:
        agent.tracker_store.domain = processor.domain
    if isinstance(agent.nlg, TemplatedNaturalLanguageGenerator):
        agent.nlg.responses = processor.domain.responses if processor.domain else {}


def settle_heap() -> None:
    """Collects what the previous model left behind, then freezes every object alive now.

    Frozen objects are skipped by the cyclic garbage collector's passes (they are
    still freed by reference counting); unfreezing first lets the previous
    model's cycles be collected, so a swap does not keep it.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def update_model_from_server(model_server: EndpointConfig, agent: Agent) -> None:
    """Rasa's ``_update_model_from_server``, with the download and the load off the event loop."""
    if not is_url(model_server.url):
        raise aiohttp.InvalidURL(model_server.url)
    loop = asyncio.get_running_loop()
    directory = Path(tempfile.mkdtemp(prefix="kesher-model-"))
    try:
        path = await pull_model(model_server, agent.fingerprint, directory)
        if path is None:
            return
        fingerprint = (directory / ".etag").read_text(encoding="utf-8")
        logger.info("Loading the new model %s (fingerprint %s) next to the one serving", path.name, fingerprint)
        processor = await loop.run_in_executor(None, load_processor, agent, path)
        swap(agent, processor, fingerprint)
        logger.info("Now serving model %s", processor.model_metadata.model_id)
        settle_heap()  # once per model, on the loop: one pause here instead of one every few thousand turns
    except Exception:  # as Rasa's own: a broken model must not stop the server
        logger.exception("Failed to update model. The previous model will stay loaded instead.")
    finally:
        await loop.run_in_executor(None, shutil.rmtree, directory, True)


def install() -> bool:
    """Replaces Rasa's model-pull step on the Rasa version it was written for.

    Returns:
        Whether it was installed (not on another Rasa version).
    """
    if rasa.__version__ != _RASA_VERSION:
        return False
    rasa_agent._update_model_from_server = update_model_from_server
    return True

