"""The project reader: one Rasa project folder, each file read once, every piece with its file and line.

The content check, the flow charts, the NLU gate, "add example" and the
console's list of intents all read a project through :class:`Project`. It
can point at any folder, so the tests work on small copies of a project.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from core.language import LANGUAGES
from core.texts import TextCatalog, TextError
from writers.project.domain import Domain, merge_domain
from writers.project.lines import YamlMap, load_yaml
from writers.project.model import IntentBlock, StepRef, StoryBlock, TextEntry, YamlProblem
from writers.project.nlu import intent_blocks
from writers.project.stories import FLOW_KEYS, step_refs, story_blocks

__all__ = ["Project"]


def _yaml_files(path: Path) -> List[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    return []


class Project:
    """A bot project's content, read on demand and kept for the life of the object.

    Every path is relative to ``root``. A page that must show the files as they
    are now makes a new ``Project`` each time.
    """

    def __init__(
        self,
        root: Path,
        *,
        domain: str = "domain",
        data: str = "data",
        config: str = "config.yml",
        kb: str = "data/kb",
        texts: str = "data/texts",
        actions: str = "actions",
    ) -> None:
        """Points at a project; nothing is read until asked for.

        Args:
            root: The project folder.
            domain: Domain folder or file (``domain.yml`` when there is no ``domain`` folder).
            data: Folder of NLU, story and rule files (as ``rasa --data``).
            config: Rasa's pipeline and policies.
            kb: Folder of help-centre articles, ``<language>/<slug>.md``.
            texts: The text catalog's folder (see :mod:`core.texts`).
            actions: The custom actions' Python package.
        """
        self.root = root.resolve()
        self.domain_path = self.root / domain
        if not self.domain_path.exists() and self.domain_path.with_suffix(".yml").is_file():
            self.domain_path = self.domain_path.with_suffix(".yml")  # a one-file domain
        self.data_path = self.root / data
        self.nlu_path = self.data_path / "nlu"
        self.config_path = self.root / config
        self.kb_path = self.root / kb
        self.texts_path = self.root / texts
        self.actions_path = self.root / actions
        self._yaml: Dict[Path, Any] = {}
        self._problems: Dict[Path, List[YamlProblem]] = {}

    # -- files -------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """``path`` relative to the project, with forward slashes."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def yaml(self, path: Path) -> Any:
        """A YAML file's data with lines (see :mod:`writers.project.lines`); None if it does not parse.

        What is wrong with a file is kept for :meth:`yaml_problems`.
        """
        path = path.resolve()
        if path in self._yaml:
            return self._yaml[path]
        data: Any = None
        problems: List[YamlProblem] = []
        rel = self.rel(path)
        try:
            data, duplicates = load_yaml(path.read_text(encoding="utf-8"))
            problems = [YamlProblem(rel, d.line, "duplicate-key", d.key, d.first_line) for d in duplicates]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "not valid YAML"
            problems = [YamlProblem(rel, mark.line + 1 if mark is not None else 1, "syntax", problem)]
        except yaml.YAMLError as exc:
            problems = [YamlProblem(rel, 1, "syntax", str(exc))]
        except UnicodeDecodeError as exc:
            problems = [YamlProblem(rel, 1, "encoding", str(exc))]
        self._yaml[path] = data
        self._problems[path] = problems
        return data

    def yaml_problems(self) -> List[YamlProblem]:
        """What is wrong with the YAML files read so far."""
        return [problem for problems in self._problems.values() for problem in problems]

    def unreadable_domain_files(self) -> List[str]:
        """The domain files that do not parse, relative to the project (without them names look undefined)."""
        broken = []
        for path in self.domain_files():
            self.yaml(path)
            if any(problem.kind != "duplicate-key" for problem in self._problems[path.resolve()]):
                broken.append(self.rel(path))
        return broken

    def all_yaml_files(self) -> List[Path]:
        """Every YAML file of the bot: the config, the domain, everything under the data folder, the texts."""
        files = [self.config_path, *self.domain_files(), *_yaml_files(self.data_path), *self.texts_files()]
        return [f for f in dict.fromkeys(files) if f.is_file()]

    def domain_files(self) -> List[Path]:
        """The domain's YAML files."""
        return _yaml_files(self.domain_path)

    def data_files(self, key: str) -> List[Path]:
        """Data files with a top-level ``key`` (``nlu``, ``stories``, ``rules``)."""
        return [p for p in _yaml_files(self.data_path) if isinstance(d := self.yaml(p), Mapping) and key in d]

    def texts_files(self) -> List[Path]:
        """The text catalog's files (the ``*.yml`` files of its folder, as :meth:`TextCatalog.load` reads them)."""
        return sorted(self.texts_path.glob("*.yml")) if self.texts_path.is_dir() else []

    def language_of(self, path: Path) -> Optional[str]:
        """The language of a data file: the language folder it is in (``data/nlu/he/`` is Hebrew)."""
        try:
            parts = path.resolve().relative_to(self.data_path.resolve()).parts[:-1]
        except ValueError:
            parts = path.parts[:-1]
        return next((p for p in parts if p in LANGUAGES), None)

    def nlu_file_for(self, intent: str, language: str, like: Optional[str] = None) -> str:
        """The NLU file a writer should add ``intent``'s ``language`` examples to, relative to the project.

        Args:
            intent: The intent.
            language: ``he`` or ``en``.
            like: A file with the intent's examples in the other language: the
                same file name in ``language``'s folder is suggested.
        """
        if like is not None:
            parts = like.split("/")
            for index, part in enumerate(parts[:-1]):
                if part in LANGUAGES:
                    return "/".join([*parts[:index], language, *parts[index + 1:]])
        name = "faq.yml" if "/" in intent else "core.yml"
        return self.rel(self.nlu_path / language / name)

    # -- parsed content ----------------------------------------------------------------------
    @cached_property
    def domain(self) -> Domain:
        """The domain files merged."""
        return merge_domain((self.rel(p), self.yaml(p)) for p in self.domain_files())

    @cached_property
    def intent_blocks(self) -> List[IntentBlock]:
        """Every ``- intent:`` block of the NLU data, in file order."""
        return [block for path in self.data_files("nlu")
                for block in intent_blocks(self.yaml(path), self.rel(path), self.language_of(path))]

    @cached_property
    def story_blocks(self) -> List[StoryBlock]:
        """Every story, then every rule, each file in name order."""
        return [block for key in FLOW_KEYS for path in self.data_files(key)
                for block in story_blocks(self.yaml(path), self.rel(path), key)]

    @cached_property
    def story_refs(self) -> List[StepRef]:
        """Every intent, action, form, slot and entity the stories and rules name."""
        return [ref for block in self.story_blocks for ref in step_refs(block)]

    @cached_property
    def kb_articles(self) -> Dict[str, Dict[str, Path]]:
        """Help-centre articles: ``{language: {slug: path}}``."""
        return {
            language: {p.stem: p for p in sorted((self.kb_path / language).glob("*.md"))}
            for language in LANGUAGES
        }

    @cached_property
    def text_entries(self) -> List[TextEntry]:
        """Every key of the text catalog's files as written, in file order (a key may appear twice)."""
        entries: List[TextEntry] = []
        for path in self.texts_files():
            data = self.yaml(path)
            texts = data.get("texts") if isinstance(data, Mapping) else None
            if isinstance(texts, YamlMap):
                rel = self.rel(path)
                entries += [TextEntry(str(key), rel, texts.line_of(key), value) for key, value in texts.items()]
        return entries

    @cached_property
    def catalog(self) -> TextCatalog:
        """The text catalog as Kesher loads it (:meth:`core.texts.TextCatalog.load`).

        Raises:
            TextError: A file is not YAML or is malformed, or a key is defined twice.
        """
        try:
            return TextCatalog.load(self.texts_path)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise TextError(f"a file of {self.rel(self.texts_path)} is not UTF-8 YAML ({exc})") from exc
