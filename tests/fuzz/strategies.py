"""What the fuzz tests send: malformed JSON, wrong types, deep nesting, huge strings, lone surrogates, odd headers."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple, Union

from hypothesis import strategies as st

# Every character, lone surrogates (category Cs) and controls included.
ANY_CHAR = st.characters(codec=None, categories=None)
odd_text = st.text(ANY_CHAR, max_size=40)
huge_text = st.sampled_from([10_001, 70_000, 300_000]).map(lambda n: "א" * n)
surrogate_text = st.sampled_from(["\ud800", "a\udfffb", "\udc80" * 3, "x\ud83d"])


def _leaf() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0, -1, 2**31, 2**63, 10**30, -(10**30)]),
        st.floats(allow_nan=True, allow_infinity=True),
        odd_text, surrogate_text,
    )


json_values: st.SearchStrategy[Any] = st.recursive(
    _leaf(),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(odd_text, surrogate_text), children, max_size=4)),
    max_leaves=12,
)


def deep(depth: int, kind: str) -> str:
    """JSON nested ``depth`` deep, as text (json.dumps itself would recurse too deep)."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


Body = Union[bytes, str]


def _paths(value: Any, prefix: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(value: Any, path: Tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, example: Any) -> Any:
    """A valid example with one part (a field, an item, the whole) replaced by something odd."""
    paths = _paths(example)
    path = draw(st.sampled_from(paths))
    new = draw(st.one_of(json_values, huge_text, surrogate_text, surrogate_text))
    out = _replaced(example, path, new)
    if isinstance(out, dict) and draw(st.booleans()):
        out = {**out, draw(odd_text): draw(json_values)}
    return out


def dumped(value: Any) -> str:
    """JSON text; lone surrogates become ``\\ud800`` escapes, NaN becomes ``NaN`` (not JSON either)."""
    return json.dumps(value, ensure_ascii=True)


def json_bodies(*examples: Any) -> st.SearchStrategy[Body]:
    """Bodies for a JSON route: mutated examples, arbitrary JSON, deep nesting, broken JSON, raw bytes."""
    return st.one_of(
        st.one_of(*[mutated(e) for e in examples]).map(dumped),
        json_values.map(dumped),
        st.tuples(st.sampled_from([100, 1_000, 5_000, 100_000]), st.sampled_from(["list", "dict"])).map(
            lambda d: deep(*d)),
        st.sampled_from(examples).map(dumped).flatmap(
            lambda text: st.integers(min_value=0, max_value=len(text) - 1).map(lambda n: text[:n])),
        st.binary(max_size=64),
        st.just(b"\xff\xfe{\"a\": 1}"),
        st.just(""),
    )


def form_params(example: Dict[str, str]) -> st.SearchStrategy[Dict[str, str]]:
    """Form fields: the example with values replaced, removed or added, any characters."""
    value = st.one_of(odd_text, surrogate_text, huge_text, st.sampled_from(["", "0", "-1", "99999999999", "abc"]))
    return st.fixed_dictionaries({}).flatmap(lambda _: st.builds(
        lambda drop, change, extra: {**{k: v for k, v in {**example, **change}.items() if k not in drop}, **extra},
        st.sets(st.sampled_from(sorted(example)), max_size=2),
        st.dictionaries(st.sampled_from(sorted(example)), value, max_size=3),
        st.dictionaries(odd_text, value, max_size=2),
    ))


HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)
content_types = st.sampled_from([
    "application/json", "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json; charset=\u00ff", "", "*/*",
])


@st.composite
def odd_headers(draw: st.DrawFn) -> Dict[str, str]:
    """A content type (right, wrong or odd) and a few odd headers a client may send."""
    headers = {"content-type": draw(content_types)}
    names = st.sampled_from(["origin", "x-forwarded-for", "accept-language", "cookie", "x-csrf-token",
                             "x-twilio-signature", "x-telegram-bot-api-secret-token", "user-agent", "accept"])
    headers.update(draw(st.dictionaries(names, HEADER_VALUE, max_size=3)))
    # HTTP clients refuse values with whitespace at either end; such a value is sent trimmed.
    return {k: v.strip(" \t") for k, v in headers.items() if v.strip(" \t") or k == "content-type"}


def encoded(body: Body) -> bytes:
    """The bytes sent: text as UTF-8 with lone surrogates passed through (invalid UTF-8, as an attacker may)."""
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


def raw_headers(headers: Dict[str, str]) -> Dict[bytes, bytes]:
    """Headers as bytes (Latin-1, as HTTP/1.1 carries them), so odd values go out as they are."""
    return {k.encode("latin-1"): v.encode("latin-1") for k, v in headers.items()}
