"""The local blob store of the claim check: content-addressed per owner, atomic,
mode 0640, streamed; and a copy that checks the SHA-256 on the way."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from hub.xdomea.blobstore import LocalBlobStore, copy_verified


def test_put_open_content_addressed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    old = os.umask(0o000)  # the mode does not depend on the umask
    try:
        data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
        stored = store.put(io.BytesIO(data), owner="solingen.registratur")
    finally:
        os.umask(old)
    digest = hashlib.sha256(data).hexdigest()
    assert stored.ref == f"solingen.registratur/{digest}"
    assert (stored.sha256, stored.size) == (digest, len(data))
    path = store.path_of(stored.ref)
    assert path == tmp_path / "blobs" / "solingen.registratur" / digest[:2] / digest
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with store.open(stored.ref) as fh:
        assert fh.read() == data
    # the same bytes again: the same reference, one file, no temporary left behind
    assert store.put(io.BytesIO(data), owner="solingen.registratur") == stored
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [path]


def test_refs_are_checked(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for bad in ("../x/" + "a" * 64, "owner/" + "A" * 64, "owner/../../etc/passwd", "/" + "a" * 64):
        with pytest.raises(ValueError):
            store.open(bad)
    with pytest.raises(ValueError):
        store.put(io.BytesIO(b"x"), owner="../escape")
    with pytest.raises(FileNotFoundError):
        store.open("solingen.registratur/" + "0" * 64)


def test_spool_is_removed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with store.spool() as path:
        path.write_bytes(b"body")
        assert path.parent == tmp_path / ".tmp"
    assert not path.exists()


def test_copy_verified(tmp_path: Path) -> None:
    data = b"container bytes" * 1000
    target = io.BytesIO()
    assert copy_verified(io.BytesIO(data), target, hashlib.sha256(data).hexdigest()) == len(data)
    assert target.getvalue() == data
    with pytest.raises(ValueError):
        copy_verified(io.BytesIO(data + b"!"), io.BytesIO(), hashlib.sha256(data).hexdigest())
