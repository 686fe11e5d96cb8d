"""The content check's checks, one module each, and :data:`CHECKS`: the one list the runner goes through.

A check is ``(project, options) -> findings``; to add one, write its module
and register it here.
"""

from typing import Tuple

from writers.checks.actions import check_actions
from writers.checks.base import Check
from writers.checks.duplicates import check_duplicates
from writers.checks.entities import check_entities
from writers.checks.examples import check_examples
from writers.checks.flow_names import check_flow_names
from writers.checks.kb import check_kb
from writers.checks.rasa import check_rasa
from writers.checks.regexes import check_regexes
from writers.checks.responses import check_responses
from writers.checks.stories import check_stories
from writers.checks.texts import check_texts
from writers.checks.voice import check_voice
from writers.checks.yaml_files import check_yaml

__all__ = ["CHECKS"]

CHECKS: Tuple[Check, ...] = (
    Check("yaml", check_yaml),
    Check("rasa", check_rasa, needs_domain=True, runs_rasa=True),
    Check("examples", check_examples, needs_domain=True),
    Check("responses", check_responses, needs_domain=True),
    Check("texts", check_texts),
    Check("voice", check_voice, needs_domain=True),
    Check("kb", check_kb),
    Check("duplicates", check_duplicates),
    Check("stories", check_stories, needs_domain=True),
    Check("flow_names", check_flow_names, needs_domain=True),
    Check("entities", check_entities, needs_domain=True),
    Check("regexes", check_regexes),
    Check("actions", check_actions, needs_domain=True),
)
