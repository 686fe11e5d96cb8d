"""Every question the bot may offer with its honest reply ("is this what you're asking?") is answered when tapped.

The project's trained model (trained if there is none): the FAQ selector keeps, for each answer and language,
the question it offers when a message falls back near that answer (``core/suggestions.py``); a tap sends that
question as the customer's message, so it must parse to its own answer, not fall back again.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Dict

import pytest
from rasa.core.agent import Agent

from core.language import detect_language
from core.processes import latest_model
from core.settings import Settings
from kesher.cli import train_model

pytestmark = pytest.mark.training


def _offered_questions(model: Path) -> Dict[str, Dict[str, str]]:
    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/faq_selector.json"))
        meta = archive.extractfile(member)
        assert meta is not None
        return json.loads(meta.read().decode("utf-8"))["questions"]


async def test_each_offered_question_is_answered_with_its_own_answer():
    model = latest_model(Settings.from_env().model_dir) or train_model(Settings.from_env())
    questions = _offered_questions(model)
    domain_answers = [name for name in Agent.load(str(model)).domain.responses if name.startswith("utter_faq/")]
    assert {f"utter_{answer}" for answer in questions} == set(domain_answers)  # every answer can be offered
    agent = Agent.load(str(model))
    for answer, by_language in questions.items():
        assert set(by_language) == {"en", "he"}, answer
        for language, question in by_language.items():
            assert detect_language(question) == language, question
            parse = await agent.parse_message(question)
            assert parse["intent"]["name"] == "faq", (question, parse["intent"])
            picked = parse["response_selector"]["faq"]["response"]["intent_response_key"]
            assert picked == answer, (question, picked)

