"""The registry: which schema package and message type a root element belongs to.

Like the KoSIT validator's scenarios, a message is identified by its root
element's namespace and local name. Packages come from two places:

* **bundled**: ``hub/schemas_data/xoev/<package>/package.json``, package data
  (:data:`hub.settings.BUNDLED_SCHEMA_DIR`);
* **installed**: ``<HUB_SCHEMA_DIR>/<package>/package.json``, written by
  ``xoev-hub schemas add``.

Precedence: an installed package wins over a bundled one for the same
namespace (an operator can replace a bundled release, e.g. with a corrected
publication, without touching the project). Among directories passed to
:meth:`SchemaRegistry.load`, later directories win.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from hub.core.header import register_profile
from hub.core.schemas.model import MANIFEST, MessageType, Origin, SchemaPackage
from hub.errors import ConfigError, UnknownMessageError

__all__ = ["SchemaRegistry", "namespace_family"]

_VERSION_PART = re.compile(r"v?\d+(?:[._-]\d+)*[a-z]?(?=$|[/:#])|\d+[a-z]?")


def namespace_family(namespace: str) -> str:
    """The namespace without its release part.

    ``http://www.osci.de/xmeld2511a`` → ``http://www.osci.de/xmeld``;
    ``urn:xoev-de:xdomea:schema:3.0.0`` → ``urn:xoev-de:xdomea:schema:``.
    Two namespaces of one family are two releases of the same standard.
    """
    return _VERSION_PART.sub("", namespace.lower()).rstrip("/:._-")


class SchemaRegistry:
    """All loaded schema packages and the lookup of root elements."""

    def __init__(self, packages: Iterable[SchemaPackage]) -> None:
        """``packages`` in precedence order: for the same namespace, a later one wins."""
        self.packages: Sequence[SchemaPackage] = tuple(packages)
        self._by_qname: dict[str, tuple[SchemaPackage, MessageType]] = {}
        self._namespaces: dict[str, SchemaPackage] = {}
        ordered = self.packages
        for package in ordered:
            for namespace in package.namespaces:
                self._namespaces[namespace] = package
        for package in ordered:
            for qname, message in package.messages.items():
                if self._namespaces.get(message.namespace) is package:
                    self._by_qname[qname] = (package, message)
        self._families = {namespace_family(ns): p for ns, p in self._namespaces.items()}
        # the header reader reads each namespace with the profile of the package
        # that wins it (an invalid profile fails here, when the registry is built)
        for namespace, package in self._namespaces.items():
            register_profile(namespace, package.header_profile(namespace))

    # --- construction -------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Any) -> SchemaRegistry:
        """Bundled packages plus the ones installed in ``settings.schema_dir``."""
        from hub.settings import BUNDLED_SCHEMA_DIR

        return cls._from_dirs([(BUNDLED_SCHEMA_DIR, "bundled"), (settings.schema_dir, "installed")])

    @classmethod
    def load(cls, dirs: Sequence[Path]) -> SchemaRegistry:
        """Packages found in ``dirs`` (each holding ``<package>/package.json``).

        All count as installed; for the same namespace a later directory wins.
        """
        return cls._from_dirs([(Path(d), "installed") for d in dirs])

    @classmethod
    def _from_dirs(cls, dirs: Sequence[tuple[Path, Origin]]) -> SchemaRegistry:
        packages: list[SchemaPackage] = []
        for directory, origin in dirs:
            packages.extend(_scan(Path(directory), origin))
        return cls(packages)

    # --- lookup ------------------------------------------------------------------
    def identify(self, root: etree._Element) -> tuple[SchemaPackage, MessageType]:
        """The package and message type of a parsed message, or UnknownMessageError."""
        tag = root.tag
        if not isinstance(tag, str):
            raise UnknownMessageError("the document has no element root", code="UNKNOWN_MESSAGE")
        found = self._by_qname.get(tag)
        if found is not None:
            return found
        qname = etree.QName(tag)
        namespace, local = qname.namespace or "", qname.localname
        package = self._namespaces.get(namespace)
        if package is not None:
            raise UnknownMessageError(
                f"'{local}' is not a message of {package.label} (namespace {namespace})",
                code="UNKNOWN_MESSAGE",
                path=f"/{local}",
            )
        relative = self._families.get(namespace_family(namespace)) if namespace else None
        if relative is not None:
            known = ", ".join(sorted(self.versions(relative.standard)))
            raise UnknownMessageError(
                f"namespace {namespace} looks like another release of {relative.standard} "
                f"than the installed one(s) ({known}); install that release with "
                "'xoev-hub schemas add'",
                code="UNKNOWN_VERSION",
                path=f"/{local}",
            )
        raise UnknownMessageError(
            f"no schema package knows the namespace {namespace or '(none)'} of root '{local}'",
            code="UNKNOWN_NAMESPACE",
            path=f"/{local}",
        )

    def versions(self, standard: str) -> set[str]:
        return {p.version for p in self.packages if p.standard.lower() == standard.lower()}

    def get(self, standard: str, version: str) -> SchemaPackage:
        """The package of a standard release (installed wins over bundled)."""
        matches = [
            p
            for p in self.packages
            if p.standard.lower() == standard.lower() and p.version == version
        ]
        if not matches:
            raise ConfigError(f"no schema package {standard} {version} is loaded")
        active = [p for p in matches if any(self._namespaces.get(n) is p for n in p.namespaces)]
        installed = [p for p in active or matches if p.origin == "installed"]
        return (installed or active or matches)[-1]

    def active(self, package: SchemaPackage) -> bool:
        """False when another package shadows all of this package's namespaces."""
        return any(self._namespaces.get(n) is package for n in package.namespaces)


def _scan(directory: Path, origin: Origin) -> list[SchemaPackage]:
    if not directory.is_dir():
        return []
    return [
        SchemaPackage.load(manifest.parent, origin)
        for manifest in sorted(directory.glob(f"*/{MANIFEST}"))
    ]
