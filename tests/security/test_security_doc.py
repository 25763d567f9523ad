"""docs/security.md ends with a table "Promise → test": every test it names must exist,
so that a renamed or deleted test shows up here instead of leaving a promise bare."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`(tests/[^`:]+?)(?:::(\w+))?`|`::(\w+)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")}


def test_every_test_the_promise_table_names_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    table = text[text.index("## Promise → test"):text.index("### Not shown by a test")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) >= 30
    checked, missing = 0, []
    for row in rows:
        current: Path | None = None
        for match in REFERENCE.finditer(row):
            if match.group(1):
                current = ROOT / match.group(1)
                if not current.exists():
                    missing.append(match.group(1))
                    continue
                name = match.group(2)
            else:
                name = match.group(3)
            if name is None:
                continue
            assert current is not None and current.suffix == ".py", row
            if name not in _test_names(current):
                missing.append(f"{current.relative_to(ROOT)}::{name}")
            checked += 1
    assert missing == []
    assert checked >= 60
