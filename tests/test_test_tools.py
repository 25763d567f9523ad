"""`make test`'s tool check (hub.testing.tools): install when it may, else one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing.tools import TOOLS, MissingTool, ensure, may_install, packages_for, require_tool


def test_every_tool_of_the_suite_is_present_after_make_tests_check() -> None:
    # `make test` ran the installer before pytest: nothing may be missing now
    assert ensure(allowed=False) == 0
    assert {Path(require_tool(name)).name for name in TOOLS} == set(TOOLS)


def test_a_missing_tool_fails_the_test_with_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingTool) as caught:
        require_tool("promtool", path=str(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("promtool is not installed: `make test` installs it")
    assert message.endswith("(Debian: apt-get install prometheus)")


def test_packages_are_named_once() -> None:
    assert packages_for(["prometheus", "promtool", "kcat"]) == ["kcat", "prometheus"]


def test_installing_can_be_refused_by_the_environment() -> None:
    assert may_install({"XOEV_INSTALL_TEST_TOOLS": "0"}) is False
    allowed = os.geteuid() == 0 and shutil.which("apt-get") is not None
    assert may_install({}) is allowed


def test_without_permission_one_line_says_what_to_install(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.testing.tools"],
        env={"PATH": str(tmp_path), "XOEV_INSTALL_TEST_TOOLS": "0"},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "missing test tools: kcat, prometheus, promtool, strace, openssl; install them "
        "(Debian: apt-get install kcat openssl prometheus strace) and run `make test` again\n"
    )
