"""The whole stack, started once per test session on free loopback ports."""

from __future__ import annotations

from datetime import date
from typing import Iterator

import pytest

from actions.backends import Backends
from actions.kb.search import InMemoryKnowledgeBase
from actions.messages import MessageCatalog
from actions.orders.repository import SqlOrderRepository
from bot.__main__ import seed, train_model
from bot.settings import Settings
from bot.supervisor import Supervisor, free_port


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var_dir = tmp_path_factory.mktemp("kesher-var")
    return Settings(var_dir=var_dir).with_ports(redis=free_port(), rasa=free_port(), actions=free_port())


@pytest.fixture(scope="session")
def stack(stack_settings: Settings) -> Iterator[Supervisor]:
    """redis-server, `rasa run actions` and `rasa run` with the trained model."""
    seed(stack_settings, today=date.today())
    model = train_model(stack_settings)  # a no-op when the model is current
    supervisor = Supervisor(stack_settings, model=model)
    supervisor.start()
    yield supervisor
    supervisor.stop()


@pytest.fixture(scope="session")
def stack_orders(stack_settings: Settings) -> Backends:
    """Direct access to the stack's orders database, to pick orders and check changes."""
    return Backends(
        orders=SqlOrderRepository.from_url(stack_settings.orders_db_url),
        kb=InMemoryKnowledgeBase(stack_settings.kb_dir),
        messages=MessageCatalog.from_dir(),
    )
