"""libxml2's XSD messages rewritten for people, without any value from the document.

libxml2 quotes the offending value in most of its validation messages ("The value
'Müller😀' is not accepted by the pattern '…1,500 characters…'"). Reports end up
in dead-letter headers, logs and HTTP answers, which must not carry personal data,
so :func:`explain` rewrites every form it knows into a sentence that names only
schema things (element, attribute, facet, type, bound, expected elements) and
falls back, for any form it does not know, to a generic sentence naming the
element, the attribute and the XSD rule (libxml2's error type, e.g.
``cvc-complex-type.3.2.1``) — never the raw text.

:class:`Explainer` does the same with the parsed document and its bytes at hand
(:func:`hub.core.validation.validate_root`): it finds the element a message is about,
gives the column of its start tag, and for a pattern failure names the first
character the pattern does not allow (as ``U+1F600``, with its line and column)
and the character set the field allows ("DIN 91379 Datentyp C (…)" for the
known XÖV Latin types, otherwise "the field's pattern"). Naming a character's
code point is not quoting the value.

Every step is bounded: one pass over the tree for the lines that have problems,
one scan of each problem's line, and the pattern analysis only for patterns the
schema package itself declares (never a string taken from the document) and for
values of at most :data:`MAX_ANALYSED_CHARS` characters, at most
:data:`MAX_REPORT_CHARS` per report.
"""

from __future__ import annotations

import bisect
import importlib
import re
import threading
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

if TYPE_CHECKING:
    from hub.core.schemas import SchemaPackage

__all__ = [
    "MAX_ANALYSED_CHARS",
    "MAX_REPORT_CHARS",
    "Explainer",
    "Offence",
    "Rewrite",
    "charset_label",
    "codepoint",
    "explain",
    "first_offence",
    "package_patterns",
    "rewrite",
]

#: values longer than this are not searched for the offending character
MAX_ANALYSED_CHARS = 4_000
#: at most this many value characters are analysed per report (all its problems)
MAX_REPORT_CHARS = 20_000
#: at most this many XSD files are read to find a package's patterns
_MAX_XSD_FILES = 2_000

_XS = "http://www.w3.org/2001/XMLSchema"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_CLARK = re.compile(r"\{[^}]*\}")
_PREFIX = re.compile(
    r"^Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: (?P<rest>.*)$",
    re.DOTALL,
)

# --- the character sets of the known XÖV Latin types -----------------------------

_DIN_91379 = {
    "A": "names of natural persons",
    "B": "other names, e.g. places and streets",
    "C": "all normative Latin characters",
    "D": "names of legal entities, with non-normative characters",
    "E": "all characters, with non-normative ones",
}
_HUB_BASIS = "http://xoev-hub.de/schemata/basis/1"


def charset_label(namespace: str | None, type_name: str | None) -> str | None:
    """A short name of the character set of a known XÖV Latin type, else None.

    DIN 91379 (2022-08, successor of DIN SPEC 91379) ``datatypeA``…``datatypeE``,
    XÖV ``String.Latin`` (latinchars), and the bundled packages' simplified
    ``Name``/``Text`` types.
    """
    namespace = namespace or ""
    if not type_name:
        return None
    if "91379" in namespace:
        match = re.fullmatch(r"datatype([A-E])", type_name)
        if match:
            kind = match.group(1)
            return f"DIN 91379 Datentyp {kind} ({_DIN_91379[kind]})"
    if "latinchars" in namespace and type_name.startswith("String.Latin"):
        return f"XÖV {type_name} (Latin characters, DIN SPEC 91379)"
    if namespace == _HUB_BASIS and type_name == "Name":
        return "DIN 91379 Datentyp A, simplified (Latin letters for names)"
    if namespace == _HUB_BASIS and type_name == "Text":
        return "DIN 91379 Datentyp C, simplified (Latin characters)"
    return None


@dataclass(frozen=True)
class _PatternInfo:
    type_name: str | None
    label: str | None


_PACKAGE_PATTERNS: weakref.WeakKeyDictionary[Any, Mapping[str, _PatternInfo]] = (
    weakref.WeakKeyDictionary()
)
_PACKAGE_LOCK = threading.Lock()


def package_patterns(package: SchemaPackage) -> Mapping[str, _PatternInfo]:
    """Every ``xs:pattern`` value the package's XSDs declare → its type (cached)."""
    with _PACKAGE_LOCK:
        known = _PACKAGE_PATTERNS.get(package)
        if known is None:
            known = _scan_patterns(package)
            _PACKAGE_PATTERNS[package] = known
        return known


def _scan_patterns(package: SchemaPackage) -> Mapping[str, _PatternInfo]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    base = Path(package.base)
    try:
        todo = list(package.entry_files())
    except Exception:  # a broken package is reported by compiling it, not here
        return {}
    seen: set[Path] = set()
    found: dict[str, _PatternInfo] = {}
    while todo and len(seen) < _MAX_XSD_FILES:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        try:
            root = etree.parse(str(file), parser).getroot()
        except (OSError, etree.XMLSyntaxError):
            continue
        namespace = root.get("targetNamespace")
        for pattern in root.iter(f"{{{_XS}}}pattern"):
            value = pattern.get("value")
            if value is None or value in found:
                continue
            owner = next(pattern.iterancestors(f"{{{_XS}}}simpleType"), None)
            name = owner.get("name") if owner is not None else None
            found[value] = _PatternInfo(name, charset_label(namespace, name))
        for ref in root.iter(f"{{{_XS}}}include", f"{{{_XS}}}import", f"{{{_XS}}}redefine",
                             f"{{{_XS}}}override"):
            location = ref.get("schemaLocation")
            if not location:
                continue
            target: Path | None
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", location):
                try:
                    target = package.catalog_path(location)
                except Exception:
                    target = None
            else:
                target = (file.parent / location).resolve()
            if target is not None and target.is_relative_to(base) and target.is_file():
                todo.append(target)
    return found


# --- finding the first character a pattern does not allow -------------------------

_sre: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")
_CATEGORIES: dict[Any, re.Pattern[str]] = {
    _C.CATEGORY_DIGIT: re.compile(r"\d"),
    _C.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    _C.CATEGORY_SPACE: re.compile(r"\s"),
    _C.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    _C.CATEGORY_WORD: re.compile(r"\w"),
    _C.CATEGORY_NOT_WORD: re.compile(r"\W"),
}


#: an automaton larger than this is not built (the analysis is skipped)
_MAX_STATES = 20_000


class _TooLarge(Exception):
    pass


class _Automaton:
    """A Thompson NFA of a parsed Python regex, run as a lazily built DFA.

    It tells after how many characters a value can no longer become a match:
    that character is the first one the pattern does not allow there.
    """

    def __init__(self, parsed: Any) -> None:
        self.tests: list[Callable[[str], bool] | None] = []
        self.outs: list[list[int]] = []
        self.final = self._state(None)
        self.start = self._sequence(list(parsed), self.final)
        self._closures: dict[int, frozenset[int]] = {}
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def _state(self, test: Callable[[str], bool] | None, outs: list[int] | None = None) -> int:
        if len(self.tests) >= _MAX_STATES:
            raise _TooLarge
        self.tests.append(test)
        self.outs.append(outs or [])
        return len(self.tests) - 1

    def _sequence(self, items: list[tuple[Any, Any]], following: int) -> int:
        for op, av in reversed(items):
            following = self._one(op, av, following)
        return following

    def _one(self, op: Any, av: Any, following: int) -> int:
        if op is _C.LITERAL:
            return self._state(_class_test([(_C.LITERAL, av)]), [following])
        if op is _C.NOT_LITERAL:
            return self._state(_class_test([(_C.NEGATE, None), (_C.LITERAL, av)]), [following])
        if op is _C.ANY:
            return self._state(lambda ch: ch != "\n", [following])
        if op is _C.IN:
            return self._state(_class_test(list(av)), [following])
        if op is _C.CATEGORY:
            return self._state(_class_test([(_C.CATEGORY, av)]), [following])
        if op is _C.BRANCH:
            return self._state(None, [self._sequence(list(alt), following) for alt in av[1]])
        if op is _C.SUBPATTERN:
            return self._sequence(list(av[-1]), following)
        if op is _C.ATOMIC_GROUP:
            return self._sequence(list(av), following)
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            low, high, sub = av
            sub = list(sub)
            if high == _C.MAXREPEAT:
                loop = self._state(None)
                self.outs[loop] = [self._sequence(sub, loop), following]
                current = loop
            else:
                current = following
                for _ in range(high - low):
                    option = self._state(None)
                    self.outs[option] = [self._sequence(sub, current), following]
                    current = option
            for _ in range(low):
                current = self._sequence(sub, current)
            return current
        if op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            return following
        raise _TooLarge  # back references and the like do not occur in XSD patterns

    def _closure(self, state: int) -> frozenset[int]:
        known = self._closures.get(state)
        if known is not None:
            return known
        found: set[int] = set()
        stack, seen = [state], {state}
        while stack:
            current = stack.pop()
            if self.tests[current] is not None or current == self.final:
                found.add(current)
                continue
            for target in self.outs[current]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        result = frozenset(found)
        self._closures[state] = result
        return result

    def dead_at(self, text: str) -> int | None:
        """The index of the first character after which no match is possible;
        ``len(text)`` when the text is a viable but incomplete prefix; None when
        the text matches."""
        current = self._closure(self.start)
        for index, ch in enumerate(text):
            key = (current, ch)
            following = self._steps.get(key)
            if following is None:
                reached: set[int] = set()
                for state in current:
                    test = self.tests[state]
                    if test is not None and test(ch):
                        reached.update(self._closure(self.outs[state][0]))
                following = frozenset(reached)
                if len(self._steps) > 20_000:
                    self._steps.clear()
                self._steps[key] = following
            if not following:
                return index
            current = following
        return None if self.final in current else len(text)


@dataclass(frozen=True)
class _Compiled:
    full: re.Pattern[str]
    automaton: _Automaton | None
    #: True when the character occurs anywhere in the pattern
    member: Callable[[str], bool]


def _class_test(items: list[tuple[Any, Any]]) -> Callable[[str], bool]:
    negate = False
    ranges: list[tuple[int, int]] = []
    categories: list[re.Pattern[str]] = []
    for op, av in items:
        if op is _C.NEGATE:
            negate = True
        elif op is _C.LITERAL:
            ranges.append((av, av))
        elif op is _C.RANGE:
            ranges.append((av[0], av[1]))
        elif op is _C.CATEGORY:
            categories.append(_CATEGORIES[av])
        else:  # unknown class item: accept everything rather than blame a character
            return lambda ch: True
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    starts = [lo for lo, _ in merged]

    def test(ch: str) -> bool:
        code = ord(ch)
        index = bisect.bisect_right(starts, code) - 1
        inside = index >= 0 and code <= merged[index][1]
        if not inside:
            inside = any(cat.match(ch) for cat in categories)
        return inside != negate

    return test


def _alphabet(parsed: Any) -> list[Callable[[str], bool]]:
    """A test per character-producing atom of a parsed Python regex."""
    tests: list[Callable[[str], bool]] = []
    for op, av in parsed:
        if op is _C.LITERAL:
            tests.append(_class_test([(_C.LITERAL, av)]))
        elif op is _C.NOT_LITERAL:
            tests.append(_class_test([(_C.NEGATE, None), (_C.LITERAL, av)]))
        elif op is _C.ANY:
            tests.append(lambda ch: ch != "\n")
        elif op is _C.IN:
            tests.append(_class_test(list(av)))
        elif op is _C.CATEGORY:
            tests.append(_class_test([(_C.CATEGORY, av)]))
        elif op is _C.BRANCH:
            for alternative in av[1]:
                tests.extend(_alphabet(alternative))
        elif op is _C.SUBPATTERN:
            tests.extend(_alphabet(av[-1]))
        elif op is _C.ATOMIC_GROUP:
            tests.extend(_alphabet(av))
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            if av[1] != 0:
                tests.extend(_alphabet(av[2]))
        elif op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            continue
        else:  # anything else (back references do not occur in XSD): no blame
            tests.append(lambda ch: True)
    return tests


@lru_cache(maxsize=512)
def _compile(xsd_pattern: str) -> _Compiled | None:
    """The XSD pattern as Python regexes (whole value, greedy prefix) and its alphabet."""
    from elementpath.regex import translate_pattern

    try:
        python = translate_pattern(
            xsd_pattern, back_references=False, lazy_quantifiers=False, anchors=False
        )
        full = re.compile(python)
        parsed = _sre.parse(python)
    except (re.error, ValueError, TypeError, RecursionError, OverflowError):
        return None
    tests = _alphabet(parsed)
    try:
        automaton: _Automaton | None = _Automaton(parsed)
    except (_TooLarge, RecursionError):
        automaton = None
    known: dict[str, bool] = {}

    def member(ch: str) -> bool:
        verdict = known.get(ch)
        if verdict is None:
            verdict = any(test(ch) for test in tests)
            if len(known) < 4096:
                known[ch] = verdict
        return verdict

    return _Compiled(full, automaton, member)


@dataclass(frozen=True)
class Offence:
    """The first character of a value that its pattern rejects."""

    index: int
    char: str
    #: ``charset``: the character occurs nowhere in the pattern; ``position``: it
    #: is allowed, but not at this position; ``end``: the value stops too early
    #: (``index`` is its length, ``char`` empty)
    kind: str


def _collapse(value: str) -> tuple[str, list[int]]:
    """XSD whiteSpace=collapse, and for each result character its index in ``value``."""
    out: list[str] = []
    where: list[int] = []
    pending: int | None = None
    for index, ch in enumerate(value):
        if ch in " \t\n\r":
            if out and pending is None:
                pending = index
            continue
        if pending is not None:
            out.append(" ")
            where.append(pending)
            pending = None
        out.append(ch)
        where.append(index)
    return "".join(out), where


def first_offence(xsd_pattern: str, value: str) -> Offence | None:
    """The first character of ``value`` that ``xsd_pattern`` does not allow, or None.

    Tries the value as written and whitespace-collapsed (as libxml2 sees a
    token-like type); ``index`` refers to ``value`` as written. None when the
    pattern cannot be translated, or the value is longer than
    :data:`MAX_ANALYSED_CHARS`.
    """
    if len(value) > MAX_ANALYSED_CHARS:
        return None
    compiled = _compile(xsd_pattern)
    if compiled is None:
        return None
    collapsed, where = _collapse(value)
    candidates: list[tuple[str, list[int] | None]] = []
    if compiled.full.match(value) is None:
        candidates.append((value, None))
    if collapsed != value and compiled.full.match(collapsed) is None:
        candidates.insert(0, (collapsed, where))
    for text, mapping in candidates:
        for index, ch in enumerate(text):
            if not compiled.member(ch):
                return Offence(mapping[index] if mapping else index, ch, "charset")
        if compiled.automaton is not None:
            dead = compiled.automaton.dead_at(text)
            if dead is not None and dead < len(text):
                return Offence(mapping[dead] if mapping else dead, text[dead], "position")
            if dead is not None:
                return Offence(len(value), "", "end")
    return None


def codepoint(ch: str) -> str:
    """``U+1F600 (GRINNING FACE)``: a character named without quoting it."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


# --- the rewrite rules -------------------------------------------------------------

_BUILTIN_HINTS = {
    "xs:date": "a date (YYYY-MM-DD)",
    "xs:dateTime": "a date and time (YYYY-MM-DDThh:mm:ss, optional time zone)",
    "xs:time": "a time (hh:mm:ss)",
    "xs:gYear": "a year (YYYY)",
    "xs:gYearMonth": "a year and month (YYYY-MM)",
    "xs:boolean": "a boolean (true, false, 1 or 0)",
    "xs:integer": "an integer",
    "xs:int": "an integer",
    "xs:long": "an integer",
    "xs:short": "an integer",
    "xs:nonNegativeInteger": "a non-negative integer",
    "xs:positiveInteger": "a positive integer",
    "xs:decimal": "a decimal number",
    "xs:double": "a floating-point number",
    "xs:float": "a floating-point number",
    "xs:anyURI": "a URI",
    "xs:base64Binary": "base64 data",
    "xs:hexBinary": "hexadecimal data",
    "xs:ID": "an XML ID that is unique in the document",
    "xs:IDREF": "an XML ID reference",
    "xs:QName": "a qualified name with a declared prefix",
    "xs:NCName": "a name without colon",
    "xs:token": "a token",
    "xs:language": "a language tag",
    "xs:duration": "a duration (e.g. P1Y2M)",
}

_LENGTH_WORDS = {
    "differs from": "exactly",
    "exceeds": "at most",
    "underruns": "at least",
}


@dataclass(frozen=True)
class Rewrite:
    """A readable message and what it is about (names only, never values)."""

    message: str
    element: str | None = None
    attribute: str | None = None
    #: ``pattern``: the caller may name the offending character
    kind: str = ""
    #: the XSD pattern of a pattern failure, as libxml2 quoted it (for lookup only)
    pattern: str | None = None


def _subject(element: str, attribute: str | None) -> str:
    if attribute:
        return f"attribute '{attribute}' of element '{element}'"
    return f"'{element}'"


def _short_list(text: str, limit: int = 8) -> str:
    items = [item.strip() for item in text.split(",") if item.strip()]
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _rule_name(type_name: str | None) -> str:
    """libxml2's error type as the XSD rule: SCHEMAV_CVC_COMPLEX_TYPE_3_2_1 ->
    cvc-complex-type.3.2.1."""
    if not type_name:
        return "an XSD rule"
    name = type_name.removeprefix("SCHEMAV_").removeprefix("SCHEMAS_")
    parts = name.lower().split("_")
    words = [p for p in parts if not p.isdigit()]
    numbers = [p for p in parts if p.isdigit()]
    rule = "-".join(words) + ("." + ".".join(numbers) if numbers else "")
    return f"XSD rule {rule}"


def _type_text(kind: str | None, scope: str | None, type_name: str | None) -> str:
    if type_name:
        readable = _BUILTIN_HINTS.get(type_name)
        return f"{readable} (type '{type_name}')" if readable else f"a valid '{type_name}'"
    shape = {"list": "list", "union": "union"}.get(kind or "", "")
    return f"a valid value of its {'own ' if scope else ''}{shape + ' ' if shape else ''}type"


def _value_rules() -> list[tuple[re.Pattern[str], Callable[[re.Match[str], str, str], str]]]:
    """Rules for the text after "Element 'x'[, attribute 'y']: " (``rest``)."""

    def rx(text: str) -> re.Pattern[str]:
        return re.compile(text, re.DOTALL)

    return [
        (rx(r"^\[facet 'enumeration'\] "),
         lambda m, subj, el: f"the value of {subj} is not one of the values allowed by its "
                             "code list/type"),
        (rx(r"^\[facet '(length|minLength|maxLength)'\] .*?has a length of '(\d+)'; this "
            r"(differs from|exceeds|underruns) the allowed (?:maximum |minimum )?length of "
            r"'(\d+)'\.?$"),
         lambda m, subj, el: f"the value of {subj} has length {m.group(2)}; "
                             f"{_LENGTH_WORDS[m.group(3)]} {m.group(4)} allowed "
                             f"(facet {m.group(1)})"),
        (rx(r"^\[facet 'minInclusive'\] .*'([^']*)'\)\.?$"),
         lambda m, subj, el: f"the value of {subj} is below the minimum {m.group(1)} "
                             "(facet minInclusive)"),
        (rx(r"^\[facet 'maxInclusive'\] .*'([^']*)'\)\.?$"),
         lambda m, subj, el: f"the value of {subj} is above the maximum {m.group(1)} "
                             "(facet maxInclusive)"),
        (rx(r"^\[facet 'minExclusive'\] .*'([^']*)'\.?$"),
         lambda m, subj, el: f"the value of {subj} must be greater than {m.group(1)} "
                             "(facet minExclusive)"),
        (rx(r"^\[facet 'maxExclusive'\] .*'([^']*)'\.?$"),
         lambda m, subj, el: f"the value of {subj} must be less than {m.group(1)} "
                             "(facet maxExclusive)"),
        (rx(r"^\[facet 'totalDigits'\] .*'([^']*)'\)\.?$"),
         lambda m, subj, el: f"the value of {subj} has more than {m.group(1)} digits "
                             "(facet totalDigits)"),
        (rx(r"^\[facet 'fractionDigits'\] .*'([^']*)'\)\.?$"),
         lambda m, subj, el: f"the value of {subj} has more than {m.group(1)} decimal places "
                             "(facet fractionDigits)"),
        (rx(r"^\[facet '(\w+)'\] "),
         lambda m, subj, el: f"the value of {subj} violates the facet '{m.group(1)}' of its "
                             "type"),
        (rx(r"^'.*' is not a valid value of (?:the )?(local )?(?:(atomic|list|union) )?type"
            r"(?: '([^']+)')?\.?$"),
         lambda m, subj, el: f"the value of {subj} is not "
                             f"{_type_text(m.group(2), m.group(1), m.group(3))}"),
        (rx(r"^The attribute '([^']+)' is not allowed\.?$"),
         lambda m, subj, el: f"attribute '{m.group(1)}' is not allowed on element '{el}'"),
        (rx(r"^The attribute '([^']+)' is required but missing\.?$"),
         lambda m, subj, el: f"element '{el}' lacks the required attribute '{m.group(1)}'"),
        (rx(r"^The (?:value|initial value|actual value) '.*' does not match the fixed value "
            r"constraint '(.*)'\.?$"),
         lambda m, subj, el: f"{subj} must have the fixed value '{m.group(1)}'"),
        (rx(r"^No matching global declaration available for the validation root\.?$"),
         lambda m, subj, el: f"the root element '{el}' is not declared by the schema package"),
        (rx(r"^No matching global element declaration available, but demanded by the "
            r"strict wildcard\.?$"),
         lambda m, subj, el: f"element '{el}' is not declared by the schema package, but "
                             "the wildcard at this position accepts only declared elements"),
        (rx(r"^This element is not expected\. Expected is (?:one of )?\( (.*) \)\.?$"),
         lambda m, subj, el: f"element '{el}' is not allowed here; expected instead: "
                             f"{_short_list(m.group(1))}"),
        (rx(r"^This element is not expected\.?$"),
         lambda m, subj, el: f"element '{el}' is not allowed here (no further element is "
                             "allowed at this position)"),
        (rx(r"^Missing child element\(s\)\. Expected is (?:one of )?\( (.*) \)\.?$"),
         lambda m, subj, el: f"element '{el}' is incomplete: a required child element is "
                             f"missing; expected: {_short_list(m.group(1))}"),
        (rx(r"^Character content other than whitespace is not allowed because the content "
            r"type is '([^']+)'\.?$"),
         lambda m, subj, el: f"element '{el}' may contain only child elements, no text "
                             f"(content type {m.group(1)})"),
        (rx(r"^Element content is not allowed, because the type definition is simple\.?$"),
         lambda m, subj, el: f"element '{el}' holds a simple value and may not contain child "
                             "elements"),
        (rx(r"^(?:Element|Character) content is not allowed, because the content type is "
            r"empty\.?$"),
         lambda m, subj, el: f"element '{el}' must be empty"),
        (rx(r"^(?:Element|Character) content is not allowed, because the element was "
            r"'nilled'\.?$"),
         lambda m, subj, el: f"element '{el}' is nil (xsi:nil) and must be empty"),
        (rx(r"^The element is not 'nillable'\.?$"),
         lambda m, subj, el: f"element '{el}' may not be nil (xsi:nil)"),
        (rx(r"^The element cannot be 'nilled' because there is a fixed value constraint"),
         lambda m, subj, el: f"element '{el}' has a fixed value and may not be nil (xsi:nil)"),
        (rx(r"^The QName value '.*' has no corresponding namespace declaration in scope\.?$"),
         lambda m, subj, el: f"the value of {subj} is a qualified name whose prefix is not "
                             "declared"),
        (rx(r"^The QName value '.*' of the xsi:type attribute does not resolve to a type "
            r"definition\.?$"),
         lambda m, subj, el: f"the xsi:type of element '{el}' names a type the schema package "
                             "does not declare"),
        (rx(r"^The type definition '.*', specified by xsi:type, is blocked or not validly "
            r"derived from the type definition of the element declaration\.?$"),
         lambda m, subj, el: f"the xsi:type of element '{el}' names a type that may not "
                             "replace its declared type"),
        (rx(r"^The type definition is abstract\.?$"),
         lambda m, subj, el: f"element '{el}' has an abstract type: name a concrete type "
                             "with xsi:type"),
        (rx(r"^The element declaration is abstract\.?$"),
         lambda m, subj, el: f"element '{el}' is abstract: use one of its substitutes"),
        (rx(r"^Duplicate key-sequence \[.*\] in (unique|key) identity-constraint "
            r"'([^']+)'\.?$"),
         lambda m, subj, el: f"element '{el}' repeats the values of {m.group(1)} constraint "
                             f"'{m.group(2)}', which must be unique"),
        (rx(r"^No match found for key-sequence \[.*\] of keyref '([^']+)'\.?$"),
         lambda m, subj, el: f"element '{el}' refers (keyref '{m.group(1)}') to a key that "
                             "does not exist in the document"),
        (rx(r"^Not all fields of (key|unique|keyref) identity-constraint '([^']+)' evaluate to "
            r"a node\.?$"),
         lambda m, subj, el: f"element '{el}' lacks a field of {m.group(1)} constraint "
                             f"'{m.group(2)}'"),
    ]


_RULES = _value_rules()
_PATTERN = re.compile(r"^\[facet 'pattern'\] The value '(.*)' is not accepted by the pattern "
                      r"'(.*)'\.?$", re.DOTALL)


def _names(raw: str) -> tuple[str, str | None, str] | None:
    text = raw.strip().replace(f"{{{_XSI}}}", "xsi:")
    match = _PREFIX.match(text)
    if match is None:
        return None
    element = _CLARK.sub("", match.group("element"))
    attribute = match.group("attribute")
    return element, _CLARK.sub("", attribute) if attribute else None, match.group("rest")


def rewrite(raw: str, type_name: str | None = None) -> Rewrite:
    """Rewrite one libxml2 validation message; no document value survives, whatever
    the form. ``type_name`` is libxml2's error type (``SCHEMAV_…``), named by the
    generic text for forms not known here."""
    names = _names(raw)
    if names is None:
        return Rewrite(f"the message violates {_rule_name(type_name)}")
    element, attribute, rest = names
    subject = _subject(element, attribute)
    pattern = _PATTERN.match(rest)
    if pattern is not None:
        return Rewrite(
            f"the value of {subject} does not match the field's pattern",
            element, attribute, "pattern", pattern.group(2),
        )
    rest = _CLARK.sub("", rest)
    for rule, template in _RULES:
        match = rule.match(rest)
        if match is not None:
            return Rewrite(template(match, subject, element), element, attribute)
    facet = re.match(r"^\[facet '(\w+)'\]", rest)
    kind = f"facet {facet.group(1)}" if facet else _rule_name(type_name)
    return Rewrite(f"{subject} violates {kind}", element, attribute)


def explain(raw: str, type_name: str | None = None) -> str:
    """:func:`rewrite`'s text: libxml2's message without any value from the document."""
    return rewrite(raw, type_name).message


# --- positions in the source --------------------------------------------------------

_TOKENS = re.compile(
    r"<!--.*?(?:-->|$)|<!\[CDATA\[.*?(?:\]\]>|$)|<\?.*?(?:\?>|$)|</[^>]*>?|<([^\s/>!?]+)",
    re.DOTALL,
)
#: characters of a start tag's attribute part (quoted values may hold '>')
_START_TAG_END = re.compile(r"""(?:[^>"']|"[^"]*"|'[^']*')*(/?)>""")


class _Source:
    """The document's text with line starts, decoded once and only when needed."""

    def __init__(self, data: bytes, encoding: str | None) -> None:
        codec = (encoding or "utf-8").lower()
        if codec in ("utf-8", "utf8"):
            codec = "utf-8-sig"
        try:
            self.text = data.decode(codec, errors="replace")
        except LookupError:
            self.text = data.decode("utf-8-sig", errors="replace")
        self.starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def line_span(self, line: int) -> tuple[int, int] | None:
        if not 1 <= line <= len(self.starts):
            return None
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return start, end

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column) of a text offset, both 1-based; columns count characters."""
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


class Explainer:
    """Rewrites the problems of one report with the document at hand.

    ``source`` (the message's bytes) gives columns; without it only the line and
    the element path are known. Built per report; the tree is walked once, for the
    lines that have problems, when the first problem needs it.
    """

    def __init__(
        self, package: SchemaPackage | None, root: etree._Element, source: bytes | None = None
    ) -> None:
        self._package = package
        self._root = root
        self._tree = root.getroottree()
        self._data = source
        self._source: _Source | None = None
        self._lines: set[int] = set()
        self._by_line: dict[int, list[etree._Element]] | None = None
        self._budget = MAX_REPORT_CHARS

    def expect(self, lines: Iterable[int | None]) -> None:
        """The lines the problems are on (before the first :meth:`explain`)."""
        self._lines.update(line for line in lines if line)

    def explain(
        self, raw: str, type_name: str | None, line: int | None, path: str | None
    ) -> tuple[str, int | None, int | None]:
        """(message, line, column) of one libxml2 entry; never a document value."""
        result = rewrite(raw, type_name)
        element = self._find(line, path) if line else None
        start = self._start_tag(element) if element is not None else None
        column = start[1] if start is not None else None
        if result.kind != "pattern" or element is None or result.pattern is None:
            return result.message, line, column
        info = package_patterns(self._package).get(result.pattern) if self._package else None
        if info is None:  # only patterns the package declares are analysed
            return result.message, line, column
        allowed = info.label or "the field's pattern"
        value = self._value(element, result.attribute)
        offence = None
        if value is not None and len(value) <= self._budget:
            self._budget -= len(value)
            offence = first_offence(result.pattern, value)
        subject = _subject(result.element or "?", result.attribute)
        if offence is None:  # too long to analyse, or libxml2 and Python disagree
            return (f"the value of {subject} does not match {allowed}", line, column)
        if offence.kind == "end":
            return (f"the value of {subject} ends after {offence.index} characters, before "
                    f"{allowed} is complete (too short or a part missing)", line, column)
        where = self._char_position(element, start, result.attribute, offence.index)
        if where is not None:
            line, column = where
        character = codepoint(offence.char)
        if offence.kind == "charset":
            text = (f"the value of {subject} contains {character} at character "
                    f"{offence.index + 1}, which {allowed} does not allow")
        else:
            text = (f"the value of {subject} has {character} at character "
                    f"{offence.index + 1}, where {allowed} does not allow it")
        return text, line, column

    # -- locating things -----------------------------------------------------------

    def _find(self, line: int, path: str | None) -> etree._Element | None:
        if self._by_line is None:
            self._lines.add(line)
            wanted = self._lines
            self._by_line = {}
            for node in self._root.iter():
                number = _line_of(node)
                if isinstance(node.tag, str) and number in wanted:
                    self._by_line.setdefault(number, []).append(node)
        candidates = self._by_line.get(line, [])
        if path:
            for node in candidates:
                if self._tree.getpath(node) == path:
                    return node
        return candidates[0] if len(candidates) == 1 and not path else None

    def _text(self) -> _Source | None:
        if self._source is None and self._data is not None:
            self._source = _Source(self._data, self._tree.docinfo.encoding)
        return self._source

    def _start_tag(self, element: etree._Element) -> tuple[int, int] | None:
        """(text offset, column) of the element's ``<``, or None when not certain."""
        source = self._text()
        line = _line_of(element)
        if source is None or not line or self._by_line is None:
            return None
        span = source.line_span(line)
        if span is None:
            return None
        same_line = self._by_line.get(line, [])
        try:
            rank = same_line.index(element)
        except ValueError:
            return None
        tags = [m for m in _TOKENS.finditer(source.text, span[0], span[1]) if m.group(1)]
        if rank >= len(tags):
            return None
        tag = tags[rank]
        local = etree.QName(element).localname
        written = f"{element.prefix}:{local}" if element.prefix else local
        if tag.group(1) != written:
            return None
        return tag.start(), tag.start() - span[0] + 1

    def _value(self, element: etree._Element, attribute: str | None) -> str | None:
        if attribute is None:
            return str(element.xpath("string()"))
        name = attribute.removeprefix("xsi:")
        for key, value in element.attrib.items():
            if etree.QName(key).localname == name:
                return str(value)
        return None

    def _char_position(
        self,
        element: etree._Element,
        start: tuple[int, int] | None,
        attribute: str | None,
        index: int,
    ) -> tuple[int, int] | None:
        source = self._text()
        if source is None or start is None:
            return None
        text = source.text
        tag_end = _START_TAG_END.match(text, start[0] + 1)
        if tag_end is None:
            return None
        if attribute is not None:
            name = re.escape(attribute.removeprefix("xsi:"))
            found = re.compile(rf"\s(?:[^\s=/>]+:)?{name}\s*=\s*(['\"])").search(
                text, start[0], tag_end.end()
            )
            if found is None:
                return None
            offset = _walk(text, found.end(), index, found.group(1))
        else:
            if tag_end.group(1):  # <empty/>
                return None
            offset = _walk(text, tag_end.end(), index, None)
        return source.position(offset) if offset is not None else None


def _line_of(node: etree._Element) -> int:
    line = node.sourceline
    return line if isinstance(line, int) else 0


def _walk(text: str, offset: int, index: int, quote: str | None) -> int | None:
    """The text offset of value character ``index``, reading from ``offset``.

    Element content: references count as one character, comments and processing
    instructions as none, CDATA sections as their characters, CR LF as one; a
    child or end tag ends the value. Attribute values end at ``quote``.
    """
    seen = 0
    limit = min(len(text), offset + 8 * MAX_ANALYSED_CHARS + 1024)
    while offset < limit:
        ch = text[offset]
        if quote is not None and ch == quote:
            return None
        if ch == "<" and quote is None:
            if text.startswith("<!--", offset):
                end = text.find("-->", offset)
                offset = end + 3 if end >= 0 else limit
                continue
            if text.startswith("<?", offset):
                end = text.find("?>", offset)
                offset = end + 2 if end >= 0 else limit
                continue
            if text.startswith("<![CDATA[", offset):
                end = text.find("]]>", offset)
                body_end = end if end >= 0 else limit
                cursor = offset + 9
                while cursor < body_end:
                    if seen == index:
                        return cursor
                    step = 2 if text.startswith("\r\n", cursor) else 1
                    cursor += step
                    seen += 1
                offset = body_end + 3
                continue
            return None
        if seen == index:
            return offset
        if ch == "&":
            end = text.find(";", offset)
            offset = end + 1 if 0 <= end < offset + 40 else offset + 1
        elif text.startswith("\r\n", offset):
            offset += 2
        else:
            offset += 1
        seen += 1
    return None
