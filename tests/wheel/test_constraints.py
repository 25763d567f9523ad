"""The supply chain: every dependency is pinned with hashes (issue 12, "Supply chain").

constraints.txt (runtime: Dockerfile, .ci/wheel-check) and constraints-dev.txt
(runtime + dev extra: ``make install``) are compiled by ``make constraints``; these
tests catch a pyproject.toml change that was not followed by it, and an install
path that would bypass the hashes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """``name -> (version, hashes)`` of a pip-compile output with hashes."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    name = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            name = normalise(match.group(1))
            pins[name] = (match.group(2), frozenset())
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes | {line.strip().split(":", 1)[1].rstrip(" \\")})
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"{path.name}: not a pinned requirement: {line!r}")
    return pins


def declared(group: str | None) -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = (project["dependencies"] if group is None
                    else project["optional-dependencies"][group])
    result = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"pyproject.toml: {requirement!r} is not pinned with =="
        result[normalise(match.group(1))] = match.group(2)
    return result


RUNTIME = read_pins(REPO / "constraints.txt")
DEV = read_pins(REPO / "constraints-dev.txt")


def test_every_pin_has_sha256_hashes() -> None:
    for pins in (RUNTIME, DEV):
        assert pins
        unhashed = sorted(name for name, (_, hashes) in pins.items() if not hashes)
        assert unhashed == []


def test_pyproject_dependencies_are_pinned_alike() -> None:
    for name, version in declared(None).items():
        assert RUNTIME.get(name, ("missing",))[0] == version, f"{name}: run make constraints"
        assert DEV.get(name, ("missing",))[0] == version, f"{name}: run make constraints"
    for name, version in declared("dev").items():
        assert DEV.get(name, ("missing",))[0] == version, f"{name}: run make constraints"
    # the transitive ones too (aiohttp and the rest that come in through Faust)
    assert "aiohttp" in RUNTIME and "aiohttp" not in declared(None)


def test_dev_file_keeps_the_runtime_pins() -> None:
    differing = sorted(name for name, pin in RUNTIME.items() if DEV.get(name) != pin)
    assert differing == []


def test_install_paths_use_the_hashed_pins() -> None:
    dockerfile = (REPO / "deploy" / "compose" / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes" in dockerfile and "-r /tmp/constraints.txt" in dockerfile
    assert "--no-deps /tmp/dist/xoev_hub-" in dockerfile
    assert not re.search(r"pip install[^\n]*\s-e\s", dockerfile)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "install -q --require-hashes -r constraints-dev.txt" in makefile
    assert "install -q --no-deps -e ." in makefile
    wheel_check = (REPO / ".ci" / "wheel-check").read_text(encoding="utf-8")
    assert '--require-hashes -r "$repo/constraints.txt"' in wheel_check
