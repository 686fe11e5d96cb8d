"""The bot is never taught a sentence it is measured on.

The near-domain benchmark (bench/data/near_domain) and the public intent data
sets (../shared/datasets) report how the bot does on sentences it has not
seen: a training example equal to one of them would make those figures lie.
"""

from __future__ import annotations

import csv
from typing import Dict, Iterable

import pytest

from bench.near_domain import HELD_OUT, all_items
from bench.nlu import DATASETS
from core.settings import PROJECT_ROOT
from writers.project import Project, normalize_example

STOCK_PHRASE_WORDS = 6


def _training_sentences() -> Dict[str, str]:
    """Every training example, normalised, with where it is written."""
    project = Project(PROJECT_ROOT)
    return {
        normalize_example(example.text): f"{block.path}:{example.line}"
        for block in project.intent_blocks
        for example in block.examples
    }


def _shared(evaluated: Iterable[str]) -> Dict[str, str]:
    training = _training_sentences()
    found = {}
    for text in evaluated:
        key = normalize_example(text)
        if key in training:
            found[text] = training[key]
    return found


def test_no_near_domain_question_is_a_training_example():
    items = all_items()
    questions = [item.text for item in items]
    assert len([item for item in items if item.split != HELD_OUT]) > 300
    assert len([item for item in items if item.split == HELD_OUT]) > 400
    assert _shared(questions) == {}


@pytest.mark.parametrize(("folder", "column"), [("banking77", "text"), ("bitext-customer-support", "utterance")])
def test_no_public_data_set_sentence_is_a_training_example(folder: str, column: str):
    files = sorted((DATASETS / folder).glob("*.csv")) if (DATASETS / folder).is_dir() else []
    if not files:
        pytest.skip(f"{DATASETS / folder} is not on this machine")
    sentences = [row[column] for path in files for row in csv.DictReader(path.open(encoding="utf-8"))]
    # Up to six words, a customer's question is a stock phrase any writer writes ("I forgot my password",
    # "how long does delivery take?" are in both): the check is for longer sentences, which are copies.
    assert _shared(s for s in sentences if len(s.split()) > STOCK_PHRASE_WORDS) == {}


def test_the_check_sees_a_shared_sentence():
    training = _training_sentences()
    some_example = next(iter(training))
    assert _shared([some_example.upper() + " ?"]) == {some_example.upper() + " ?": training[some_example]}
