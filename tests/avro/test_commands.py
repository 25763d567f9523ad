"""`convert` and `schemas build|check|diff` through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree

from hub.avro import OfficialSet, canonical_xml
from hub.cli import main
from hub.cli.schemas import stale_files, unique_packages
from hub.core.convert import registry_packages

pytestmark = pytest.mark.official


def _sample(xwasser: OfficialSet) -> Path:
    return xwasser.path / "tests/quality_report_minimal.xml"


def test_convert_json_avro_and_reverse(
    xwasser: OfficialSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = _sample(xwasser)
    assert main(["convert", str(sample), "--set", str(xwasser.path)]) == 0
    event = json.loads(capsys.readouterr().out)
    root = etree.parse(str(sample)).getroot()
    assert root.tag.endswith("." + event["envelope"]["message_type_code"])
    assert event["envelope"]["standard"] == "XWasser"
    assert event["envelope"]["message_id"]
    assert event["body"]
    avro_file = tmp_path / "event.avro"
    args = [
        "convert",
        str(sample),
        "--set",
        str(xwasser.path),
        "--format",
        "avro",
        "-o",
        str(avro_file),
    ]
    assert main(args) == 0
    assert avro_file.read_bytes()[:2] == b"\xc3\x01"
    xml_file = tmp_path / "back.xml"
    assert (
        main(
            [
                "convert",
                "--reverse",
                str(avro_file),
                "--set",
                str(xwasser.path),
                "-o",
                str(xml_file),
            ]
        )
        == 0
    )
    assert canonical_xml(xml_file.read_bytes()) == canonical_xml(etree.parse(str(sample)).getroot())


def test_convert_errors_are_one_line(
    xwasser: OfficialSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.avro"
    bad.write_bytes(b"\xc3\x01" + b"\x01" * 8 + b"x")
    assert main(["convert", "--reverse", str(bad), "--set", str(xwasser.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("xoev-hub convert: error: CONVERSION_UNKNOWN_SCHEMA")
    assert main(["convert", str(tmp_path / "missing.xml")]) == 2


def test_schemas_build_check_and_diff(
    xwasser: OfficialSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "avro"
    assert main(["schemas", "build", "--out", str(out), "--set", str(xwasser.path)]) == 0
    folder = out / "XWasser" / "1.0.0"
    files = sorted(folder.glob("*.avsc"))
    assert len(files) == len(xwasser.messages)
    packages = unique_packages([*registry_packages(), xwasser])
    assert stale_files(out, packages) == []
    # a stale and an orphan file are named
    files[0].write_text(files[0].read_text().replace('"message_id"', '"message_uuid"', 1))
    (folder / "gibtsnicht.0000.avsc").write_text("{}")
    stale = stale_files(out, packages)
    assert stale == [
        f"{files[0]} (differs)",
        f"{folder / 'gibtsnicht.0000.avsc'} (no such message type)",
    ]
    # without --out, official sets are refused
    assert main(["schemas", "build", "--set", str(xwasser.path)]) == 2
    # diff: a copy with one changed message type
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    (old / "gibtsnicht.0000.avsc").unlink()
    capsys.readouterr()
    assert main(["schemas", "diff", str(old), str(xwasser.path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    verdicts = {m["message"]: m["verdict"] for m in report["messages"]}
    assert verdicts[files[0].name.removesuffix(".avsc")] == "NONE"
    assert list(verdicts.values()).count("FULL") == len(files) - 1


def test_schemas_check_on_the_checked_in_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "check"]) == 0
    assert "up to date" in capsys.readouterr().out
