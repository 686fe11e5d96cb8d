"""The text catalog: everything Kesher says outside Rasa's responses, in Hebrew and English.

One loader for every text of the actions, the handoff notices, the e-mails, the
canned replies and the console's and widget's screens: the YAML files of
``data/texts/``, each a ``texts:`` mapping of key → one value per language::

    texts:
      attempts_left:
        en: "{remaining, plural, one {# attempt} other {# attempts}} left"
        he: "{remaining, plural, one {נותר ניסיון אחד} two {נותרו שני ניסיונות} other {נותרו # ניסיונות}}"

A value is a text, a list of texts (variations: one is picked at random) or a
mapping with ``text`` and, optionally, ``buttons`` (``title`` + ``payload``)
and ``title`` (a canned reply's name). Texts use ICU MessageFormat's
arguments: ``{name}`` is replaced by a value, and ``{n, plural, ...}`` picks a
branch by the language's plural rules (Babel's CLDR data: Hebrew has ``one``,
``two`` and ``other``; ``=0`` matches an exact number), with ``#`` standing for
the number. So "1 attempts" cannot be written: a count has a plural form.
Literal braces are not supported; apostrophes are plain text.

In Hebrew, every ``{name}`` value is put in as a Unicode isolate (``core/bidi.py``):
a Latin name, a reference or an e-mail address keeps the line right to left on
every channel and in e-mails.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import yaml
from babel import Locale

from core.bidi import isolate
from core.errors import KesherError
from core.language import LANGUAGES, Language, as_language

__all__ = [
    "COUNT_ARGUMENTS", "SHARED_ARGUMENTS", "Button", "Message", "TextCatalog", "TextError", "format_text", "parse_text",
]

# Arguments the catalog fills itself from its own key of that name when the caller gives none: the shop's
# name is written once (data/texts/brand.yml) and every text says ``{brand}``.
SHARED_ARGUMENTS = ("brand",)
# Arguments that are counts: a text must use them through a plural form (make check-content checks).
COUNT_ARGUMENTS = frozenset({"count", "remaining", "minutes", "unread", "capacity", "attempts", "n", "days"})


class TextError(KesherError):
    """A text that is missing, malformed, or asks for a value it was not given."""


# -- the message format --------------------------------------------------------------------
@dataclass(frozen=True)
class _Arg:
    name: str


@dataclass(frozen=True)
class _Plural:
    name: str
    branches: Tuple[Tuple[str, Tuple[_Node, ...]], ...]


class _Pound:
    """``#`` inside a plural branch: the number."""


_Node = Union[str, _Arg, _Plural, _Pound]
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
_SELECTOR = re.compile(r"\s*(=\d+|zero|one|two|few|many|other)\s*")
_POUND = _Pound()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> TextError:
        return TextError(f"{why} at character {self.pos + 1} of {self.text!r}")

    def nodes(self, in_plural: bool) -> Tuple[_Node, ...]:
        out: List[_Node] = []
        chunk: List[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "}":
                if not in_plural:
                    raise self.fail("a '}' without its '{'")
                break
            if char == "{":
                if chunk:
                    out.append("".join(chunk))
                    chunk = []
                out.append(self.argument())
                continue
            if char == "#" and in_plural:
                if chunk:
                    out.append("".join(chunk))
                    chunk = []
                out.append(_POUND)
                self.pos += 1
                continue
            chunk.append(char)
            self.pos += 1
        if chunk:
            out.append("".join(chunk))
        return tuple(out)

    def argument(self) -> _Node:
        self.pos += 1  # the "{"
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("an argument needs a name")
        name = match.group(1)
        self.pos = match.end()
        if self.pos < len(self.text) and self.text[self.pos] == "}":
            self.pos += 1
            return _Arg(name)
        if not self.text.startswith(",", self.pos):
            raise self.fail(f"{{{name}...}} must be {{{name}}} or {{{name}, plural, ...}}")
        self.pos += 1
        kind = _NAME.match(self.text, self.pos)
        if not kind or kind.group(1) != "plural" or not self.text.startswith(",", kind.end()):
            raise self.fail(f"the only argument type is plural: {{{name}, plural, one {{...}} other {{...}}}}")
        self.pos = kind.end() + 1
        branches: List[Tuple[str, Tuple[_Node, ...]]] = []
        while True:
            selector = _SELECTOR.match(self.text, self.pos)
            if not selector:
                break
            self.pos = selector.end()
            if not self.text.startswith("{", self.pos):
                raise self.fail(f"plural branch {selector.group(1)!r} needs {{...}}")
            self.pos += 1
            branches.append((selector.group(1), self.nodes(in_plural=True)))
            if not self.text.startswith("}", self.pos):
                raise self.fail("a plural branch is not closed")
            self.pos += 1
        rest = self.text[self.pos:].lstrip()
        self.pos = len(self.text) - len(rest)
        if not rest.startswith("}"):
            raise self.fail("a plural argument is not closed")
        self.pos += 1
        if "other" not in dict(branches):
            raise self.fail(f"the plural of {name!r} needs an 'other' branch")
        return _Plural(name, tuple(branches))


@lru_cache(maxsize=4096)
def parse_text(text: str) -> Tuple[_Node, ...]:
    """Parses a text of the catalog (cached).

    Raises:
        TextError: Unbalanced braces, an argument without a name, a plural without ``other``.
    """
    parser = _Parser(text)
    nodes = parser.nodes(in_plural=False)
    return nodes


def arguments_of(text: str) -> Dict[str, str]:
    """The arguments a text uses: name → ``"plain"`` or ``"plural"`` (plural wins)."""
    found: Dict[str, str] = {}

    def walk(nodes: Sequence[_Node]) -> None:
        for node in nodes:
            if isinstance(node, _Arg):
                found.setdefault(node.name, "plain")
            elif isinstance(node, _Plural):
                found[node.name] = "plural"
                for _, branch in node.branches:
                    walk(branch)

    walk(parse_text(text))
    return found


@lru_cache(maxsize=8)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _number(value: Any) -> Union[int, float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return int(str(value))
        except ValueError as exc:
            raise TextError(f"a plural needs a number, not {value!r}") from exc
    return value


def _render(nodes: Sequence[_Node], language: str, values: Mapping[str, Any], number: Any = None) -> str:
    out: List[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Pound):
            out.append(str(number))
        elif isinstance(node, _Arg):
            if node.name not in values:
                raise TextError(f"no value for {{{node.name}}}")
            value = str(values[node.name])
            out.append(isolate(value) if language == "he" else value)
        else:
            if node.name not in values:
                raise TextError(f"no value for {{{node.name}}}")
            count = _number(values[node.name])
            branches = dict(node.branches)
            branch = branches.get(f"={count}")
            if branch is None:
                branch = branches.get(_locale(language).plural_form(count), branches["other"])
            out.append(_render(branch, language, values, count))
    return "".join(out)


def format_text(text: str, language: str, **values: Any) -> str:
    """Fills a catalog text's arguments, with the plural rules of ``language``.

    In Hebrew each ``{name}`` value is wrapped in a first-strong isolate (FSI … PDI).

    Raises:
        TextError: The text is malformed or a value is missing.
    """
    return _render(parse_text(text), language, values)


# -- the catalog -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Button:
    """A button of a message: what it says and what it sends back."""

    title: str
    payload: str


@dataclass(frozen=True)
class Message:
    """A rendered entry: its text, and its buttons or title where it has them."""

    text: str
    buttons: Tuple[Button, ...] = ()
    title: str = ""

    def dispatcher_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for rasa_sdk's ``CollectingDispatcher.utter_message``."""
        if not self.buttons:
            return {"text": self.text}
        return {"text": self.text, "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons]}


@dataclass(frozen=True)
class _Variation:
    text: str
    buttons: Tuple[Tuple[str, str], ...] = ()
    title: str = ""

    def texts(self) -> List[str]:
        return [self.text, *(t for t, _ in self.buttons), *([self.title] if self.title else [])]


@dataclass(frozen=True)
class Entry:
    """One key of the catalog: its variations per language, and where it is written.

    Attributes:
        key: The key.
        path: The file.
        line: The line of the key in the file.
        variations: Language → its variations (at least one each, when complete).
    """

    key: str
    path: Path
    line: int
    variations: Mapping[str, Tuple[_Variation, ...]] = field(default_factory=dict)


def _variation(raw: Any, where: str) -> _Variation:
    if isinstance(raw, str):
        return _Variation(raw)
    if isinstance(raw, Mapping) and isinstance(raw.get("text"), str):
        buttons: List[Tuple[str, str]] = []
        for button in raw.get("buttons") or []:
            if not isinstance(button, Mapping) or not isinstance(button.get("title"), str):
                raise TextError(f"{where}: a button needs a title and a payload")
            buttons.append((str(button["title"]), str(button.get("payload", ""))))
        return _Variation(str(raw["text"]), tuple(buttons), str(raw.get("title") or ""))
    raise TextError(f"{where}: a text, a list of texts, or a mapping with 'text'")


# libyaml's parser when it is there: the catalog is read on every page of the writers' tools.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_file(path: Path) -> List[Entry]:
    loader = _LOADER(path.read_text(encoding="utf-8"))
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    finally:
        loader.dispose()
    lines: Dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "texts" and isinstance(value, yaml.MappingNode):
                lines = {k.value: k.start_mark.line + 1 for k, _ in value.value}
    texts = data.get("texts") if isinstance(data, Mapping) else None
    if not isinstance(texts, Mapping):
        raise TextError(f"{path}: the file needs a 'texts:' mapping")
    entries: List[Entry] = []
    for key, by_language in texts.items():
        where = f"{path}:{lines.get(str(key), 1)}: {key}"
        if not isinstance(by_language, Mapping):
            raise TextError(f"{where}: needs one value per language ({', '.join(LANGUAGES)})")
        variations: Dict[str, Tuple[_Variation, ...]] = {}
        for language, raw in by_language.items():
            items = raw if isinstance(raw, list) else [raw]
            variations[str(language)] = tuple(_variation(item, f"{where} [{language}]") for item in items)
        entries.append(Entry(str(key), path, lines.get(str(key), 1), variations))
    return entries


class TextCatalog:
    """Every text, by key and language; built once per process from ``data/texts/``."""

    def __init__(self, entries: Iterable[Entry], rng: Optional[random.Random] = None,
                 default_language: Language = "en") -> None:
        """Keeps the entries.

        Args:
            entries: The catalog's entries (keys must be unique).
            rng: Picks among variations (tests fix it).
            default_language: Used for a language Kesher does not speak.

        Raises:
            TextError: A key is defined twice.
        """
        self._entries: Dict[str, Entry] = {}
        for entry in entries:
            if entry.key in self._entries:
                first = self._entries[entry.key]
                raise TextError(f"{entry.path}:{entry.line}: {entry.key!r} is already defined at "
                                f"{first.path}:{first.line}")
            self._entries[entry.key] = entry
        self._rng = rng or random.Random()
        self.default_language = default_language

    @classmethod
    def load(cls, directory: Path, rng: Optional[random.Random] = None,
             default_language: Language = "en") -> TextCatalog:
        """Reads every ``*.yml`` file of a folder (blocking; once per process).

        Raises:
            TextError: A file is malformed or a key is defined twice.
        """
        entries: List[Entry] = []
        for path in sorted(directory.glob("*.yml")):
            entries += _load_file(path)
        return cls(entries, rng, default_language)

    # -- reading -----------------------------------------------------------------------------------
    def keys(self, prefix: str = "") -> List[str]:
        """Every key (starting with ``prefix``), in the order of the files (sorted) and of each file."""
        return [k for k in self._entries if k.startswith(prefix)]

    def entry(self, key: str) -> Entry:
        """The entry of a key.

        Raises:
            TextError: No such key.
        """
        found = self._entries.get(key)
        if found is None:
            raise TextError(f"no text {key!r} in the catalog")
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def message(self, key: str, language: Optional[str], /, **values: Any) -> Message:
        """One entry in the customer's language, its arguments filled in.

        Args:
            key: The entry (positional, so ``{key}`` may be an argument).
            language: ``he`` or ``en``; anything else means the default language.
            **values: Values of the arguments.

        Raises:
            TextError: Unknown key, a language missing, or a value missing.
        """
        lang = as_language(language, self.default_language)
        variations = self.entry(key).variations.get(lang)
        if not variations:
            raise TextError(f"{key!r} has no {lang!r} text")
        values = {**self.shared_values(lang), **values}
        chosen = variations[0] if len(variations) == 1 else self._rng.choice(variations)
        try:
            return Message(
                text=format_text(chosen.text, lang, **values),
                buttons=tuple(Button(format_text(t, lang, **values), p) for t, p in chosen.buttons),
                title=format_text(chosen.title, lang, **values) if chosen.title else "",
            )
        except TextError as exc:
            raise TextError(f"{key!r} [{lang}]: {exc}") from exc

    def text(self, key: str, language: Optional[str], /, **values: Any) -> str:
        """The text of :meth:`message`."""
        return self.message(key, language, **values).text

    def shared_values(self, language: Optional[str]) -> Dict[str, str]:
        """The :data:`SHARED_ARGUMENTS` the catalog has, in ``language`` (``{"brand": "חנות קשר"}``)."""
        lang = as_language(language, self.default_language)
        out: Dict[str, str] = {}
        for name in SHARED_ARGUMENTS:
            variations = self._entries[name].variations.get(lang) if name in self._entries else None
            if variations:
                out[name] = variations[0].text
        return out

    def prefill(self, text: str, language: Optional[str]) -> str:
        """``text`` with the shared arguments filled in and every other argument left for later."""
        for name, value in self.shared_values(language).items():
            text = text.replace("{" + name + "}", value)
        return text

    def templates(self, prefix: str, language: Optional[str]) -> Dict[str, str]:
        """The texts of every key under ``prefix`` (the prefix dropped), for a web page's script.

        Only the shared arguments (``{brand}``) are filled in; the script fills the others.
        """
        lang = as_language(language, self.default_language)
        out: Dict[str, str] = {}
        for key in self.keys(prefix):
            variations = self._entries[key].variations.get(lang)
            if variations:
                out[key[len(prefix):]] = self.prefill(variations[0].text, lang)
        return out

    # -- checking ------------------------------------------------------------------------------------
    def problems(self) -> List[Tuple[Entry, str]]:
        """What is wrong with the catalog, each finding with its entry.

        A missing language, a malformed text, arguments that differ between the
        languages, a count used without a plural, buttons that differ.
        """
        found: List[Tuple[Entry, str]] = []
        for key in self.keys():
            entry = self._entries[key]
            for language in entry.variations:
                if language not in LANGUAGES:
                    found.append((entry, f"{key!r}: {language!r} is not a language Kesher speaks"))
            args: Dict[str, Set[str]] = {}
            for language in LANGUAGES:
                variations = entry.variations.get(language)
                if not variations:
                    found.append((entry, f"{key!r} has no {language!r} text"))
                    continue
                used: Set[str] = set()
                for variation in variations:
                    if not variation.text.strip():
                        found.append((entry, f"{key!r} has an empty {language!r} text"))
                    for text in variation.texts():
                        try:
                            kinds = arguments_of(text)
                        except TextError as exc:
                            found.append((entry, f"{key!r} [{language}]: {exc}"))
                            continue
                        used |= set(kinds)
                        for name, kind in kinds.items():
                            if name in COUNT_ARGUMENTS and kind != "plural":
                                found.append((entry, f"{key!r} [{language}]: {{{name}}} is a count; write it "
                                                     f"as {{{name}, plural, one {{...}} other {{# ...}}}}"))
                args[language] = used
            if len(args) == len(LANGUAGES) and len({frozenset(v) for v in args.values()}) > 1:
                detail = "; ".join(f"{lang}: {sorted(v) or 'none'}" for lang, v in args.items())
                found.append((entry, f"{key!r}: the languages use different arguments ({detail})"))
            buttons = {lang: [p for v in entry.variations.get(lang, ()) for _, p in v.buttons] for lang in LANGUAGES}
            if len({tuple(sorted(set(p))) for p in buttons.values()}) > 1:
                found.append((entry, f"{key!r}: the languages' buttons send different payloads"))
        return found
