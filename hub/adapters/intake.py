"""How inbound adapters take a hand-over container (an xdomea ZIP; hub.xdomea.containers).

The adapter spools the body or inbox file into a private scratch file of the blob
store (bounded by ``HUB_CONTAINER_MAX_BYTES``, never held in memory), then
:meth:`ContainerIntake.take`:

1. checks the container (:func:`hub.xdomea.containers.check_container`: sizes, bombs,
   paths, links, duplicates, exactly one xdomea message, only declared files);
2. validates the message inside with the checker of the XML path
   (``hub.core.validation.examine``: parse, identify, XSD, header);
3. only then stores the container in the blob store (content-addressed by the
   authority and its SHA-256) and returns the message with the claim-check headers.

A hostile or invalid container is refused here and never reaches Kafka.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.adapters.precheck import Checker, CheckResult
from hub.xdomea.blobstore import BlobStore, StoredBlob
from hub.xdomea.containers import (
    H_CONTAINER_BYTES,
    H_CONTAINER_REF,
    H_CONTAINER_SHA256,
    CheckedContainer,
    ContainerError,
    ContainerLimits,
    check_container,
)

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Intake:
    """The outcome of taking a container: the message's check, and the stored blob
    (None when the message is invalid: nothing was stored)."""

    check: CheckResult
    container: CheckedContainer
    stored: StoredBlob | None

    @property
    def headers(self) -> dict[str, str]:
        """The claim-check headers to send with the message."""
        if self.stored is None:
            return {}
        return {H_CONTAINER_REF: self.stored.ref, H_CONTAINER_SHA256: self.stored.sha256,
                H_CONTAINER_BYTES: str(self.stored.size)}


class ContainerIntake:
    """Check, validate and store containers for the inbound adapters."""

    def __init__(
        self, store: BlobStore, limits: ContainerLimits, checker: Callable[[], Checker]
    ) -> None:
        """``checker`` makes the message checker when the first container arrives
        (loading the schema packages takes a while; most hubs never see a container)."""
        self.store = store
        self.limits = limits
        self._make_checker = checker
        self._checker: Checker | None = None
        self._lock = threading.Lock()

    @property
    def checker(self) -> Checker:
        with self._lock:
            if self._checker is None:
                self._checker = self._make_checker()
            return self._checker

    def take(self, spooled: Path, authority_id: str) -> Intake:
        """Check the spooled container, validate its message and store it (blocking:
        run it in a thread). Raises ``ContainerError`` or the message's ``ParseError``."""
        with open(spooled, "rb") as fh:
            checked = check_container(fh, self.limits)
        result = self.checker(checked.message)
        if not result.valid:
            return Intake(result, checked, None)
        with open(spooled, "rb") as fh:
            stored = self.store.put(fh, owner=authority_id)
        return Intake(result, checked, stored)


def spool_fd(fd: int, target: Path, limit: int) -> int:
    """Copy an open file (from its start) into ``target`` (a new private file) in
    chunks; ``ContainerError`` (``CONTAINER_TOO_LARGE``) past ``limit`` bytes."""
    size = 0
    out_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(out_fd, "wb") as out:
        while chunk := os.read(fd, CHUNK):
            size += len(chunk)
            if size > limit:
                raise ContainerError(f"container larger than {limit} bytes",
                                     code="CONTAINER_TOO_LARGE")
            out.write(chunk)
    return size
