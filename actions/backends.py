"""The backends the actions use, built once per action-server process.

rasa_sdk creates every action with no arguments, so an action that is not
given a backend takes the process-wide one from here. Nothing connects or
reads files until an action first needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Callable

from actions.kb.search import InMemoryKnowledgeBase, KnowledgeBase
from actions.messages import MessageCatalog
from actions.orders.repository import OrderRepository, SqlOrderRepository
from bot.settings import Settings

__all__ = ["Backends", "Clock", "default_backends"]

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Backends:
    """Everything an action talks to besides the tracker."""

    orders: OrderRepository
    kb: KnowledgeBase
    messages: MessageCatalog
    clock: Clock = datetime.now
    default_language: str = "en"


@lru_cache(maxsize=1)
def default_backends() -> Backends:
    """The backends configured by the environment (see :class:`bot.settings.Settings`).

    Reads the message files; opens no connection.
    """
    settings = Settings.from_env()
    return Backends(
        orders=SqlOrderRepository.from_url(settings.orders_db_url),
        kb=InMemoryKnowledgeBase(settings.kb_dir),
        messages=MessageCatalog.from_dir(),
        default_language=settings.default_language,
    )
