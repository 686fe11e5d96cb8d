"""The console language each agent chose with the language switch, kept in Redis per agent.

It outlives the session (the next login on any replica reads the same key) and
wins over the agent's ``ui_language`` in ``handoff/agents.yml``, which stays the
default for an agent who never chose.
"""

from __future__ import annotations

from typing import Optional

from console.context import ServiceState
from core.language import Language, as_language, is_language

__all__ = ["load_ui_choice", "save_ui_choice"]


async def load_ui_choice(service: ServiceState, agent_id: str) -> Optional[Language]:
    """The language the agent chose, or None if they never did (or the stored value is not one)."""
    value = await service.redis.get(service.container.keys.console_ui_language(agent_id))
    return as_language(value) if is_language(value) else None


async def save_ui_choice(service: ServiceState, agent_id: str, language: Language) -> None:
    """Remembers the agent's choice (no expiry: it is a preference, one short string per agent)."""
    await service.redis.set(service.container.keys.console_ui_language(agent_id), language)
