"""Request bodies are read the same way everywhere: a JSON object, or a 4xx that says what was expected."""

from __future__ import annotations

from typing import List

import pytest

from core.errors import InvalidInput, TooLarge
from edge import requests as requests_module
from edge.requests import json_depth, parse_json_object, text_field


def test_a_json_object_is_read() -> None:
    assert parse_json_object(b'{"sender": "a", "message": "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"}', "{sender}") == {
        "sender": "a", "message": "שלום"}


@pytest.mark.parametrize("raw, expected", [
    (b"{not json", InvalidInput),
    (b"[1, 2]", InvalidInput),
    (b'"text"', InvalidInput),
    (b"\xff\xfe", InvalidInput),
    (b"[" * 5000 + b"]" * 5000, InvalidInput),  # nested deeper than Python's parser goes
    (b'{"a": "' + b"x" * 300_000 + b'"}', TooLarge),
], ids=["not-json", "array", "string", "not-utf8", "nested-5000", "oversized"])
def test_malformed_or_oversized_bodies_are_refused_with_what_was_expected(raw: bytes, expected: type) -> None:
    with pytest.raises(expected) as info:
        parse_json_object(raw, '{"sender", "message"}')
    assert str(info.value)


def test_an_empty_body_is_an_empty_object_only_where_allowed() -> None:
    assert parse_json_object(b"  ", "x", allow_empty=True) == {}
    with pytest.raises(InvalidInput):
        parse_json_object(b"", "x")


def test_text_fields_are_stripped_required_and_bounded() -> None:
    body = {"text": "  hello  ", "number": 3, "blank": "  "}
    assert text_field(body, "text") == "hello"
    assert text_field(body, "blank", required=False, default="none") == "none"
    with pytest.raises(InvalidInput, match="'blank' is required"):
        text_field(body, "blank")
    with pytest.raises(InvalidInput, match="must be a string"):
        text_field(body, "number")
    with pytest.raises(TooLarge, match="at most 3"):
        text_field(body, "text", limit=3)


@pytest.mark.parametrize("raw, reason", [
    (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "deeper than 64"),
    (b'{"a": ' + b'{"b": ' * 100 + b"1" + b"}" * 100 + b"}", "deeper than 64"),
    (b'{"sender": "\\ud800"}', "not valid Unicode"),
    (b'{"message": "a \\udfff b"}', "not valid Unicode"),
], ids=["arrays-65", "objects-100", "lone-high-surrogate", "lone-low-surrogate"])
def test_too_deep_or_not_unicode_is_refused_before_any_handler(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_json_object(raw, "x")


def test_brackets_inside_strings_and_surrogate_pairs_are_fine() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert parse_json_object(b'{"text": "' + b"[" * 500 + b'", "emoji": "\\ud83d\\ude00"}', "x") == {
        "text": "[" * 500, "emoji": "\U0001f600"}


@pytest.mark.parametrize("raw, depth", [
    (b"{}", 1),
    (b'{"a": [1, {"b": [[]]}], "c": {"d": []}}', 5),
    (b'[[], [[]], [[[]]]]', 4),
    (b'{"x": "}}}]]]", "y": "\\"[[[", "z": [{}]}', 3),
    (b"[" * 40 + b"]" * 40, 40),
    (b"[[[[}", 4),  # not JSON: what is open at most, as the parser would see it before failing
    (b"]]][[", 0),  # closing first: the parser fails at once
    (b"", 0),
], ids=["empty-object", "mixed", "siblings", "brackets-in-strings", "forty", "unbalanced", "closing-first",
        "nothing"])
def test_depth_is_the_deepest_nesting(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth
    assert json_depth(raw, limit=2) == min(depth, 3)  # stops counting past the limit


def test_a_deep_narrow_body_is_counted_in_one_pass_and_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    passes: List[int] = []
    innermost = requests_module._INNERMOST

    class Counting:
        def sub(self, repl: bytes, text: bytes) -> bytes:
            passes.append(len(text))
            return innermost.sub(repl, text)

    monkeypatch.setattr(requests_module, "_INNERMOST", Counting())
    deep = b"[" * 100_000 + b"]" * 100_000
    assert json_depth(deep) == 100_000 and len(passes) == 1  # one pair peeled of 100,000: counted one by one
    with pytest.raises(InvalidInput, match="deeper than 64"):
        parse_json_object(b'{"a": ' + deep + b"}", "x", max_bytes=1_000_000)
    passes.clear()
    wide = b'{"a": [' + b"[[1], {}]," * 5000 + b"[]]}"  # a tracker's shape: every pass peels a lot
    assert json_depth(wide) == 4 and len(passes) == 4


def test_a_string_left_open_runs_to_the_end() -> None:
    # Otherwise every quote after it would start a scan to the end: quadratic in the body's size.
    assert requests_module._JSON_STRING.fullmatch(b'"abc \\" [[[') is not None
    assert requests_module._JSON_STRING.fullmatch(b'"ends in a backslash \\') is not None
    assert json_depth(b'{"a": [1], "b": "[[[[' + b'\\"' * 1000) == 2
    with pytest.raises(InvalidInput, match="must be JSON"):
        parse_json_object(b'{"a": "' + b'\\"' * 50_000, "x")


@pytest.mark.parametrize("raw", [
    b'{"text": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8 bytes: json.loads reads it with surrogatepass
    '{"text": "\ud800"}'.encode("utf-16", "surrogatepass"),  # UTF-16, which json.loads detects
], ids=["utf8-encoded-surrogate", "utf16"])
def test_a_lone_surrogate_without_an_escape_is_refused_too(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_json_object(raw, "x")
