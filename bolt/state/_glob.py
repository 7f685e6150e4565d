"""Redis-style glob patterns for KEYS: ``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\x``.

Everything else matches itself: a key containing regex metacharacters or
``fnmatch`` specials is never misread, and a backslash escapes the next
character (``KEYS user\\*`` finds the literal key ``user*``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


def glob_to_regex(pattern: str) -> str:
    """Translate a glob into an anchored regular expression."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = i
            if end < n and pattern[end] == "^":
                end += 1
            if end < n and pattern[end] == "]":
                end += 1
            while end < n and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            if end >= n:
                out.append(re.escape("["))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            parts: list[str] = []
            j = 0
            while j < len(body):
                c = body[j]
                if c == "\\" and j + 1 < len(body):
                    parts.append(re.escape(body[j + 1]))
                    j += 2
                elif j + 2 < len(body) and body[j + 1] == "-":
                    low, high = sorted((c, body[j + 2]))
                    parts.append(f"{re.escape(low)}-{re.escape(high)}")
                    j += 3
                else:
                    parts.append(re.escape(c))
                    j += 1
            out.append(("[^" if negate else "[") + "".join(parts) + "]")
        else:
            out.append(re.escape(char))
    return "".join(out) + r"\Z"


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A predicate that tells whether a key matches ``pattern``."""
    if pattern == "*":
        return lambda _key: True
    regex = re.compile(glob_to_regex(pattern), re.DOTALL)
    return lambda key: regex.match(key) is not None
