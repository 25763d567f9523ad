"""Installing a published XÖV schema set as a package (``xoev-hub schemas add``).

The manifest is derived from the XSDs themselves:

* **standard / version**: ``--standard``/``--version`` options, else ``set.json``
  beside the XSDs, else the ``fixed`` values of the root attributes
  ``standard``/``version`` declared in the message namespace, else the
  schema's ``<nameKurz>`` appinfo and ``xs:schema/@version``.
* **entry points**: ``set.json``'s ``tops``, else every XSD that declares a
  message element.
* **messages** (the rule): a top-level ``xs:element`` in the namespace of an
  entry point is a message when its name ends in a numeric message code of 4
  or 6 digits (``rueckmeldung.anmeldunginland.0201``,
  ``stA2MB.Geburt.031010``, ``Aussonderung.Aussonderung.0503``): code = the
  digits, name = the rest. Otherwise it is a message when its content model
  (own, named, or inherited type; found by local names) contains a header
  element (``nachrichtenkopf.g2g``, xdomea's ``Kopf``, ...): code and name are
  then the element name itself.
* **header profile** (how messages are addressed, docs/xdomea.md): the
  ``header_profile`` argument (``--header-profile``: ``g2g``, ``xdomea`` or a
  JSON file of XPath expressions), else ``xdomea`` when the message namespaces
  are xdomea releases (``urn:xoev-de:xdomea:schema:*``), else ``g2g``.
* **catalog**: every absolute ``schemaLocation`` reachable from the entry
  points is mapped to a local file, from ``set.json``'s ``urlmap``,
  ``urlmap.json``, an OASIS ``catalog.xml``, a file mirrored at the URL's
  host/path, or a unique file with the URL's file name, in this order.
  An import that cannot be mapped fails the installation: nothing is ever
  fetched from the network.

A folder is installed by reference (``"base"`` in the manifest points at it);
a ZIP is extracted into the package folder (size and path checks applied).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lxml import etree

from hub.core.schemas.model import MANIFEST, XS, SchemaPackage, default_header_profile
from hub.errors import ConfigError

__all__ = ["HEADER_NAMES", "derive_manifest", "install"]

#: header element names that make a top-level element a message
HEADER_NAMES = ("nachrichtenkopf.g2g", "nachrichtenkopf.g2g.bund", "nachrichtenkopf", "Kopf")
_CODE = re.compile(r"^(?P<name>.+)\.(?P<code>\d{4}|\d{6})$")
_MAX_XSD_FILES = 5000
_MAX_ZIP_BYTES = 500 * 1024 * 1024
_MAX_ZIP_MEMBERS = 20000
_Q = f"{{{XS}}}"


def _local(name: str | None) -> str:
    return (name or "").rpartition(":")[2]


@dataclass
class _Xsd:
    path: Path
    namespace: str
    root: etree._Element
    locations: list[str] = field(default_factory=list)
    elements: dict[str, etree._Element] = field(default_factory=dict)
    types: dict[str, etree._Element] = field(default_factory=dict)
    groups: dict[str, etree._Element] = field(default_factory=dict)


def _parse_xsd(path: Path) -> _Xsd:
    parser = etree.XMLParser(
        no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.parse(str(path), parser).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable XSD: {exc}") from exc
    xsd = _Xsd(path=path, namespace=root.get("targetNamespace", ""), root=root)
    for child in root:
        if child.tag in (f"{_Q}import", f"{_Q}include", f"{_Q}redefine") and child.get(
            "schemaLocation"
        ):
            xsd.locations.append(child.get("schemaLocation", ""))
        elif child.tag == f"{_Q}element" and child.get("name"):
            xsd.elements[child.get("name", "")] = child
        elif child.tag in (f"{_Q}complexType", f"{_Q}simpleType") and child.get("name"):
            xsd.types[child.get("name", "")] = child
        elif child.tag == f"{_Q}group" and child.get("name"):
            xsd.groups[child.get("name", "")] = child
    return xsd


def _read_catalogs(src: Path) -> dict[str, Path]:
    """URL → local file from set.json / urlmap.json / catalog.xml at the set's root."""
    mapping: dict[str, Path] = {}
    catalog = src / "catalog.xml"
    if catalog.is_file():
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        try:
            doc = etree.parse(str(catalog), parser).getroot()
            for entry in doc.iter():
                if not isinstance(entry.tag, str):
                    continue
                key = entry.get("systemId") or entry.get("name")
                uri = entry.get("uri")
                if key and uri and etree.QName(entry).localname in ("system", "uri"):
                    mapping[key] = (catalog.parent / uri).resolve()
        except etree.XMLSyntaxError as exc:
            raise ConfigError(f"{catalog}: unreadable catalog: {exc}") from exc
    for name in ("urlmap.json", "set.json"):
        file = src / name
        if file.is_file():
            data = json.loads(file.read_text(encoding="utf-8"))
            urlmap = data.get("urlmap", {}) if name == "set.json" else data
            if isinstance(urlmap, dict):
                for url, rel in urlmap.items():
                    mapping[url] = (src / rel).resolve()
    return mapping


class _Scanner:
    def __init__(self, src: Path, extra_catalog: Mapping[str, Path]) -> None:
        self.src = src.resolve()
        files = sorted(p for p in self.src.rglob("*.xsd") if p.is_file())
        if not files:
            raise ConfigError(f"{src}: no XSD files found")
        if len(files) > _MAX_XSD_FILES:
            raise ConfigError(f"{src}: more than {_MAX_XSD_FILES} XSD files")
        self.files = files
        self.catalog = dict(extra_catalog)
        self._by_name: dict[str, list[Path]] = {}
        for file in files:
            self._by_name.setdefault(file.name, []).append(file.resolve())
        self._cache: dict[Path, _Xsd] = {}

    def xsd(self, path: Path) -> _Xsd:
        path = path.resolve()
        if path not in self._cache:
            self._cache[path] = _parse_xsd(path)
        return self._cache[path]

    def locate(self, location: str, referrer: Path) -> tuple[Path, str | None]:
        """Local file of a schemaLocation; the URL when it was absolute."""
        parsed = urlparse(location)
        if parsed.scheme in ("http", "https"):
            local = self.catalog.get(location)
            if local is None:
                mirrored = (self.src / parsed.netloc / parsed.path.lstrip("/")).resolve()
                candidates = self._by_name.get(Path(parsed.path).name, [])
                if mirrored.is_file():
                    local = mirrored
                elif len(candidates) == 1:
                    local = candidates[0]
                else:
                    raise ConfigError(
                        f"{referrer.name}: import {location} is not in the set's catalog and "
                        "no local copy was found (the hub never downloads schemas)"
                    )
            if not local.is_file() or not local.resolve().is_relative_to(self.src):
                raise ConfigError(f"catalog maps {location} to a missing/foreign file {local}")
            return local.resolve(), location
        if parsed.scheme not in ("", "file"):
            raise ConfigError(f"{referrer.name}: unsupported schemaLocation {location}")
        local = (referrer.parent / (parsed.path if parsed.scheme == "file" else location)).resolve()
        if not local.is_file() or not local.is_relative_to(self.src):
            raise ConfigError(f"{referrer.name}: schemaLocation {location} not found in the set")
        return local, None

    def closure(self, entries: Iterable[Path]) -> tuple[list[_Xsd], dict[str, Path]]:
        seen: dict[Path, _Xsd] = {}
        urls: dict[str, Path] = {}
        todo = [p.resolve() for p in entries]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            xsd = seen[path] = self.xsd(path)
            for location in xsd.locations:
                local, url = self.locate(location, path)
                if url is not None:
                    urls[url] = local
                todo.append(local)
        return list(seen.values()), urls


class _HeaderSearch:
    """Does a declaration's content model contain a header element? (by local names)"""

    def __init__(self, xsds: list[_Xsd]) -> None:
        self.types: dict[str, etree._Element] = {}
        self.groups: dict[str, etree._Element] = {}
        self.elements: dict[str, etree._Element] = {}
        for xsd in xsds:
            self.types.update(xsd.types)
            self.groups.update(xsd.groups)
            self.elements.update(xsd.elements)

    def header_in(self, node: etree._Element, depth: int = 0, seen: set[str] | None = None) -> str:
        seen = set() if seen is None else seen
        if depth > 12:
            return ""
        for child in node.iter(f"{_Q}element", f"{_Q}extension", f"{_Q}restriction", f"{_Q}group"):
            if child is node:
                continue
            if child.tag == f"{_Q}element":
                name = child.get("name") or _local(child.get("ref"))
                if name in HEADER_NAMES:
                    return name
                continue
            ref = _local(child.get("base") or child.get("ref"))
            target = self.types.get(ref) if child.tag != f"{_Q}group" else self.groups.get(ref)
            if target is not None and ref not in seen:
                seen.add(ref)
                found = self.header_in(target, depth + 1, seen)
                if found:
                    return found
        type_name = _local(node.get("type")) if node.tag == f"{_Q}element" else ""
        if type_name and type_name in self.types and type_name not in seen:
            seen.add(type_name)
            return self.header_in(self.types[type_name], depth + 1, seen)
        return ""


def _messages(
    xsds: list[_Xsd], namespaces: set[str]
) -> tuple[list[dict[str, str]], str | None]:
    search = _HeaderSearch(xsds)
    messages: dict[tuple[str, str], dict[str, str]] = {}
    header_counts: dict[str, int] = {}
    for xsd in xsds:
        if xsd.namespace not in namespaces:
            continue
        for name, declaration in xsd.elements.items():
            found = search.header_in(declaration)
            if found:
                header_counts[found] = header_counts.get(found, 0) + 1
            match = _CODE.match(name)
            code: str
            label: str
            if match:
                code, label = str(match["code"]), str(match["name"])
            elif found:
                code, label = name, name
            else:
                continue
            messages[(xsd.namespace, name)] = {
                "namespace": xsd.namespace,
                "root": name,
                "code": code,
                "name": label,
            }
    header = max(header_counts, key=lambda h: header_counts[h]) if header_counts else None
    return [messages[k] for k in sorted(messages)], header


def _fixed_attribute(xsds: list[_Xsd], namespaces: set[str], attribute: str) -> str | None:
    for xsd in xsds:
        if xsd.namespace not in namespaces:
            continue
        for node in xsd.root.iter(f"{_Q}attribute"):
            if node.get("name") == attribute and node.get("fixed"):
                return node.get("fixed")
    return None


def _appinfo_name(xsds: list[_Xsd], namespaces: set[str]) -> str | None:
    for xsd in xsds:
        if xsd.namespace in namespaces:
            for node in xsd.root.iter("nameKurz", "{*}nameKurz"):
                if node.text and node.text.strip():
                    return node.text.strip()
    return None


def derive_manifest(
    src: Path, *, standard: str | None = None, version: str | None = None
) -> dict[str, Any]:
    """Read a published schema set and derive its package manifest.

    Paths in the manifest are relative to ``src``.
    """
    src = src.resolve()
    set_json: dict[str, Any] = {}
    if (src / "set.json").is_file():
        set_json = json.loads((src / "set.json").read_text(encoding="utf-8"))
    scanner = _Scanner(src, _read_catalogs(src))
    tops = [(src / t).resolve() for t in set_json.get("tops", [])]
    if not tops:
        tops = []
        for file in scanner.files:
            xsd = scanner.xsd(file)
            if any(_CODE.match(name) for name in xsd.elements):
                tops.append(file.resolve())
        if not tops:
            # fall back to header-based detection over everything
            search = _HeaderSearch([scanner.xsd(f) for f in scanner.files])
            for file in scanner.files:
                xsd = scanner.xsd(file)
                if any(search.header_in(d) for d in xsd.elements.values()):
                    tops.append(file.resolve())
    if not tops:
        raise ConfigError(f"{src}: no XSD declares a message element (see docs/validation.md)")
    xsds, urls = scanner.closure(tops)
    namespaces = {scanner.xsd(t).namespace for t in tops}
    messages, header = _messages(xsds, namespaces)
    if not messages:
        raise ConfigError(f"{src}: the entry points declare no message elements")
    standard = (
        standard
        or set_json.get("standard")
        or _fixed_attribute(xsds, namespaces, "standard")
        or _appinfo_name(xsds, namespaces)
    )
    version = (
        version
        or set_json.get("version")
        or _fixed_attribute(xsds, namespaces, "version")
        or next((scanner.xsd(t).root.get("version") for t in tops if scanner.xsd(t).root.get(
            "version")), None)
    )
    if not standard or not version:
        raise ConfigError(
            f"{src}: cannot tell the standard/version from the XSDs; pass --standard and --version"
        )
    message_namespaces = sorted({m["namespace"] for m in messages})
    return {
        "standard": str(standard),
        "version": str(version),
        "namespaces": message_namespaces,
        "entry_points": [t.relative_to(src).as_posix() for t in tops],
        "catalog": {url: local.relative_to(src).as_posix() for url, local in sorted(urls.items())},
        "header": header,
        "header_profile": default_header_profile(message_namespaces),
        "messages": messages,
    }


def _slug(standard: str, version: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", f"{standard}-{version}".lower()).strip("-")


def _extract_zip(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > _MAX_ZIP_MEMBERS:
                raise ConfigError(f"{archive}: more than {_MAX_ZIP_MEMBERS} entries")
            if sum(m.file_size for m in members) > _MAX_ZIP_BYTES:
                raise ConfigError(f"{archive}: uncompressed size above {_MAX_ZIP_BYTES} bytes")
            for member in members:
                destination = (target / member.filename).resolve()
                if not destination.is_relative_to(target.resolve()):
                    raise ConfigError(f"{archive}: entry {member.filename!r} leaves the folder")
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"{archive}: not a ZIP file: {exc}") from exc


def _single_folder(path: Path) -> Path:
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return path


def install(
    source: Path,
    schema_dir: Path,
    *,
    standard: str | None = None,
    version: str | None = None,
    header_profile: str | Mapping[str, Any] | None = None,
) -> SchemaPackage:
    """Install a schema set (folder or ZIP) into ``schema_dir``; returns the package.

    ``header_profile`` overrides the derived profile (``"g2g"``, ``"xdomea"`` or
    an XPath profile object). The package must compile with lxml and its header
    profile must be valid before it is put in place; an existing package of the
    same standard and version is replaced.
    """
    source = source.resolve()
    schema_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".adding-", dir=schema_dir))
    try:
        if source.is_dir():
            manifest = derive_manifest(source, standard=standard, version=version)
            manifest["base"] = str(source)
        elif source.is_file() and zipfile.is_zipfile(source):
            _extract_zip(source, staging)
            root = _single_folder(staging)
            manifest = derive_manifest(root, standard=standard, version=version)
            prefix = root.relative_to(staging).as_posix()
            if prefix != ".":
                manifest["entry_points"] = [f"{prefix}/{e}" for e in manifest["entry_points"]]
                manifest["catalog"] = {u: f"{prefix}/{p}" for u, p in manifest["catalog"].items()}
        else:
            raise ConfigError(f"{source}: neither a folder nor a ZIP file")
        if header_profile is not None:
            manifest["header_profile"] = header_profile
        manifest["installed_from"] = str(source)
        manifest["installed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        package = SchemaPackage.load(staging, "installed")
        package.lxml_schema()  # must compile before it is put in place
        for namespace in package.namespaces:  # and its header profile must be valid
            package.header_profile(namespace)
        target = schema_dir / _slug(package.standard, package.version)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        return SchemaPackage.load(target, "installed")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
