"""Blob store of the claim check: containers are stored here, Kafka carries a reference.

A reference is ``<owner>/<sha256>``: the authority that handed the container in and
the SHA-256 of its bytes (content-addressed per owner; storing the same bytes again
is a no-op). The interface is small so that another store (object storage) can
replace the local directory:

* ``put(stream, owner=...) -> StoredBlob`` — copies the stream in chunks, hashing as
  it goes; the blob is complete and durable when it returns;
* ``open(ref) -> binary file`` — reads a stored blob (``FileNotFoundError`` when
  it is not there);
* ``spool(limit)`` — a private scratch file beside the store, for a body or inbox
  file that is checked before it is stored.

:class:`LocalBlobStore` (``HUB_BLOB_DIR``): ``<root>/<owner>/<sha[:2]>/<sha>``, written
to a temporary file in ``<root>/.tmp``, fsynced, renamed with ``os.replace`` and
the folder fsynced (readers never see half a blob), mode ``0640`` whatever the
umask, folders ``0750``. Nothing is held in memory beyond one chunk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from hub.xdomea.containers import parse_ref

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    """Where a blob is (``ref``), its SHA-256 (hex) and its size in bytes."""

    ref: str
    sha256: str
    size: int


class BlobStore(Protocol):
    """What the adapters need of a blob store."""

    def put(self, stream: IO[bytes], *, owner: str) -> StoredBlob: ...

    def open(self, ref: str) -> IO[bytes]: ...

    def spool(self) -> contextlib.AbstractContextManager[Path]: ...


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs in a local (or mounted) folder; see the module docstring."""

    def __init__(self, root: Path, *, file_mode: int = 0o640, fsync: bool = True) -> None:
        self.root = Path(root)
        self.file_mode = file_mode
        self.fsync = fsync
        self.scratch = self.root / ".tmp"

    def _folder(self, path: Path) -> None:
        path.mkdir(mode=0o750, parents=True, exist_ok=True)

    def path_of(self, ref: str) -> Path:
        owner, digest = parse_ref(ref)
        return self.root / owner / digest[:2] / digest

    @contextlib.contextmanager
    def spool(self) -> Iterator[Path]:
        """A fresh private file path in the store's scratch folder, removed afterwards."""
        self._folder(self.scratch)
        path = self.scratch / f"spool-{os.getpid()}-{secrets.token_hex(8)}"
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def put(self, stream: IO[bytes], *, owner: str) -> StoredBlob:
        parse_ref(f"{owner}/{'0' * 64}")  # the owner must be usable as a folder name
        self._folder(self.scratch)
        tmp = self.scratch / f"put-{os.getpid()}-{secrets.token_hex(8)}"
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as out:
                os.fchmod(out.fileno(), self.file_mode)  # whatever the umask
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            sha = digest.hexdigest()
            ref = f"{owner}/{sha}"
            target = self.path_of(ref)
            self._folder(target.parent)
            os.replace(tmp, target)  # the same bytes again: the same name, same content
            if self.fsync:
                fsync_dir(target.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return StoredBlob(ref, sha, size)

    def open(self, ref: str) -> IO[bytes]:
        fd = os.open(self.path_of(ref), os.O_RDONLY | os.O_NOFOLLOW)
        return open(fd, "rb")


def copy_verified(source: IO[bytes], target: IO[bytes], sha256: str) -> int:
    """Copy ``source`` to ``target`` in chunks; ``ValueError`` if the bytes do not
    have the SHA-256 ``sha256`` (the target then holds them all the same: write to a
    temporary file). Returns the number of bytes."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    if digest.hexdigest() != sha256:
        raise ValueError("blob does not match its SHA-256")
    return size
