"""Schema packages: one XÖV standard release, its XSDs, catalog and message types."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlparse

from lxml import etree

from hub.core.header import XDOMEA_NAMESPACE_PREFIX, HeaderProfile, profile_from_spec
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.core.validation import ValidationReport

__all__ = ["MANIFEST", "MessageType", "SchemaPackage", "default_header_profile"]

MANIFEST = "package.json"
XS = "http://www.w3.org/2001/XMLSchema"
_WRAPPER = "file:///xoev-hub-package-wrapper/"

Origin = Literal["bundled", "installed"]


@dataclass(frozen=True)
class MessageType:
    """One message of a standard: root element name, code and name."""

    namespace: str
    root: str
    code: str
    name: str

    @property
    def qname(self) -> str:
        """Clark notation ``{namespace}root`` as used by lxml."""
        return f"{{{self.namespace}}}{self.root}"


class _CatalogResolver(etree.Resolver):
    """Resolves absolute schemaLocations through the package catalog; refuses the rest.

    Allowed: the generated wrapper documents, URLs listed in the catalog (mapped
    to local files), and local files inside the package's XSD tree. Anything
    else (another URL, a file outside the tree) raises, so compiling a schema
    never touches the network and reads nothing outside the package.
    """

    def __init__(self, package: SchemaPackage, wrappers: Mapping[str, str]) -> None:
        super().__init__()
        self._package = package
        self._wrappers = wrappers
        self.refused: list[str] = []

    # lxml-stubs 0.5 omit the context argument and resolve_filename
    def resolve(  # type: ignore[override]
        self, system_url: str | None, public_id: str | None, context: Any
    ) -> Any:
        url = system_url or ""
        if url in self._wrappers:
            return self.resolve_string(self._wrappers[url], context, base_url=url)
        local = self._package.catalog_path(url)
        if local is not None:
            return self.resolve_filename(str(local), context)  # type: ignore[attr-defined]
        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            path = Path(unquote(parsed.path)).resolve()
            if path.is_relative_to(self._package.base):
                return None  # libxml2 reads the local file itself
        self.refused.append(url)
        raise ConfigError(
            f"schema package {self._package.label}: import {url!r} is not in its catalog "
            "(refused: the hub never fetches schemas from the network)"
        )


class SchemaPackage:
    """A schema package loaded from a folder with ``package.json``.

    ``path`` is the package folder (where the manifest lives); ``base`` is the
    root of its XSD tree: the folder itself, or the manifest's ``"base"``.
    """

    def __init__(self, path: Path, manifest: Mapping[str, Any], origin: Origin) -> None:
        try:
            self.standard: str = str(manifest["standard"])
            self.version: str = str(manifest["version"])
            self.namespaces: tuple[str, ...] = tuple(manifest["namespaces"])
            self.entry_points: tuple[str, ...] = tuple(manifest["entry_points"])
            self.catalog: Mapping[str, str] = dict(manifest.get("catalog", {}))
            self.header: str | None = manifest.get("header")
            #: manifest "header_profile": "g2g", "xdomea" or an object of XPath
            #: expressions; absent: "xdomea" for xdomea namespaces, else "g2g"
            self.header_profile_spec: Any = manifest.get("header_profile") or (
                default_header_profile(manifest["namespaces"])
            )
            messages = [
                MessageType(
                    namespace=m["namespace"], root=m["root"], code=str(m["code"]), name=m["name"]
                )
                for m in manifest["messages"]
            ]
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path / MANIFEST}: invalid manifest ({exc!r} missing or wrong)"
            ) from exc
        self.path = path
        self.origin: Origin = origin
        self.base = Path(manifest.get("base") or path).resolve()
        self.messages: Mapping[str, MessageType] = {m.qname: m for m in messages}
        self.manifest: Mapping[str, Any] = manifest
        self._lock = threading.Lock()
        self._lxml: etree.XMLSchema | None = None
        self._xmlschema: Any = None
        self._profiles: dict[str, HeaderProfile] = {}

    @classmethod
    def load(cls, path: Path, origin: Origin) -> SchemaPackage:
        manifest_file = path / MANIFEST
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{manifest_file}: cannot read manifest: {exc}") from exc
        if not isinstance(manifest, dict):
            raise ConfigError(f"{manifest_file}: manifest must be a JSON object")
        return cls(path, manifest, origin)

    @property
    def header_profile_name(self) -> str:
        """``g2g``, ``xdomea`` or the name of the manifest's XPath profile."""
        spec = self.header_profile_spec
        if isinstance(spec, Mapping):
            return str(spec.get("name") or "xpath")
        return str(spec)

    def header_profile(self, namespace: str | None = None) -> HeaderProfile:
        """The header profile of this package's messages (of ``namespace``), compiled once.

        ``ConfigError`` naming the manifest when the profile is unknown or invalid.
        """
        namespace = self.namespaces[0] if namespace is None and self.namespaces else namespace
        key = namespace or ""
        profile = self._profiles.get(key)
        if profile is None:
            profile = self._profiles[key] = profile_from_spec(
                self.header_profile_spec, key, where=f"{self.path / MANIFEST}: header_profile"
            )
        return profile

    @property
    def label(self) -> str:
        return f"{self.standard} {self.version}"

    def __repr__(self) -> str:
        return f"<SchemaPackage {self.label} ({self.origin}) {self.path}>"

    def message_by_code(self, code: str) -> MessageType | None:
        for message in self.messages.values():
            if message.code == code:
                return message
        return None

    def catalog_path(self, url: str) -> Path | None:
        """The local file for an absolute import URL, if the catalog maps it."""
        relative = self.catalog.get(url)
        if relative is None:
            return None
        local = (self.base / relative).resolve()
        if not local.is_relative_to(self.base):
            raise ConfigError(f"schema package {self.label}: catalog entry leaves the package")
        return local

    def entry_files(self) -> list[Path]:
        files = [(self.base / entry).resolve() for entry in self.entry_points]
        for file in files:
            if not file.is_relative_to(self.base) or not file.is_file():
                raise ConfigError(f"schema package {self.label}: entry point {file} not found")
        return files

    # --- lxml (hot path) ----------------------------------------------------
    def lxml_schema(self) -> etree.XMLSchema:
        """The package compiled by libxml2, once (thread-safe, cached)."""
        if self._lxml is None:
            with self._lock:
                if self._lxml is None:
                    self._lxml = self._compile_lxml()
        return self._lxml

    def _compile_lxml(self) -> etree.XMLSchema:
        by_namespace: dict[str, list[str]] = {}
        for file in self.entry_files():
            namespace = _target_namespace(file)
            by_namespace.setdefault(namespace, []).append(file.as_uri())
        # One wrapper per namespace includes its entry points; the main wrapper
        # imports the namespaces. Both are served by the resolver from memory.
        wrappers: dict[str, str] = {}
        imports = []
        for index, (namespace, files) in enumerate(sorted(by_namespace.items())):
            url = f"{_WRAPPER}{index}.xsd"
            includes = "".join(f'<xs:include schemaLocation="{_attr(f)}"/>' for f in files)
            tns = f' targetNamespace="{_attr(namespace)}"' if namespace else ""
            wrappers[url] = f'<xs:schema xmlns:xs="{XS}"{tns}>{includes}</xs:schema>'
            ns_attr = f' namespace="{_attr(namespace)}"' if namespace else ""
            imports.append(f'<xs:import{ns_attr} schemaLocation="{url}"/>')
        parser = etree.XMLParser(
            no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False
        )
        resolver = _CatalogResolver(self, wrappers)
        parser.resolvers.add(resolver)
        main = f'<xs:schema xmlns:xs="{XS}">{"".join(imports)}</xs:schema>'
        try:
            document = etree.fromstring(main.encode(), parser, base_url=f"{_WRAPPER}main.xsd")
            return etree.XMLSchema(document)
        except etree.XMLSchemaParseError as exc:
            if resolver.refused:
                raise ConfigError(
                    f"schema package {self.label}: import {resolver.refused[0]!r} is not in "
                    "its catalog (refused: the hub never fetches schemas from the network)"
                ) from exc
            raise ConfigError(f"schema package {self.label} does not compile: {exc}") from exc

    # --- xmlschema (build-time tools) -------------------------------------------
    def xmlschema_schema(self) -> Any:
        """The package as an ``xmlschema.XMLSchema`` (slow to build; cached).

        Absolute imports go through the catalog (``uri_mapper``, which also
        redirects any other remote URL to a path that cannot be read);
        ``allow='local'`` forbids remote access (xmlschema's
        ``'sandbox'`` would confine reads to the entry point's own folder, which
        excludes the mirrored import tree); ``defuse='nonlocal'`` parses anything
        not local with a safe parser. Local XSDs may carry an internal DTD (the
        W3C xmldsig schema declares entities for its namespace): XSDs are
        installed by the operator, messages never get a DTD. Nothing is
        fetched from the network.
        """
        if self._xmlschema is None:
            with self._lock:
                if self._xmlschema is None:
                    self._xmlschema = self._compile_xmlschema()
        return self._xmlschema

    def _compile_xmlschema(self) -> Any:
        import xmlschema

        def uri_mapper(uri: str) -> str:
            local = self.catalog_path(uri)
            if local is not None:
                return local.as_uri()
            if urlparse(uri).scheme in ("", "file"):
                return uri  # local files (the XSD tree, documents being validated)
            # a remote URL the catalog does not know: a location that cannot be read
            return (self.base / ".refused-by-xoev-hub" / "refused.xsd").as_uri()

        files = self.entry_files()
        try:
            return xmlschema.XMLSchema(
                [str(f) for f in files] if len(files) > 1 else str(files[0]),
                uri_mapper=uri_mapper,
                allow="local",
                defuse="nonlocal",
                build=True,
            )
        except (xmlschema.XMLSchemaException, OSError) as exc:
            raise ConfigError(f"schema package {self.label} does not build: {exc}") from exc

    def validate(self, root: etree._Element) -> ValidationReport:
        """Validate a parsed message against this package (results as data)."""
        from hub.core.validation import validate_root

        return validate_root(self, root)


def default_header_profile(namespaces: Any) -> str:
    """The header profile of a package whose manifest names none: ``xdomea`` when its
    message namespaces are xdomea releases (``urn:xoev-de:xdomea:schema:*``), else
    ``g2g`` (every other XÖV standard at hand; packages installed before profiles
    existed keep working)."""
    names = [str(n) for n in namespaces or ()]
    if names and all(n.startswith(XDOMEA_NAMESPACE_PREFIX) for n in names):
        return "xdomea"
    return "g2g"


def _target_namespace(file: Path) -> str:
    with file.open("rb") as stream:
        for _event, element in etree.iterparse(
            stream, events=("start",), no_network=True, resolve_entities=False, load_dtd=False
        ):
            return str(element.get("targetNamespace", ""))
    return ""  # pragma: no cover - iterparse yields the root first


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
