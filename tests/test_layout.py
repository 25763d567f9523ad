"""The package's layout: which folder may import which (docs/design/layout.md).

Every import of every module under ``hub/`` is read with ``ast`` (also the ones
inside functions and under ``TYPE_CHECKING``) and held against the rules that the
folders' ``__init__.py`` docstrings state.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[1] / "hub"

#: The foundation every layer may use: the error tree, the settings, the log format.
FOUNDATION = {"hub", "hub.errors", "hub.settings", "hub.logging"}

#: Folder -> the hub folders its modules may import (besides itself and FOUNDATION).
ALLOWED: dict[str, set[str]] = {
    "core": {"avro"},
    "avro": {"core.schemas"},
    "kafka": {"core", "portal.catalog"},
    "xdomea": {"core", "kafka"},
    "stats": {"core", "avro", "kafka"},
    "adapters": {"core", "avro", "kafka", "xdomea"},
    "portal": {"core", "avro", "kafka", "adapters.webhook", "adapters.base"},
    "streams": {"core", "avro", "kafka", "xdomea", "stats", "ops.metrics"},
    "ops": {"core", "avro", "kafka", "xdomea", "stats", "streams", "adapters", "portal"},
    "broker": set(),
    "tools": {"core", "avro", "kafka", "xdomea", "stats", "adapters", "portal", "broker"},
    "testing": {"core", "avro", "kafka", "xdomea", "stats", "adapters", "portal", "broker",
                "tools", "ops", "streams"},
    "cli": {"core", "avro", "kafka", "xdomea", "stats", "adapters", "portal", "broker",
            "tools", "ops", "streams"},
}

#: Third-party clients that only the runtime may use.
KAFKA_LIBRARIES = {"faust", "mode", "aiokafka", "kafka"}
#: Folders that must not touch a Kafka client library at all.
KAFKA_FREE = {"core", "avro", "xdomea", "stats"}
#: Folders that may use Faust (the stream processor and the process that runs it);
#: hub.kafka.config builds Faust's credentials, the one client-config builder.
FAUST_USERS = {"streams", "ops", "kafka.config"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(HUB.rglob("*.py")):
        parts = path.relative_to(HUB.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(path: Path) -> Iterator[str]:
    """Every absolute module name ``path`` imports, and ``module.name`` for each name
    taken with ``from module import name`` (so that a folder imported whole is seen)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            assert node.module is not None
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"


def folder(module: str) -> str:
    """``hub.core.pipeline`` -> ``core``; a top-level module -> its own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hub"


def within(module: str, allowed: str) -> bool:
    """Is ``module`` the hub module ``hub.<allowed>`` or below it?"""
    target = f"hub.{allowed}"
    return module == target or module.startswith(target + ".")


def hub_imports(path: Path) -> set[str]:
    """The hub modules ``path`` imports, without the ``module.name`` spellings of
    names that are no modules (``from hub.core.region import Region``)."""
    found = set()
    for name in imports(path):
        if not name.startswith("hub.") and name != "hub":
            continue
        parent, _, _ = name.rpartition(".")
        is_module = (HUB.parent / Path(*name.split("."))).with_suffix(".py").is_file() or (
            HUB.parent / Path(*name.split("."))
        ).is_dir()
        found.add(name if is_module or not parent else parent)
    return found


def test_the_rules_cover_every_folder() -> None:
    folders = {p.name for p in HUB.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    # package data, no code
    assert folders - {"config", "schemas_data"} == set(ALLOWED)
    top = {p.stem for p in HUB.glob("*.py")}
    assert top == {"__init__", "__main__", "errors", "settings", "logging"}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_every_folder_says_what_it_owns_and_may_import(name: str) -> None:
    doc = ast.get_docstring(ast.parse((HUB / name / "__init__.py").read_text("utf-8")))
    assert doc, f"hub/{name}/__init__.py has no docstring"
    assert "import" in doc.lower(), f"hub/{name}/__init__.py does not say what it may import"


def test_import_direction() -> None:
    broken = []
    for module, path in modules():
        own = folder(module)
        if own not in ALLOWED:  # the foundation and hub.__main__
            continue
        for imported in sorted(hub_imports(path)):
            if imported in FOUNDATION or folder(imported) == own:
                continue
            if not any(within(imported, allowed) for allowed in ALLOWED[own]):
                broken.append(f"{module} -> {imported}")
    assert broken == []


def test_the_foundation_imports_no_folder() -> None:
    broken = []
    for module, path in modules():
        if folder(module) in ALLOWED:
            continue
        for imported in hub_imports(path):
            if imported not in FOUNDATION and not (module == "hub.__main__"
                                                   and within(imported, "cli")):
                broken.append(f"{module} -> {imported}")
    assert broken == []


def test_only_the_runtime_uses_kafka_and_faust() -> None:
    broken = []
    for module, path in modules():
        libraries = {name.split(".")[0] for name in imports(path)}
        own = folder(module)
        if own in KAFKA_FREE and libraries & KAFKA_LIBRARIES:
            broken.append(f"{module}: {sorted(libraries & KAFKA_LIBRARIES)}")
        if {"faust", "mode"} & libraries and not any(
            within(module, allowed) for allowed in FAUST_USERS
        ):
            broken.append(f"{module}: faust outside {sorted(FAUST_USERS)}")
    assert broken == []


def test_nothing_in_hub_imports_the_tests_helpers_or_the_command_line() -> None:
    broken = []
    for module, path in modules():
        own = folder(module)
        for imported in hub_imports(path):
            if within(imported, "testing") and own != "testing":
                broken.append(f"{module} -> {imported}")
            if within(imported, "cli") and own != "cli" and module != "hub.__main__":
                broken.append(f"{module} -> {imported}")
    assert broken == []


def test_the_checker_sees_a_broken_rule(tmp_path: Path) -> None:
    """The reader finds imports inside functions and under TYPE_CHECKING."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from hub.kafka.topics import TopicNames\n"
        "def f():\n    import faust\n    from hub.streams import app\n",
        encoding="utf-8",
    )
    assert {"hub.kafka.topics", "hub.streams.app"} <= hub_imports(source)
    assert "faust" in set(imports(source))
