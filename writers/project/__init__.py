"""One reader of a Rasa project folder: domain, NLU, stories, rules, responses, help-centre articles and texts.

Everything it gives carries the file and line it is written on; see
:class:`~writers.project.reader.Project`.
"""

from writers.project.domain import Domain, response_language
from writers.project.lines import YamlList, YamlMap, item_line, key_line, load_yaml
from writers.project.model import Example, IntentBlock, Loc, StepRef, StoryBlock, TextEntry, YamlProblem
from writers.project.nlu import entity_names, examples_of, normalize_example, plain_example, read_nlu_file
from writers.project.reader import Project

__all__ = [
    "Domain",
    "Example",
    "IntentBlock",
    "Loc",
    "Project",
    "StepRef",
    "StoryBlock",
    "TextEntry",
    "YamlList",
    "YamlMap",
    "YamlProblem",
    "entity_names",
    "examples_of",
    "item_line",
    "key_line",
    "load_yaml",
    "normalize_example",
    "plain_example",
    "read_nlu_file",
    "response_language",
]
