"""``xoev-hub schemas sample``: writes valid instances of any loaded package."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from bundled_support import bundled_package, hub_schemas, lxml_errors

from hub.cli import schemas
from hub.errors import ConfigError


def test_package_spec_accepts_dash_and_colon_case_insensitively() -> None:
    standards = ["XMeld", "XPersonenstand", "XAuslaender"]
    assert schemas.split_package("xmeld-25.11a", standards) == ("XMeld", "25.11a")
    assert schemas.split_package("XMeld:25.05", standards) == ("XMeld", "25.05")
    assert schemas.split_package("xauslaender-1.22", standards) == ("XAuslaender", "1.22")
    with pytest.raises(ConfigError, match=r"unknown package 'xdomea-3\.0\.0'"):
        schemas.split_package("xdomea-3.0.0", standards)


def test_command_writes_valid_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    hub_schemas()
    from hub.cli import main

    monkeypatch.setenv("HUB_SCHEMA_DIR", str(tmp_path / "installed"))
    out = tmp_path / "out"
    code = main(["schemas", "sample", "xmeld-25.05", "0201", "--count", "3", "--seed", "7",
                 "--out", str(out), "--author", "ags:05120000"])
    assert code == 0
    files = sorted(out.glob("*.xml"))
    assert [f.name for f in files] == [f"rueckmeldung.anmeldunginland.0201-{s}.xml"
                                       for s in (7, 8, 9)]
    package = bundled_package("xmeld-25.05")
    for f in files:
        assert lxml_errors(package, f.read_bytes()) == []
        assert b"<kennung>ags:05120000</kennung>" in f.read_bytes()
    assert "3 rueckmeldung.anmeldunginland.0201 sample(s) of XMeld 25.05" in capsys.readouterr().err


def test_unknown_message_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    hub_schemas()
    from hub.cli import main

    monkeypatch.setenv("HUB_SCHEMA_DIR", str(tmp_path))
    assert main(["schemas", "sample", "xpersonenstand-25.11", "0201"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown message type '0201'" in err[0]


def test_more_than_one_instance_needs_an_output_directory() -> None:
    args = argparse.Namespace(package="xmeld-25.11a", message="0201", count=2, seed=0, out=None,
                              author=None, reader=None)
    with pytest.raises(ConfigError, match="needs --out"):
        schemas.run_sample(args)
