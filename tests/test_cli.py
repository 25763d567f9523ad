"""The command-line skeleton: every contract command exists and has --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import COMMANDS, main

CONTRACT = ["doctor", "kafka", "topics", "worker", "demo", "simulate", "send", "validate",
            "convert", "schemas", "routes", "dlq", "stats", "aktenplan", "exchanges", "portal",
            "bench"]


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


def test_validate_prints_file_line_column_and_names_the_character(tmp_path: Path) -> None:
    """``FILE:LINE:COL: CODE message`` (README); the column points at the character
    the name pattern rejects, which is named as U+XXXX, the name itself is not printed."""
    import json
    import os
    import re

    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_SCHEMA_DIR"] = str(tmp_path / "schemas")  # the bundled packages only

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True,
                              text=True, timeout=120, env=env)

    sample = hub("schemas", "sample", "xmeld-25.11a", "0201", "--seed", "5")
    assert sample.returncode == 0, sample.stderr
    names = re.findall(r"<name>([^<]+)</name>", sample.stdout)
    assert names
    broken = names[0][:3] + "\U0001f600" + names[0][3:]
    text = sample.stdout.replace(f"<name>{names[0]}</name>", f"<name>{broken}</name>", 1)
    file = tmp_path / "emoji.xml"
    file.write_text(text, encoding="utf-8")

    result = hub("validate", str(file))
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if "U+1F600" in x)
    match = re.fullmatch(rf"{re.escape(str(file))}:(\d+):(\d+): SCHEMA_INVALID (.*)", line)
    assert match is not None, line
    number, column = int(match.group(1)), int(match.group(2))
    assert text.splitlines()[number - 1][column - 1] == "\U0001f600"
    assert "GRINNING FACE" in line and " at /" in line and "/name" in line
    assert names[0] not in result.stdout and broken not in result.stdout

    reports = json.loads(hub("validate", "--json", str(file)).stdout)
    problem = next(p for p in reports[0]["problems"] if "U+1F600" in p["message"])
    assert (problem["line"], problem["column"]) == (number, column)
    assert problem["path"].endswith("/name")
