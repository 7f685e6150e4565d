"""KEYS globs: ``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\x``; everything else literal.

``compile_glob`` is checked against a small reference matcher written from
the rules in ``bolt/state/_glob.py`` on random well-formed patterns, plus
hand-picked cases: regex metacharacters in keys are never special, a
backslash escapes the next character, an unterminated ``[`` is literal.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.state import compile_glob, glob_to_regex


def reference_match(pattern: str, text: str) -> bool:
    """A straightforward backtracking matcher for well-formed patterns."""

    def parse_class(pi: int) -> tuple[int, bool, list[tuple[str, str]]]:
        pi += 1  # past "["
        negate = pi < len(pattern) and pattern[pi] == "^"
        if negate:
            pi += 1
        items: list[tuple[str, str]] = []
        while pattern[pi] != "]":
            char = pattern[pi]
            if char == "\\":
                items.append((pattern[pi + 1], pattern[pi + 1]))
                pi += 2
            elif pi + 2 < len(pattern) and pattern[pi + 1] == "-" and pattern[pi + 2] != "]":
                low, high = sorted((char, pattern[pi + 2]))
                items.append((low, high))
                pi += 3
            else:
                items.append((char, char))
                pi += 1
        return pi + 1, negate, items

    def match(pi: int, si: int) -> bool:
        while pi < len(pattern):
            char = pattern[pi]
            if char == "*":
                return any(match(pi + 1, k) for k in range(si, len(text) + 1))
            if si >= len(text):
                return False
            if char == "?":
                pi, si = pi + 1, si + 1
                continue
            if char == "[":
                pi, negate, items = parse_class(pi)
                inside = any(low <= text[si] <= high for low, high in items)
                if inside == negate:
                    return False
                si += 1
                continue
            if char == "\\":
                pi += 1
                char = pattern[pi]
            if text[si] != char:
                return False
            pi, si = pi + 1, si + 1
        return si == len(text)

    return match(0, 0)


ALPHABET = "ab.+(*?[]\\^-$|{"
literal = st.sampled_from("ab.+($|{^-")
escaped = st.sampled_from("*?[]\\a.").map(lambda c: "\\" + c)
class_item = st.one_of(
    st.sampled_from("ab.+*?(").map(str),
    st.sampled_from(["a-b", "b-a", ".-b", "\\]", "\\-"]),
)
klass = st.builds(
    lambda negate, items: "[" + ("^" if negate else "") + "".join(items) + "]",
    st.booleans(),
    st.lists(class_item, min_size=1, max_size=3),
)
token = st.one_of(literal, escaped, st.just("*"), st.just("?"), klass)
patterns = st.lists(token, max_size=6).map("".join)
texts = st.text(alphabet=ALPHABET, max_size=8)


@settings(max_examples=400, deadline=None)
@given(patterns, texts)
def test_matches_the_reference(pattern: str, text: str) -> None:
    assert compile_glob(pattern)(text) == reference_match(pattern, text), (pattern, text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=10))
def test_an_escaped_text_matches_only_itself(key: str) -> None:
    pattern = "".join("\\" + c for c in key)
    matches = compile_glob(pattern)
    assert matches(key)
    assert not matches(key + "x")
    # A pattern without specials matches exactly itself.
    plain = "".join(c for c in key if c not in "*?[\\")
    assert compile_glob(plain)(plain)


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("a.b", "axb", False),
        ("a.b", "a.b", True),
        ("a+b", "aab", False),
        ("(x)", "(x)", True),
        ("x|y", "x", False),
        ("$", "$", True),
        ("^a", "^a", True),
        ("a{2}", "aa", False),
        ("[", "[", True),
        ("a[", "a[", True),
        ("a[b", "a[b", True),
        ("[^]a]", "b", True),
        ("[^]a]", "]", False),
        ("[]a]", "]", True),
        ("*", "", True),
        ("?", "", False),
        ("*", "line\nbreak", True),
        ("a*", "a\n", True),
        ("?", "\n", True),
        ("a\\", "a\\", True),
        ("[c-a]", "b", True),
        ("\\", "\\", True),
    ],
)
def test_edge_cases(pattern: str, key: str, expected: bool) -> None:
    assert compile_glob(pattern)(key) is expected


def test_regex_is_anchored_and_valid() -> None:
    for pattern in ["a", "*", "[a-c]x", "\\*", "(", "[^a]"]:
        regex = glob_to_regex(pattern)
        assert regex.endswith(r"\Z")
        re.compile(regex)
    assert not compile_glob("ab")("abc")
    assert not compile_glob("ab")("xab")
