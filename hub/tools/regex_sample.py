"""Deterministic sampling of strings that match a Python regular expression.

Used by :mod:`hub.tools.samples` for XSD ``pattern`` facets: xmlschema translates the
XSD regex into a Python regex; this module parses that with the standard
library's regex parser and draws a matching string from it with a caller's
``random.Random``. It covers the constructs XSD patterns translate into
(literals, classes with ranges and negation, categories, alternation, groups,
bounded and unbounded repetition, anchors); look-arounds are ignored (the
caller re-checks candidates with the compiled pattern).
"""

from __future__ import annotations

import importlib
import random
import re
from functools import lru_cache
from typing import Any

# the standard library's regex parser and its op-code table (private modules,
# stable across 3.11-3.13; imported by name so type checkers need no stubs)
C: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

#: characters preferred when a class admits them: readable, never whitespace.
_PREFERRED = tuple("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
#: fallback alphabet for negated classes and categories.
_ALPHABET = tuple(
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0xC0, 0x180) if c not in (0xD7, 0xF7)]
)
_CATEGORY_TESTS: dict[Any, re.Pattern[str]] = {
    C.CATEGORY_DIGIT: re.compile(r"\d"),
    C.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    C.CATEGORY_SPACE: re.compile(r"\s"),
    C.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    C.CATEGORY_WORD: re.compile(r"\w"),
    C.CATEGORY_NOT_WORD: re.compile(r"\W"),
}


class _CharClass:
    """A character class (``[...]``, a category or ``.``) prepared for sampling."""

    __slots__ = ("preferred", "ranges", "safe", "total")

    def __init__(self, items: list[tuple[Any, Any]]) -> None:
        negate = False
        ranges: list[tuple[int, int]] = []
        categories: list[re.Pattern[str]] = []
        for op, av in items:
            if op is C.NEGATE:
                negate = True
            elif op is C.LITERAL:
                ranges.append((av, av))
            elif op is C.RANGE:
                ranges.append((av[0], av[1]))
            elif op is C.CATEGORY:
                categories.append(_CATEGORY_TESTS[av])
            else:  # pragma: no cover - other ops do not occur inside classes
                raise ValueError(f"unsupported class item {op}")

        def member(ch: str) -> bool:
            code = ord(ch)
            inside = any(lo <= code <= hi for lo, hi in ranges) or any(
                cat.match(ch) for cat in categories
            )
            return inside != negate

        if negate or categories:
            allowed = [ch for ch in _ALPHABET if member(ch)]
            self.ranges = [(ord(ch), ord(ch)) for ch in allowed]
        else:
            self.ranges = ranges
        self.total = sum(hi - lo + 1 for lo, hi in self.ranges)
        self.preferred = tuple(ch for ch in _PREFERRED if member(ch))
        # Latin-1 and Latin Extended-A: every validator's Unicode tables agree on
        # these, unlike on letters added in later Unicode versions (e.g. U+1E9E)
        self.safe = tuple(ch for ch in _ALPHABET if member(ch))

    def draw(self, rng: random.Random) -> str:
        if self.preferred and rng.random() < 0.85:
            return rng.choice(self.preferred)
        if self.safe:
            return rng.choice(self.safe)
        if not self.total:
            raise ValueError("empty character class")
        index = rng.randrange(self.total)
        for lo, hi in self.ranges:
            width = hi - lo + 1
            if index < width:
                return chr(lo + index)
            index -= width
        raise AssertionError("unreachable")  # pragma: no cover


_ANY = _CharClass([(C.RANGE, (0x20, 0x7E))])


def _prepare(parsed: Any) -> list[tuple[str, Any]]:
    """Turn the parser's tree into a compact program of tuples."""
    program: list[tuple[str, Any]] = []
    for op, av in parsed:
        if op is C.LITERAL:
            program.append(("lit", chr(av)))
        elif op is C.NOT_LITERAL:
            program.append(("class", _CharClass([(C.NEGATE, None), (C.LITERAL, av)])))
        elif op is C.ANY:
            program.append(("class", _ANY))
        elif op is C.IN:
            program.append(("class", _CharClass(list(av))))
        elif op is C.CATEGORY:
            program.append(("class", _CharClass([(C.CATEGORY, av)])))
        elif op is C.BRANCH:
            alternatives = [_prepare(alt) for alt in av[1]]
            # prefer a plain character class (e.g. DIN 91379: base letters over the
            # long list of letter + combining-mark sequences)
            classes = [(len(alt[0][1].preferred), alt[0][1].total, i)
                       for i, alt in enumerate(alternatives)
                       if len(alt) == 1 and alt[0][0] == "class"]
            plain = max(classes)[2] if classes else None
            # alternatives that start with a Latin-1/Latin Extended-A character: every
            # validator's Unicode tables agree on those (not so on e.g. U+1E9E)
            safe = [alt for alt in alternatives if alt and _starts_safe(alt[0])] or alternatives
            program.append(("branch", (alternatives, plain, safe)))
        elif op is C.SUBPATTERN:
            program.append(("group", _prepare(av[-1])))
        elif op is C.ATOMIC_GROUP:
            program.append(("group", _prepare(av)))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, high, sub = av
            program.append(("repeat", (low, None if high == C.MAXREPEAT else high, _prepare(sub))))
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # anchors and look-arounds produce no characters
        else:
            raise ValueError(f"unsupported regex construct {op}")
    return program


def _starts_safe(op: tuple[str, Any]) -> bool:
    kind, arg = op
    if kind == "lit":
        return bool(ord(arg) < 0x180)
    if kind == "class":
        return bool(arg.safe)
    return kind in ("group", "repeat", "branch")


@lru_cache(maxsize=2048)
def compile_sampler(pattern: str) -> list[tuple[str, Any]]:
    """The sampling program of a Python regex (cached by pattern text)."""
    return _prepare(sre_parse.parse(pattern))


def sample(program: list[tuple[str, Any]], rng: random.Random, size: int = 8) -> str:
    """One string produced by ``program``; ``size`` bounds unbounded repetitions."""
    out: list[str] = []
    _emit(program, rng, size, out)
    return "".join(out)


def _emit(program: list[tuple[str, Any]], rng: random.Random, size: int, out: list[str]) -> None:
    for kind, arg in program:
        if kind == "lit":
            out.append(arg)
        elif kind == "class":
            out.append(arg.draw(rng))
        elif kind == "group":
            _emit(arg, rng, size, out)
        elif kind == "branch":
            alternatives, plain, safe = arg
            if plain is not None and rng.random() < 0.8:
                _emit(alternatives[plain], rng, size, out)
            else:
                _emit(rng.choice(safe), rng, size, out)
        else:
            low, high, sub = arg
            upper = low + size if high is None else min(high, low + size)
            for _ in range(rng.randint(low, max(low, upper))):
                _emit(sub, rng, size, out)
