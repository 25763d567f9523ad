"""The command-line skeleton: every contract command exists and has --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.cli import COMMANDS, main

CONTRACT = ["doctor", "kafka", "topics", "worker", "demo", "simulate", "send", "validate",
            "convert", "schemas", "routes", "dlq", "bench"]


def test_help_lists_every_contract_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in CONTRACT:
        assert name in out
    assert list(COMMANDS) == CONTRACT


@pytest.mark.parametrize("name", CONTRACT)
def test_every_command_has_help(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub", name, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage: xoev-hub" in result.stdout or f"usage: __main__.py {name}" in result.stdout


def test_unknown_setting_is_one_clear_line() -> None:
    import os

    env = dict(os.environ, HUB_BOOTSTRAP_SERVRS="x:1")
    result = subprocess.run(
        [sys.executable, "-m", "hub", "kafka", "status"], capture_output=True, text=True,
        env=env, timeout=60,
    )
    assert result.returncode == 2
    assert "unknown setting(s): HUB_BOOTSTRAP_SERVRS" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
