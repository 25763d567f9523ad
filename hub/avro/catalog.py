"""Event catalog: conversion plans per package and message type, compiled once.

The catalog works with anything shaped like ``hub.core.schemas.SchemaPackage`` (see
:class:`PackageLike`): standard, version, messages by Clark name and
``xmlschema_schema()``. :class:`OfficialSet` adapts an official schema set folder
(``set.json`` with ``tops`` and ``urlmap``) to that shape, for tests, benchmarks and
``schemas build --official``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from hub.avro.derive import build_models, dumps_schema, file_name
from hub.avro.encoding import split_single_object
from hub.avro.naming import avro_namespace
from hub.avro.plan import ConversionPlan
from hub.core.schemas.model import MessageType
from hub.core.schemas.protocols import PackageLike
from hub.errors import ConfigError, ConversionError


class RegistryLike(Protocol):
    @property
    def packages(self) -> Any: ...


def qname(message: Any) -> str:
    """Clark name of a message type's root element."""
    return f"{{{message.namespace}}}{message.root}" if message.namespace else str(message.root)


def avsc_path(avro_dir: Path, package: PackageLike, message: Any) -> Path:
    """``<avro_dir>/<standard>/<version>/<root>.avsc``."""
    return avro_dir / package.standard / package.version / file_name(qname(message))


_MESSAGE_ROOT = re.compile(r"^(?P<name>.+)\.(?P<code>\d{4,6})$")


class OfficialSet:
    """An official XÖV set folder (``set.json``) in the shape of a SchemaPackage."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        try:
            meta = json.loads((self.path / "set.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not an official schema set ({exc})") from exc
        self.standard: str = meta["standard"]
        self.version: str = meta["version"]
        self.tops: list[str] = list(meta["tops"])
        self.urlmap: dict[str, str] = dict(meta.get("urlmap", {}))
        self.samples: list[dict[str, Any]] = list(meta.get("samples", []))
        self._schema: Any = None
        self._messages: dict[str, MessageType] | None = None
        self._lxml: Any = None

    def xmlschema_schema(self) -> Any:
        if self._schema is None:
            import xmlschema

            mapping = {url: str(self.path / local) for url, local in self.urlmap.items()}
            self._schema = xmlschema.XMLSchema(
                [str(self.path / top) for top in self.tops], uri_mapper=mapping, allow="local"
            )
        return self._schema

    @property
    def messages(self) -> Mapping[str, MessageType]:
        """Global elements named ``<name>.<code>`` of the sets' target namespaces."""
        if self._messages is None:
            schema = self.xmlschema_schema()
            found: dict[str, MessageType] = {}
            for element in schema.elements.values():
                name = element.name
                namespace = name[1:].split("}", 1)[0] if name.startswith("{") else ""
                local = name.rsplit("}", 1)[-1]
                match = _MESSAGE_ROOT.match(local)
                if match and element.type.is_complex():
                    message = MessageType(namespace, local, match["code"], match["name"])
                    found[message.qname] = message
            self._messages = dict(sorted(found.items()))
        return self._messages

    def lxml_schema(self) -> Any:
        """lxml XMLSchema of all tops (imports resolved through the urlmap)."""
        if self._lxml is None:
            from lxml import etree

            mapping = {url: str(self.path / local) for url, local in self.urlmap.items()}

            class _Resolver(etree.Resolver):
                def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
                    local = mapping.get(system_url)
                    if not local:
                        return None
                    return self.resolve_filename(local, context)  # type: ignore[attr-defined]

            imports = "".join(
                f'<xs:include schemaLocation="{(self.path / top).as_uri()}"/>' for top in self.tops
            )
            namespace = next(iter(self.messages.values())).namespace
            driver = (
                '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                f'targetNamespace="{namespace}">{imports}</xs:schema>'
            )
            parser = etree.XMLParser(no_network=True)
            parser.resolvers.add(_Resolver())
            doc = etree.fromstring(driver.encode(), parser, base_url=str(self.path) + "/")
            self._lxml = etree.XMLSchema(doc)
        return self._lxml


class EventCatalog:
    """Plans for every message type of the registry's packages, compiled lazily once.

    ``avro_dir``: checked-in ``.avsc`` files; when a plan's derived schema differs
    from its file there, :meth:`plan` raises ConfigError (run ``schemas build``).
    """

    def __init__(self, registry: RegistryLike | None, avro_dir: Path | None = None) -> None:
        self.registry = registry
        self.avro_dir = avro_dir
        self._lock = threading.Lock()
        # keyed by package folder too: an installed release and the bundled one of
        # the same standard and version are different packages with different plans
        self._plans: dict[tuple[str, str, str], dict[str, ConversionPlan]] = {}
        self._by_fingerprint: dict[bytes, ConversionPlan] = {}

    def packages(self) -> list[PackageLike]:
        if self.registry is None:
            return []
        return list(self.registry.packages)

    def package_plans(self, package: PackageLike) -> dict[str, ConversionPlan]:
        """All plans of one package by root Clark name (compiled on first use)."""
        key = (package.standard, package.version, str(getattr(package, "path", "")))
        plans = self._plans.get(key)
        if plans is not None:
            return plans
        with self._lock:
            plans = self._plans.get(key)
            if plans is None:
                plans = compile_plans(package)
                if self.avro_dir is not None:
                    self._check_files(package, plans)
                self._plans[key] = plans
                for plan in plans.values():
                    self._by_fingerprint[plan.fingerprint] = plan
        return plans

    def plan(self, package: PackageLike, message: Any) -> ConversionPlan:
        """The plan of one message type (``message``: MessageType or Clark name)."""
        root = message if isinstance(message, str) else qname(message)
        plans = self.package_plans(package)
        try:
            return plans[root]
        except KeyError:
            raise ConversionError(
                f"{package.standard} {package.version} has no message {root}",
                code="CONVERSION_NO_PLAN",
            ) from None

    def all_plans(self) -> list[ConversionPlan]:
        result: list[ConversionPlan] = []
        for package in self.packages():
            result.extend(self.package_plans(package).values())
        return result

    def plan_for(self, data: bytes) -> ConversionPlan:
        """The plan whose fingerprint single-object encoded ``data`` carries."""
        fingerprint, _ = split_single_object(data)
        plan = self._by_fingerprint.get(fingerprint)
        if plan is None:
            self.all_plans()
            plan = self._by_fingerprint.get(fingerprint)
        if plan is None:
            raise ConversionError(
                f"no known event schema has fingerprint {fingerprint.hex()}",
                code="CONVERSION_UNKNOWN_SCHEMA",
            )
        return plan

    def add_plans(self, plans: Iterable[ConversionPlan]) -> None:
        """Make extra plans (e.g. of an official set) known to :meth:`plan_for`."""
        for plan in plans:
            self._by_fingerprint[plan.fingerprint] = plan

    def _check_files(self, package: PackageLike, plans: dict[str, ConversionPlan]) -> None:
        assert self.avro_dir is not None
        for message in package.messages.values():
            path = avsc_path(self.avro_dir, package, message)
            plan = plans[qname(message)]
            if path.is_file() and path.read_text(encoding="utf-8") != dumps_schema(plan.schema):
                raise ConfigError(f"{path} is stale: run `xoev-hub schemas build`")


def compile_plans(package: PackageLike) -> dict[str, ConversionPlan]:
    """Plans for every message type of a package by root Clark name."""
    roots = [qname(message) for message in package.messages.values()]
    models = build_models(
        package.xmlschema_schema(), roots, avro_namespace(package.standard, package.version)
    )
    return {root: ConversionPlan(model) for root, model in models.items()}


def package_schemas(package: PackageLike) -> dict[Path, str]:
    """Relative .avsc path → file text for every message type of a package."""
    plans = compile_plans(package)
    result: dict[Path, str] = {}
    for message in package.messages.values():
        relative = Path(package.standard) / package.version / file_name(qname(message))
        result[relative] = dumps_schema(plans[qname(message)].schema)
    return result
