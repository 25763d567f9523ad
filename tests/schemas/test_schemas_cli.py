"""``xoev-hub validate``, ``schemas add|list`` and ``bench`` from the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from schemas_support import DATA, MINI

REPO = Path(__file__).resolve().parents[2]


def _hub(*args: str, schema_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_SCHEMA_DIR"] = str(schema_dir)
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
    )


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-schemas")
    result = _hub("schemas", "add", str(MINI), schema_dir=directory)
    assert result.returncode == 0, result.stderr
    assert "installed Demo 1.0: 2 message types" in result.stdout
    return directory


def test_schemas_list_shows_installed_packages(schema_dir: Path) -> None:
    result = _hub("schemas", "list", schema_dir=schema_dir)
    assert result.returncode == 0
    line = next(x for x in result.stdout.splitlines() if x.startswith("Demo"))
    assert line.split()[:4] == ["Demo", "1.0", "installed", "2"]
    assert "urn:xoev-hub:test:demo:1" in line
    rows = json.loads(_hub("schemas", "list", "--json", schema_dir=schema_dir).stdout)
    demo = next(r for r in rows if r["standard"] == "Demo")
    assert demo["origin"] == "installed" and demo["active"] is True


def test_validate_prints_one_line_per_problem(schema_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    result = _hub(
        "validate", str(DATA / "valid-0101.xml"), str(DATA / "invalid-0101.xml"), str(empty),
        schema_dir=schema_dir,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{DATA / 'valid-0101.xml'}: valid (Demo 1.0 0101)"
    invalid = [x for x in lines if x.startswith(str(DATA / "invalid-0101.xml"))]
    assert len(invalid) == 2
    # FILE:LINE:COL: the column of the first character the name pattern rejects
    source = (DATA / "invalid-0101.xml").read_text().splitlines()
    column = source[13].index(">mUSTERfrau<") + 2
    assert invalid[0].startswith(f"{DATA / 'invalid-0101.xml'}:14:{column}: SCHEMA_INVALID ")
    assert "U+006D" in invalid[0] and "mUSTERfrau" not in invalid[0]
    date_column = source[14].index("<demo:geburtsdatum>") + 1
    assert invalid[1].startswith(f"{DATA / 'invalid-0101.xml'}:15:{date_column}: SCHEMA_INVALID ")
    assert f"{empty}: XML_EMPTY the message is empty" in lines


def test_validate_exit_zero_only_when_all_valid(schema_dir: Path) -> None:
    result = _hub("validate", str(DATA / "valid-0101.xml"), schema_dir=schema_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_json(schema_dir: Path) -> None:
    result = _hub(
        "validate", "--json", str(DATA / "valid-0101.xml"), str(DATA / "invalid-0101.xml"),
        schema_dir=schema_dir,
    )
    assert result.returncode == 1
    reports = json.loads(result.stdout)
    assert [r["valid"] for r in reports] == [True, False]
    assert reports[1]["problems"][0]["code"] == "SCHEMA_INVALID"
    assert reports[1]["problems"][0]["path"].endswith("demo:familienname")
    assert [(p["line"], type(p["column"])) for p in reports[1]["problems"]] == [
        (14, int), (15, int)
    ]


def test_schemas_add_reports_errors_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "set"
    shutil.copytree(MINI, broken)
    shutil.rmtree(broken / "example.invalid")
    result = _hub("schemas", "add", str(broken), schema_dir=tmp_path / "schemas")
    assert result.returncode == 2
    errors = [x for x in result.stderr.splitlines() if x.startswith("xoev-hub schemas: error:")]
    assert len(errors) == 1 and "never downloads" in errors[0]


@pytest.mark.parametrize("sub", ["build", "check", "diff", "sample"])
def test_other_schema_subcommands_are_registered(sub: str, tmp_path: Path) -> None:
    result = _hub("schemas", sub, "--help", schema_dir=tmp_path)
    assert result.returncode == 0


def test_bench_lists_the_benchmarks(tmp_path: Path) -> None:
    result = _hub("bench", schema_dir=tmp_path)
    assert result.returncode == 0
    assert "validate" in result.stdout
    unknown = _hub("bench", "no-such-bench", schema_dir=tmp_path)
    assert unknown.returncode == 2 and "no benchmark" in unknown.stderr
