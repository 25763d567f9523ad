"""xdomea hand-over containers: a ZIP with one xdomea message and its primary documents.

xdomea transports a hand-over (``Abgabe.Abgabe.0401``) or an archive transfer
(``Aussonderung.Aussonderung.0503``) as a ZIP: the XML message at the root, named
``<ProzessID>_<Nachrichtentyp>.xml`` as the xdomea specification prescribes, plus
the files the message declares (``Primaerdokument/Dateiname``, and
``SignaturSiegel/SignaturSiegelDatei`` for a detached signature or seal).

:func:`check_container` is pure (a seekable file in, a verdict out) and refuses,
each with a code of its own (docs/security.md, "Hand-over containers"):

==============================  ===================================================
``CONTAINER_TOO_LARGE``         the ZIP is larger than ``max_bytes``
``CONTAINER_TOO_MANY_ENTRIES``  more than ``max_entries`` entries (read from the
                                end record before the directory is parsed)
``CONTAINER_BOMB``              total uncompressed size above
                                ``max_uncompressed_bytes``, an entry compressed more
                                than ``max_ratio`` : 1, or entries that overlap
``CONTAINER_PATH``              an absolute, ``..``, backslash, empty or control-
                                character path
``CONTAINER_LINK``              a symbolic link or other special file (mode bits of
                                ``external_attr``; a Windows reparse point)
``CONTAINER_DUPLICATE``         two entries of the same name (compared NFC, case-folded)
``CONTAINER_NO_MESSAGE``        not exactly one root ``*_<Typ>.<Typ>.<NNNN>.xml``, or its
                                root element or ProzessID does not match the name
``CONTAINER_UNDECLARED_FILE``   an entry the message does not declare
``CONTAINER_MISSING_FILE``      a declared file that is not in the container
``CONTAINER_INVALID``           not a ZIP, corrupt (CRC, sizes, headers), encrypted,
                                or compressed other than stored/deflate
==============================  ===================================================

The message itself is parsed hardened (:mod:`hub.core.xmlsafe`, its codes) and must
not exceed ``max_message_bytes``. File names inside a container are document
values (they may carry a document's title): reasons name entries by their index in
the ZIP's central directory (0-based) and declared files by their position in the
message, never by name.

The claim check: a checked container is stored in a :mod:`hub.xdomea.blobstore` and the
message travels through Kafka with :data:`H_CONTAINER_REF` (``<authority>/<sha256>``),
:data:`H_CONTAINER_SHA256` and :data:`H_CONTAINER_BYTES` (docs/decisions/0015).
"""

from __future__ import annotations

import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from hub.errors import ContainerError

__all__ = ["CheckedContainer", "ContainerError", "ContainerLimits", "check_container",
           "claim_headers", "looks_like_zip", "parse_ref"]
from hub.core.xmlsafe import Limits, parse_xml

#: Kafka headers of the claim check (contract headers, decision 0015)
H_CONTAINER_REF = "xoev-container-ref"
H_CONTAINER_SHA256 = "xoev-container-sha256"
H_CONTAINER_BYTES = "xoev-container-bytes"
CONTAINER_HEADERS = (H_CONTAINER_REF, H_CONTAINER_SHA256, H_CONTAINER_BYTES)

#: The first bytes of a ZIP (a local file header).
ZIP_MAGIC = b"PK\x03\x04"
#: Media types that announce a container on HTTP inbound.
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})

XDOMEA_NAMESPACE = "urn:xoev-de:xdomea:schema:"
#: Elements whose text names a file of the container.
DECLARING = frozenset({"Dateiname", "SignaturSiegelDatei"})
#: Entries smaller than this are not held to the ratio (tiny files compress well).
RATIO_FLOOR = 1024 * 1024
_MESSAGE_NAME = re.compile(r"^(?P<pid>[^/_]+)_(?P<type>[A-Za-z]+\.[A-Za-z]+\.\d{4})\.xml$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_CHUNK = 1024 * 1024
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL_ENTRY_MIN = 46  # bytes of a central directory header without name/extra/comment
_MAX_NAME = 1024  # longer entry names are refused (CONTAINER_PATH)
_WINDOWS_REPARSE_POINT = 0x400


@dataclass(frozen=True)
class ContainerLimits:
    """Limits of one container (settings ``HUB_CONTAINER_*``)."""

    max_bytes: int = 200 * 1024 * 1024
    max_entries: int = 10_000
    max_uncompressed_bytes: int = 1024 * 1024 * 1024
    max_ratio: int = 100
    max_message_bytes: int = 4 * 1024 * 1024
    max_depth: int = 256

    @classmethod
    def from_settings(cls, settings: Any) -> ContainerLimits:
        return cls(
            max_bytes=settings.container_max_bytes,
            max_entries=settings.container_max_entries,
            max_uncompressed_bytes=settings.container_max_uncompressed_bytes,
            max_ratio=settings.container_max_ratio,
            max_message_bytes=settings.max_message_bytes,
            max_depth=settings.max_xml_depth,
        )


@dataclass(frozen=True)
class CheckedContainer:
    """A container that passed every check."""

    message: bytes  # the xdomea message's bytes, as in the ZIP
    message_index: int  # its entry index
    message_type: str  # e.g. Abgabe.Abgabe.0401 (the root element)
    entries: int  # entries of the ZIP (directories included)
    files: int  # declared files (primary documents, signatures)
    uncompressed_bytes: int
    size: int  # bytes of the ZIP


def looks_like_zip(head: bytes) -> bool:
    """True if ``head`` (the first bytes of a body or file) starts a ZIP."""
    return head[:4] == ZIP_MAGIC


def check_container(fh: IO[bytes], limits: ContainerLimits = ContainerLimits()) -> CheckedContainer:
    """Check a container read from the seekable binary file ``fh``; raise
    :class:`ContainerError` (or the :mod:`hub.core.xmlsafe` ``ParseError`` of the message)."""
    size = fh.seek(0, 2)
    if size > limits.max_bytes:
        raise ContainerError(f"container has {size} bytes, the limit is {limits.max_bytes}",
                             code="CONTAINER_TOO_LARGE")
    fh.seek(0)
    if not looks_like_zip(fh.read(4)):
        raise ContainerError("not a ZIP (no local file header at the start)")
    _count_entries(fh, size, limits)
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ContainerError(f"the ZIP directory is unreadable ({type(exc).__name__})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise ContainerError(f"{len(infos)} entries, the limit is {limits.max_entries}",
                                 code="CONTAINER_TOO_MANY_ENTRIES")
        total = _check_entries(infos, size, limits)
        index, message_type, pid = _find_message(infos)
        message = _read(archive, infos[index], index, limits.max_message_bytes)
        declared = _declarations(message, message_type, pid, limits)
        _check_declared(infos, index, declared)
        for n, info in enumerate(infos):
            if n != index and not info.is_dir():
                _verify(archive, info, n)
    return CheckedContainer(message, index, message_type, len(infos), len(declared), total,
                            size)


def _count_entries(fh: IO[bytes], size: int, limits: ContainerLimits) -> None:
    """The entry count and directory size of the end record, before ``zipfile`` builds
    an object per directory entry."""
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise ContainerError("not a ZIP (no end of central directory record)")
    (entries, cd_size) = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        locator = at - 20
        if locator < 0 or tail[locator : locator + 4] != _EOCD64_LOCATOR:
            raise ContainerError("ZIP64 end record without its locator")
        (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        if offset + 56 > size:
            raise ContainerError("ZIP64 end record outside the file")
        fh.seek(offset)
        record = fh.read(56)
        if record[:4] != _EOCD64:
            raise ContainerError("ZIP64 end record missing")
        entries, cd_size = struct.unpack("<QQ", record[32:48])
    if entries > limits.max_entries:
        raise ContainerError(f"{entries} entries, the limit is {limits.max_entries}",
                             code="CONTAINER_TOO_MANY_ENTRIES")
    if cd_size > limits.max_entries * (_CENTRAL_ENTRY_MIN + 3 * _MAX_NAME):
        raise ContainerError(
            f"the central directory has {cd_size} bytes, more than {limits.max_entries} "
            "entries may take", code="CONTAINER_TOO_MANY_ENTRIES")


def _path_problem(name: str) -> str | None:
    if not name:
        return "has an empty name"
    if len(name) > _MAX_NAME:
        return f"has a name longer than {_MAX_NAME} characters"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "has a control character in its name"
    if "\\" in name:
        return "has a backslash in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "has a '..' path component"
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' path component"
    return None


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    if info.create_system == 3:  # Unix: the mode is in the high 16 bits
        fmt = stat.S_IFMT(info.external_attr >> 16)
        if fmt == stat.S_IFLNK:
            return "is a symbolic link"
        if fmt not in (0, stat.S_IFREG, stat.S_IFDIR):
            return "is a special file (device, FIFO or socket)"
        if fmt == stat.S_IFDIR and not info.is_dir():
            return "is a directory without a trailing '/'"
    elif info.external_attr & _WINDOWS_REPARSE_POINT:
        return "is a reparse point (a link)"
    return None


def _check_entries(infos: list[zipfile.ZipInfo], size: int, limits: ContainerLimits) -> int:
    seen: set[str] = set()
    total = compressed = 0
    for n, info in enumerate(infos):
        problem = _path_problem(info.filename)
        if problem is not None:
            raise ContainerError(f"entry {n} {problem}", code="CONTAINER_PATH")
        problem = _kind_problem(info)
        if problem is not None:
            raise ContainerError(f"entry {n} {problem}", code="CONTAINER_LINK")
        folded = unicodedata.normalize("NFC", info.filename).casefold()
        if folded in seen:
            raise ContainerError(f"entry {n} repeats the name of an earlier entry",
                                 code="CONTAINER_DUPLICATE")
        seen.add(folded)
        if info.flag_bits & 0x1:
            raise ContainerError(f"entry {n} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ContainerError(
                f"entry {n} uses compression method {info.compress_type} "
                "(only stored and deflate are accepted)")
        total += info.file_size
        compressed += info.compress_size
        if total > limits.max_uncompressed_bytes:
            raise ContainerError(
                f"the entries up to entry {n} unpack to more than "
                f"{limits.max_uncompressed_bytes} bytes", code="CONTAINER_BOMB")
        if (info.file_size > RATIO_FLOOR
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise ContainerError(
                f"entry {n} is compressed {info.file_size // max(info.compress_size, 1)}:1, "
                f"the limit is {limits.max_ratio}:1", code="CONTAINER_BOMB")
    if compressed > size:
        raise ContainerError("the entries' compressed data overlap (more than the file holds)",
                             code="CONTAINER_BOMB")
    return total


def _find_message(infos: list[zipfile.ZipInfo]) -> tuple[int, str, str]:
    found = [
        (n, match)
        for n, info in enumerate(infos)
        if not info.is_dir() and (match := _MESSAGE_NAME.match(info.filename)) is not None
    ]
    if len(found) != 1:
        raise ContainerError(
            f"{len(found)} entries are named like an xdomea message "
            "(<ProzessID>_<Nachrichtentyp>.xml at the root); exactly one is required",
            code="CONTAINER_NO_MESSAGE")
    n, match = found[0]
    return n, match["type"], match["pid"]


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, n: int, limit: int) -> bytes:
    if info.file_size > limit:
        raise ContainerError(f"the message (entry {n}) has {info.file_size} bytes, "
                             f"the limit is {limit}", code="XML_TOO_LARGE")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ContainerError(f"entry {n} is corrupt ({type(exc).__name__})") from None
    if len(data) > limit:
        raise ContainerError(f"the message (entry {n}) is larger than {limit} bytes",
                             code="XML_TOO_LARGE")
    return data


def _verify(archive: zipfile.ZipFile, info: zipfile.ZipInfo, n: int) -> None:
    """Read the entry to its end in chunks: ``zipfile`` stops at the declared size and
    checks the CRC, so a lying header or corrupt data is found here."""
    try:
        with archive.open(info) as member:
            while member.read(_CHUNK):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ContainerError(f"entry {n} is corrupt ({type(exc).__name__})") from None


def _declarations(message: bytes, message_type: str, pid: str,
                  limits: ContainerLimits) -> list[str]:
    root = parse_xml(message, Limits(max_bytes=limits.max_message_bytes,
                                     max_depth=limits.max_depth))
    namespace, _, local = str(root.tag)[1:].partition("}")
    if not namespace.startswith(XDOMEA_NAMESPACE) or local != message_type:
        raise ContainerError("the message's root element is not the xdomea message its "
                             "file name announces", code="CONTAINER_NO_MESSAGE")
    found = root.find(f"{{{namespace}}}Kopf/{{{namespace}}}ProzessID")
    if found is None or (found.text or "").strip() != pid:
        raise ContainerError("the message's ProzessID differs from its file name",
                             code="CONTAINER_NO_MESSAGE")
    return [
        (element.text or "").strip()
        for element in root.iter(*(f"{{{namespace}}}{name}" for name in DECLARING))
    ]


def _check_declared(infos: list[zipfile.ZipInfo], index: int, declared: list[str]) -> None:
    wanted = set(declared)
    present = {info.filename for n, info in enumerate(infos) if n != index}
    for n, info in enumerate(infos):
        if n != index and not info.is_dir() and info.filename not in wanted:
            raise ContainerError(f"entry {n} is not declared by the message",
                                 code="CONTAINER_UNDECLARED_FILE")
    for position, name in enumerate(declared, 1):
        if name not in present:
            raise ContainerError(
                f"declared file {position} of {len(declared)} is not in the container",
                code="CONTAINER_MISSING_FILE")


def claim_headers(headers: Mapping[str, bytes], source: str) -> list[tuple[str, bytes]]:
    """The claim-check headers of an inbound record, checked, to pass on to its
    outputs ([] without a container). The reference must name the sending authority's
    own blob (``<source>/<sha256>``): nobody can claim another authority's container.
    Raises :class:`ContainerError` (``CONTAINER_REF_INVALID``)."""
    present = [h for h in CONTAINER_HEADERS if h in headers]
    if not present:
        return []
    if len(present) != len(CONTAINER_HEADERS):
        raise ContainerError("container headers incomplete: give xoev-container-ref, "
                             "-sha256 and -bytes together", code="CONTAINER_REF_INVALID")
    ref = headers[H_CONTAINER_REF].decode("ascii", "replace")
    digest = headers[H_CONTAINER_SHA256].decode("ascii", "replace")
    size = headers[H_CONTAINER_BYTES].decode("ascii", "replace")
    if not _SHA256.match(digest) or not size.isdigit():
        raise ContainerError("container sha256 or size malformed",
                             code="CONTAINER_REF_INVALID")
    if ref != f"{source}/{digest}":
        raise ContainerError("the container reference does not name a container of the "
                             "sending authority with this sha256", code="CONTAINER_REF_INVALID")
    return [(h, headers[h]) for h in CONTAINER_HEADERS]


def parse_ref(ref: str) -> tuple[str, str]:
    """``<owner>/<sha256>`` → (owner, sha256); ``ValueError`` if malformed."""
    owner, _, digest = ref.partition("/")
    if not _OWNER.match(owner) or not _SHA256.match(digest):
        raise ValueError("malformed container reference")
    return owner, digest
