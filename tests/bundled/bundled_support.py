"""Helpers of the bundled-packages and sample-generator tests (imported by the tests).

Packages are loaded through ``hub.core.schemas.SchemaPackage`` when the registry is
available; until then through a minimal local loader with the same surface
(``standard``, ``version``, ``messages``, ``lxml_schema()``,
``xmlschema_schema()``) that resolves the manifest's catalog offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "hub" / "schemas_data" / "xoev"
GOLDEN = REPO / "tests" / "golden"
PACKAGE_DIRS = sorted(p for p in BUNDLED.iterdir() if (p / "package.json").is_file())


def _official() -> Path:
    # ../shared beside the checkout; worktrees sit one level deeper (wt/<name>)
    for parent in REPO.parents:
        if (parent / "shared" / "xoev-official").is_dir():
            return parent / "shared" / "xoev-official"
    return REPO.parent / "shared" / "xoev-official"


OFFICIAL = _official()


def official_or_skip() -> Path:
    if not OFFICIAL.is_dir():
        pytest.skip(f"official XÖV sets not found at {OFFICIAL} (../shared is absent)")
    return OFFICIAL


@dataclass(frozen=True)
class LocalMessageType:
    namespace: str
    root: str
    code: str
    name: str

    @property
    def qname(self) -> str:
        return f"{{{self.namespace}}}{self.root}"


class _Catalog(etree.Resolver):
    def __init__(self, mapping: Mapping[str, Path]) -> None:
        super().__init__()
        self.mapping = mapping

    def resolve(self, url: str, pubid: str, context: Any) -> Any:
        local = self.mapping.get(url)
        return self.resolve_filename(str(local), context) if local else None


class LocalPackage:
    """A schema package read straight from its folder (set.json or package.json)."""

    origin = "bundled"

    def __init__(self, standard: str, version: str, base: Path, entry_points: list[str],
                 catalog: Mapping[str, str], messages: list[LocalMessageType]) -> None:
        self.standard, self.version, self.path = standard, version, base
        self.entry_points = entry_points
        self.catalog = {url: base / rel for url, rel in catalog.items()}
        self.messages = {m.qname: m for m in messages}
        self.namespaces = tuple(sorted({m.namespace for m in messages}))
        self._lxml: etree.XMLSchema | None = None
        self._xmlschema: Any = None

    @classmethod
    def from_manifest(cls, folder: Path) -> LocalPackage:
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        return cls(manifest["standard"], manifest["version"], folder, manifest["entry_points"],
                   manifest["catalog"], [LocalMessageType(**m) for m in manifest["messages"]])

    def parser(self, with_catalog: bool = True) -> etree.XMLParser:
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        if with_catalog:
            parser.resolvers.add(_Catalog(self.catalog))
        return parser

    def lxml_schema(self, with_catalog: bool = True) -> etree.XMLSchema:
        if self._lxml is None or not with_catalog:
            namespace = self.namespaces[0]
            includes = "".join(f'<xs:include schemaLocation="{e}"/>' for e in self.entry_points)
            wrapper = (f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                       f'targetNamespace="{namespace}">{includes}</xs:schema>')
            document = etree.fromstring(wrapper.encode(), self.parser(with_catalog),
                                        base_url=str(self.path / "_wrapper.xsd"))
            schema = etree.XMLSchema(document.getroottree())
            if not with_catalog:
                return schema
            self._lxml = schema
        return self._lxml

    def xmlschema_schema(self) -> Any:
        if self._xmlschema is None:
            import xmlschema

            self._xmlschema = xmlschema.XMLSchema(
                [str(self.path / e) for e in self.entry_points],
                uri_mapper={url: str(p) for url, p in self.catalog.items()},
            )
        return self._xmlschema

    def validate_bytes(self, data: bytes) -> list[str]:
        """lxml errors of one instance (empty when valid)."""
        schema = self.lxml_schema()
        document = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
        if schema.validate(document):
            return []
        return [f"{e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


def hub_schemas() -> Any:
    """``hub.core.schemas`` of this checkout, or skip (it is being built in parallel).

    A shared virtualenv may carry another checkout's editable install, whose
    finder would serve its ``hub.core.schemas`` to us: only this checkout's counts.
    """
    import importlib.util

    spec = importlib.util.find_spec("hub.core.schemas")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    if origin is None or not origin.is_relative_to(REPO):
        pytest.skip("hub.core.schemas (the registry) is not in this checkout yet")
    import hub.core.schemas

    return hub.core.schemas


@cache
def bundled_package(name: str) -> Any:
    """A bundled package by folder name, through the registry (``hub.core.schemas``)."""
    return hub_schemas().SchemaPackage.load(BUNDLED / name, "bundled")


@cache
def local_package(name: str) -> LocalPackage:
    return LocalPackage.from_manifest(BUNDLED / name)


@cache
def official_package(set_name: str, tops: tuple[str, ...], root_pattern: str) -> LocalPackage:
    """An official XÖV set loaded offline with its urlmap (message roots by pattern)."""
    import re

    folder = official_or_skip() / set_name
    manifest = json.loads((folder / "set.json").read_text(encoding="utf-8"))
    package = LocalPackage(manifest["standard"], manifest["version"], folder, list(tops),
                           manifest.get("urlmap", {}), [])
    schema = package.xmlschema_schema()
    messages = []
    for qname, element in schema.maps.elements.items():
        local = element.local_name
        if qname.startswith(f"{{{schema.target_namespace}}}") and re.fullmatch(root_pattern, local):
            group, _, code = local.rpartition(".")
            messages.append(LocalMessageType(schema.target_namespace, local, code, group))
    package.messages = {m.qname: m for m in messages}
    package.namespaces = (schema.target_namespace,)
    return package


def lxml_errors(package: Any, data: bytes) -> list[str]:
    """lxml errors of one instance against a package's compiled schema (empty when valid)."""
    schema = package.lxml_schema()
    document = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    if schema.validate(document):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]
