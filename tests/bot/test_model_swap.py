"""A pulled model loads off the event loop and replaces the served one whole (bot/model_swap.py).

Real HTTP: the project's model server (writers/model_server.py) on a free port serves
the project's trained model and a copy of it under another id.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Iterator, Tuple

import pytest
import rasa.core.agent as rasa_agent
from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor
from rasa.utils.endpoints import EndpointConfig

from bot import model_swap
from core.processes import latest_model
from core.settings import Settings
from kesher.cli import train_model
from tests.helpers.sanic_server import serving
from tests.helpers.waiting import until
from writers.model_server import MODEL_FILE, create_app, publish, published, relabelled
from writers.ship import model_id

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Path, Path]]:
    """The project's model (trained if there is none) and a copy under another id."""
    trained = latest_model(Settings.from_env().model_dir) or train_model(Settings.from_env())
    folder = tmp_path_factory.mktemp("models")
    first = Path(shutil.copy(trained, folder / trained.name))
    yield first, relabelled(first, folder, "second")


async def _served_agent(first: Path, served: Path) -> Agent:
    meta = publish(first, served)
    return Agent.load(str(first), fingerprint=meta.etag)


async def test_the_new_model_loads_while_the_old_one_answers_then_takes_over(models, tmp_path, monkeypatch):
    first, second = models
    served = tmp_path / "published"
    agent = await _served_agent(first, served)
    entered, release = threading.Event(), threading.Event()
    real_load = model_swap.load_processor

    def held_load(agent: Agent, path: Path) -> MessageProcessor:
        entered.set()
        release.wait(120)
        return real_load(agent, path)

    monkeypatch.setattr(model_swap, "load_processor", held_load)
    async with serving(create_app(served)) as base:
        endpoint = EndpointConfig(url=f"{base}/models/{MODEL_FILE}")
        publish(second, served)
        pulling = asyncio.create_task(model_swap.update_model_from_server(endpoint, agent))
        await until(entered.is_set, what="the new model loading in a worker thread", timeout=60)
        # The event loop is free meanwhile: the old model still answers a customer.
        assert agent.model_id == model_id(first)
        assert (await agent.parse_message("hello"))["intent"]["name"] == "greet"
        release.set()
        await pulling
    meta = published(served)
    assert meta is not None
    assert agent.model_id == model_id(second) and agent.fingerprint == meta.etag
    assert agent.processor is not None and agent.domain is agent.processor.domain
    assert (await agent.parse_message("שלום"))["intent"]["name"] == "greet"


async def test_a_broken_model_leaves_the_old_one_serving(models, tmp_path):
    first, _ = models
    served = tmp_path / "published"
    agent = await _served_agent(first, served)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a model")
    async with serving(create_app(served)) as base:
        publish(broken, served)
        await model_swap.update_model_from_server(EndpointConfig(url=f"{base}/models/{MODEL_FILE}"), agent)
    assert agent.model_id == model_id(first)
    assert (await agent.parse_message("hello"))["intent"]["name"] == "greet"


async def test_nothing_is_loaded_while_the_server_has_the_same_model(models, tmp_path, monkeypatch):
    first, _ = models
    served = tmp_path / "published"
    agent = await _served_agent(first, served)

    def no_load(agent: Agent, path: Path) -> MessageProcessor:
        raise AssertionError("the same model was loaded again")

    monkeypatch.setattr(model_swap, "load_processor", no_load)
    async with serving(create_app(served)) as base:
        await model_swap.update_model_from_server(EndpointConfig(url=f"{base}/models/{MODEL_FILE}"), agent)
    assert agent.model_id == model_id(first)


async def test_rasas_scheduled_pull_goes_through_the_swap_once_installed(models, tmp_path, monkeypatch):
    first, second = models
    served = tmp_path / "published"
    agent = await _served_agent(first, served)
    monkeypatch.setattr(rasa_agent, "_update_model_from_server", rasa_agent._update_model_from_server)
    loaded_in: list[str] = []
    real_load = model_swap.load_processor

    def recorded_load(agent: Agent, path: Path) -> MessageProcessor:
        loaded_in.append(threading.current_thread().name)
        return real_load(agent, path)

    monkeypatch.setattr(model_swap, "load_processor", recorded_load)
    assert model_swap.install()
    async with serving(create_app(served)) as base:
        publish(second, served)
        # What Rasa's scheduler runs every KESHER_MODEL_PULL_SECONDS.
        await rasa_agent._run_model_pulling_worker(EndpointConfig(url=f"{base}/models/{MODEL_FILE}"), agent)
    assert agent.model_id == model_id(second)
    assert loaded_in and loaded_in[0] != threading.main_thread().name
