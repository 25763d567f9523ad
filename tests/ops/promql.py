"""Tiny PromQL helpers for the tests: which metric and label names an expression uses.

Not a parser: syntax is checked by ``promtool`` (see test_dashboard_and_rules.py);
this only strips strings, label matchers, ranges and grouping clauses and keeps
the identifiers that are not functions or keywords.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
})
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names: set[str] = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before in "._$":
            continue  # part of a number (1e3) or a template variable
        if text[match.end():].lstrip().startswith("("):
            continue  # a function
        if match.group(0).lower() in KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for group in _GROUPING.findall(expr):
        labels.update(x.strip() for x in group.split(",") if x.strip())
    return labels


def matcher_labels(expr: str) -> dict[str, set[str]]:
    """Label names used in ``metric{label=...}`` matchers, per metric."""
    found: dict[str, set[str]] = {}
    for match in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}", expr):
        labels = {m.group(1) for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*[=!]~?", match[2])}
        found.setdefault(match[1], set()).update(labels)
    return found
