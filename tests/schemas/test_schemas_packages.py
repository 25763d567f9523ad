"""Schema packages: manifest derivation, install (folder/ZIP), registry lookup."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from schemas_support import DATA, MINI

from hub.core.schemas import (
    SchemaPackage,
    SchemaRegistry,
    derive_manifest,
    install,
    namespace_family,
)
from hub.core.xmlsafe import parse_xml
from hub.errors import ConfigError, UnknownMessageError

NS1 = "urn:xoev-hub:test:demo:1"


def test_manifest_is_derived_from_the_xsds() -> None:
    manifest = derive_manifest(MINI)
    assert manifest["standard"] == "Demo"  # fixed value of the root attribute
    assert manifest["version"] == "1.0"
    assert manifest["namespaces"] == [NS1]
    assert manifest["entry_points"] == ["xsd/demo.xsd"]
    # the absolute import URL resolves to the copy mirrored at host/path
    assert manifest["catalog"] == {
        "http://example.invalid/common/1/common.xsd": "example.invalid/common/1/common.xsd"
    }
    assert manifest["header"] == "nachrichtenkopf.g2g"
    by_root = {m["root"]: m for m in manifest["messages"]}
    # numeric suffix: code and name split; header but no suffix: the name itself;
    # neither: not a message
    assert by_root["demo.meldung.0101"] == {
        "namespace": NS1, "root": "demo.meldung.0101", "code": "0101", "name": "demo.meldung"
    }
    assert by_root["demoAntwort"]["code"] == "demoAntwort"
    assert "hilfselement" not in by_root


def test_options_override_the_xsds() -> None:
    manifest = derive_manifest(MINI, standard="DemoX", version="9")
    assert (manifest["standard"], manifest["version"]) == ("DemoX", "9")


def test_install_folder_by_reference(tmp_path: Path) -> None:
    package = install(MINI, tmp_path)
    assert package.path == tmp_path / "demo-1.0"
    manifest = json.loads((package.path / "package.json").read_text("utf-8"))
    assert manifest["base"] == str(MINI.resolve())
    assert not (package.path / "xsd").exists()  # XSDs not copied
    assert package.origin == "installed"
    # installing again replaces the package
    again = install(MINI, tmp_path)
    assert again.path == package.path
    assert [p.name for p in tmp_path.iterdir()] == ["demo-1.0"]


def test_install_zip_extracts_with_a_top_folder(tmp_path: Path) -> None:
    archive = tmp_path / "demo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in MINI.rglob("*"):
            if file.is_file():
                zf.write(file, "demo-1.0-release/" + file.relative_to(MINI).as_posix())
    schema_dir = tmp_path / "schemas"
    package = install(archive, schema_dir)
    assert "base" not in package.manifest
    assert package.entry_points == ("demo-1.0-release/xsd/demo.xsd",)
    assert (package.path / "demo-1.0-release" / "xsd" / "demo.xsd").is_file()
    registry = SchemaRegistry.load([schema_dir])
    root = parse_xml((DATA / "valid-0101.xml").read_bytes())
    assert package.validate(root).valid
    assert registry.identify(root)[1].code == "0101"


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside.xsd", "<x/>")
    with pytest.raises(ConfigError, match="leaves the folder"):
        install(archive, tmp_path / "schemas")
    assert not (tmp_path.parent / "outside.xsd").exists()
    assert list((tmp_path / "schemas").iterdir()) == []  # nothing half-installed


def test_unmapped_import_url_fails_instead_of_downloading(tmp_path: Path) -> None:
    copy = tmp_path / "set"
    shutil.copytree(MINI, copy)
    shutil.rmtree(copy / "example.invalid")
    with pytest.raises(ConfigError, match="never downloads"):
        install(copy, tmp_path / "schemas")


def test_compiling_refuses_urls_missing_from_the_catalog(tmp_path: Path) -> None:
    install(MINI, tmp_path)
    manifest_file = tmp_path / "demo-1.0" / "package.json"
    manifest = json.loads(manifest_file.read_text("utf-8"))
    manifest["catalog"] = {}
    manifest_file.write_text(json.dumps(manifest), "utf-8")
    package = SchemaPackage.load(tmp_path / "demo-1.0", "installed")
    with pytest.raises(ConfigError, match="not in its catalog"):
        package.lxml_schema()


def test_lxml_schema_is_compiled_once(mini_registry: SchemaRegistry) -> None:
    package = mini_registry.get("Demo", "1.0")
    assert package.lxml_schema() is package.lxml_schema()


def test_xmlschema_schema_builds_offline(mini_registry: SchemaRegistry) -> None:
    package = mini_registry.get("Demo", "1.0")
    schema = package.xmlschema_schema()
    assert schema.is_valid(str(DATA / "valid-0101.xml"))
    assert not schema.is_valid(str(DATA / "invalid-0101.xml"))
    assert package.xmlschema_schema() is schema


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        (f'<d:unbekannt xmlns:d="{NS1}"/>', "UNKNOWN_MESSAGE"),
        (f'<d:hilfselement xmlns:d="{NS1}"/>', "UNKNOWN_MESSAGE"),
        ('<d:demo.meldung.0101 xmlns:d="urn:xoev-hub:test:demo:2"/>', "UNKNOWN_VERSION"),
        ('<d:demo.meldung.0101 xmlns:d="urn:other:standard:1"/>', "UNKNOWN_NAMESPACE"),
        ("<demo.meldung.0101/>", "UNKNOWN_NAMESPACE"),
    ],
)
def test_identify_codes(mini_registry: SchemaRegistry, xml: str, code: str) -> None:
    with pytest.raises(UnknownMessageError) as exc:
        mini_registry.identify(etree.fromstring(xml))
    assert exc.value.code == code
    assert exc.value.path is not None


def test_identify_known_message(mini_registry: SchemaRegistry) -> None:
    package, message = mini_registry.identify(etree.fromstring(f'<d:demoAntwort xmlns:d="{NS1}"/>'))
    assert package.label == "Demo 1.0"
    assert message.qname == f"{{{NS1}}}demoAntwort"


def _fake_package(folder: Path, standard: str, version: str, messages: list[str]) -> Path:
    """A package folder that reuses the mini XSDs by reference (base)."""
    manifest = derive_manifest(MINI)
    manifest.update(standard=standard, version=version, base=str(MINI))
    manifest["messages"] = [m for m in manifest["messages"] if m["root"] in messages]
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps(manifest), "utf-8")
    return folder


def test_installed_wins_over_bundled_for_the_same_namespace(tmp_path: Path) -> None:
    bundled = SchemaPackage.load(
        _fake_package(tmp_path / "b" / "demo", "Demo", "1.0", ["demoAntwort"]), "bundled"
    )
    installed = SchemaPackage.load(
        _fake_package(tmp_path / "i" / "demo", "Demo", "1.0-fix", ["demo.meldung.0101"]),
        "installed",
    )
    registry = SchemaRegistry([bundled, installed])
    root = etree.fromstring(f'<d:demo.meldung.0101 xmlns:d="{NS1}"/>')
    assert registry.identify(root)[0] is installed
    # the bundled package is shadowed entirely: its messages are not served
    with pytest.raises(UnknownMessageError):
        registry.identify(etree.fromstring(f'<d:demoAntwort xmlns:d="{NS1}"/>'))
    assert registry.active(installed) and not registry.active(bundled)
    assert registry.get("Demo", "1.0") is bundled  # still reachable by release


def test_from_settings_handles_missing_and_empty_dirs(tmp_path: Path) -> None:
    class _Settings:
        schema_dir = tmp_path / "does-not-exist"

    registry = SchemaRegistry.from_settings(_Settings())
    assert all(p.origin == "bundled" for p in registry.packages)


def test_get_unknown_release_is_a_config_error(mini_registry: SchemaRegistry) -> None:
    with pytest.raises(ConfigError):
        mini_registry.get("Demo", "7")


def test_broken_manifest_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "package.json").write_text('{"standard": "X"}', "utf-8")
    with pytest.raises(ConfigError, match="invalid manifest"):
        SchemaRegistry.load([tmp_path])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://www.osci.de/xmeld2511a", "http://www.osci.de/xmeld2405"),
        ("urn:xoev-de:xdomea:schema:2.4.0", "urn:xoev-de:xdomea:schema:3.0.0"),
        ("http://xpsw.domap.de/xpsw2505", "http://xpsw.domap.de/xpsw2511"),
        ("urn:xoev-hub:test:demo:1", "urn:xoev-hub:test:demo:2"),
    ],
)
def test_namespace_family_ignores_the_release(a: str, b: str) -> None:
    assert namespace_family(a) == namespace_family(b)


def test_namespace_family_keeps_standards_apart() -> None:
    assert namespace_family("http://www.osci.de/xmeld2511a") != namespace_family(
        "http://xpsw.domap.de/xpsw2511"
    )
