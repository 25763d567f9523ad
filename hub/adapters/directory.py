"""Directory adapters: an inbox folder a city system drops files into, and an
outbox folder the hub writes delivered messages to.

Inbound (``directory-inbound``): only complete files count. Writers create
``name.xml.tmp`` (or a dotfile) and rename it to ``name.xml`` when done; the
source ignores everything else. Per file: read → check → emit (produced with
``acks=all``) → move to ``done/``. A file that can never be accepted moves to
``failed/`` with ``<name>.reason.txt`` (code and detail). A crash at any point
leaves the file in the inbox, so it is sent again on restart: duplicates are
fine, the worker dedupes on nachrichtenUUID.

Outbound (``directory-outbound``): each message becomes ``<message id>.xml``,
written atomically (temporary file in the same folder, fsync, ``os.replace``,
fsync of the folder). Redelivery overwrites the same name: idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from hub.adapters.base import (
    AdapterConfig,
    AdapterContext,
    Emit,
    InboundMessage,
    OutboundMessage,
    Sink,
    Source,
)
from hub.adapters.intake import ContainerIntake, Intake, spool_fd
from hub.adapters.precheck import default_checker
from hub.errors import MessageError, TransientError
from hub.xdomea.blobstore import copy_verified
from hub.xdomea.blobstore import fsync_dir as _fsync_dir
from hub.xdomea.containers import H_CONTAINER_REF, H_CONTAINER_SHA256

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class _Refused(Exception):
    """An inbox file that is never accepted (moved to failed/ with the code)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _open_regular(path: Path) -> int:
    """A read descriptor of ``path``: a symbolic link (it could point anywhere the
    hub may read) and anything but a regular file are refused before any read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Refused("FILE_SYMLINK", "a symbolic link is not accepted") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _Refused("FILE_NOT_REGULAR", "not a regular file")
    return fd


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)
        fh.write(data)


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    if not target.exists():
        return target
    return folder / f"{name}.{time.time_ns()}"


class DirectorySourceConfig(AdapterConfig):
    path: Path = Field(description="The inbox folder (created if missing).")
    done_dir: Path | None = Field(default=None, description="Default: <path>/done.")
    failed_dir: Path | None = Field(default=None, description="Default: <path>/failed.")
    poll_seconds: float = Field(default=0.2, gt=0, le=60)
    max_backoff_seconds: float = Field(default=5.0, gt=0)
    file_mode: int = Field(default=0o640, ge=0, le=0o777,
                           description="Mode of files moved to failed/ and of reasons.")


class DirectorySource(Source):
    """Picks up ``*.xml`` files renamed into a folder; see the module docstring."""

    Config = DirectorySourceConfig
    config: DirectorySourceConfig

    def __init__(self, config: DirectorySourceConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.inbox = config.path
        self.done = config.done_dir or config.path / "done"
        self.failed = config.failed_dir or config.path / "failed"
        self._check = default_checker(context.max_message_bytes)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self, emit: Emit) -> None:
        if self._task is not None:
            return
        for folder in (self.inbox, self.done, self.failed):
            folder.mkdir(parents=True, exist_ok=True)
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(emit), name=f"dir-in:{self.context.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task

    def pending(self) -> list[Path]:
        """Complete files waiting in the inbox, oldest first (``*.xml``, and ``*.zip``
        hand-over containers when the runtime gave a container intake)."""
        suffixes = {".xml", ".zip"} if self.context.containers is not None else {".xml"}
        files = [
            p for p in self.inbox.iterdir()
            if p.suffix in suffixes and not p.name.startswith(".") and p.is_file()
        ]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    async def _run(self, emit: Emit) -> None:
        backoff = self.config.poll_seconds
        while not self._stopping.is_set():
            try:
                files = await asyncio.to_thread(self.pending)
            except OSError as exc:
                log.warning("inbox %s unreadable: %s", self.context.name, exc.strerror)
                files = []
            healthy = True
            for path in files:
                if self._stopping.is_set():
                    return
                try:
                    await self._one(path, emit)
                except TransientError:
                    healthy = False
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # never let the poller die; the file stays
                    log.error("inbox of %s: %s while handling a file; retrying later",
                              self.context.authority_id, type(exc).__name__)
                    healthy = False
                    break
            backoff = (
                self.config.poll_seconds
                if healthy
                else min(self.config.max_backoff_seconds, backoff * 2)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)

    async def _one(self, path: Path, emit: Emit) -> None:
        if path.suffix == ".zip":
            await self._one_container(path, emit)
            return
        try:
            data = await asyncio.to_thread(self._read, path)
        except FileNotFoundError:
            return  # taken away meanwhile
        except _Refused as refused:
            await asyncio.to_thread(self._fail, path, refused.code, refused.detail)
            self.context.rejected(refused.code)
            return
        except OSError as exc:
            raise TransientError(f"inbox file unreadable: {exc.strerror}") from exc
        result = self._check(data)
        if not result.valid:
            problem = result.report.problems[0]
            await asyncio.to_thread(self._fail, path, problem.code, problem.message)
            self.context.rejected(problem.code)
            return
        message = InboundMessage(
            self.context.authority_id, data, result.message_id, {"file": path.name}
        )
        try:
            await emit(message)
        except MessageError as exc:
            await asyncio.to_thread(self._fail, path, exc.code, exc.detail)
            return
        await asyncio.to_thread(self._move, path, self.done)

    async def _one_container(self, path: Path, emit: Emit) -> None:
        """A hand-over container: spool, check, validate, store, emit the message with
        its claim check (hub.adapters.intake); a refused one moves to failed/."""
        intake = self.context.containers
        assert intake is not None
        try:
            taken = await asyncio.to_thread(self._take, path, intake)
        except FileNotFoundError:
            return
        except _Refused as refused:
            await asyncio.to_thread(self._fail, path, refused.code, refused.detail)
            self.context.rejected(refused.code)
            return
        except MessageError as exc:
            await asyncio.to_thread(self._fail, path, exc.code, exc.detail)
            self.context.rejected(exc.code)
            return
        except OSError as exc:
            raise TransientError(f"inbox file or blob store: {exc.strerror}") from exc
        if taken.stored is None:
            problem = taken.check.report.problems[0]
            await asyncio.to_thread(self._fail, path, problem.code, problem.message)
            self.context.rejected(problem.code)
            return
        message = InboundMessage(
            self.context.authority_id, taken.container.message, taken.check.message_id,
            {"file": path.name}, taken.headers,
        )
        try:
            await emit(message)
        except MessageError as exc:
            await asyncio.to_thread(self._fail, path, exc.code, exc.detail)
            return
        await asyncio.to_thread(self._move, path, self.done)

    def _take(self, path: Path, intake: ContainerIntake) -> Intake:
        """Copy the container (no link, a regular file, within the size limit) into a
        private spool file, then check, validate and store that copy."""
        limit = intake.limits.max_bytes
        fd = _open_regular(path)
        with intake.store.spool() as spooled:
            try:
                info = os.fstat(fd)
                if info.st_size > limit:
                    raise _Refused("CONTAINER_TOO_LARGE",
                                   f"container has {info.st_size} bytes, the limit is {limit}")
                spool_fd(fd, spooled, limit)
            finally:
                os.close(fd)
            return intake.take(spooled, self.context.authority_id)

    def _read(self, path: Path) -> bytes:
        """The file's bytes; a symbolic link is refused (it could point anywhere the
        hub may read) and the size is checked before anything is read."""
        limit = self.context.max_message_bytes
        fd = _open_regular(path)
        try:
            info = os.fstat(fd)
            if info.st_size > limit:
                raise _Refused(
                    "XML_TOO_LARGE", f"file has {info.st_size} bytes, the limit is {limit}"
                )
            chunks: list[bytes] = []
            size = 0
            while size <= limit:  # the file may grow after the check
                chunk = os.read(fd, limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _move(self, path: Path, folder: Path) -> Path:
        target = _free_name(folder, path.name)
        os.replace(path, target)
        _fsync_dir(folder)
        return target

    def _fail(self, path: Path, code: str, detail: str) -> None:
        target = self._move(path, self.failed)
        if not target.is_symlink():
            os.chmod(target, self.config.file_mode)
        reason = target.with_name(target.name + ".reason.txt")
        _write_new(reason, f"{code}\n{detail}\n".encode(), self.config.file_mode)
        # file names may carry personal data: log the code only
        log.warning("inbox of %s: a file failed with %s", self.context.authority_id, code)


class DirectorySinkConfig(AdapterConfig):
    path: Path = Field(description="The outbox folder (created at start if possible).")
    fsync: bool = Field(default=True, description="fsync file and folder (keep on in production).")
    file_mode: int = Field(default=0o640, ge=0, le=0o777,
                           description="Mode of the written files, whatever the umask.")


class DirectorySink(Sink):
    """Writes ``<message id>.xml`` atomically into a folder."""

    Config = DirectorySinkConfig
    config: DirectorySinkConfig

    async def start(self) -> None:
        # A folder that cannot be created now (mount down) is reported by deliver.
        with contextlib.suppress(OSError):
            self.config.path.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        return None

    async def deliver(self, batch: Sequence[OutboundMessage]) -> None:
        if not batch:
            return
        for message in batch:
            if not _SAFE_ID.match(message.message_id):
                raise MessageError(
                    "message id is not usable as a file name", code="BAD_MESSAGE_ID"
                )
            if H_CONTAINER_REF in message.headers and self.context.blobs is None:
                raise MessageError("the message carries a container and this sink has "
                                   "no blob store", code="CONTAINER_UNAVAILABLE")
        try:
            await asyncio.to_thread(self._write_all, batch)
        except FileNotFoundError as exc:
            if exc.filename is not None and str(self.config.path) in str(exc.filename):
                raise TransientError(f"outbox not writable: {exc.strerror}") from exc
            raise MessageError("the message's container is not in the blob store",
                               code="CONTAINER_UNAVAILABLE") from exc
        except OSError as exc:
            raise TransientError(f"outbox or blob store: {exc.strerror}") from exc
        except ValueError as exc:
            raise MessageError("the stored container does not match its SHA-256",
                               code="CONTAINER_CORRUPT") from exc

    def _write_all(self, batch: Sequence[OutboundMessage]) -> None:
        """Each message as ``<id>.xml``; a message with a container (claim check) as
        the container itself, ``<id>.zip``, copied from the blob store and checked
        against its SHA-256 on the way."""
        folder = self.config.path
        for message in batch:
            ref = message.headers.get(H_CONTAINER_REF)
            suffix = ".zip" if ref is not None else ".xml"
            target = folder / f"{message.message_id}{suffix}"
            tmp = folder / f".{message.message_id}{suffix}.{os.getpid()}.tmp"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
                os.fchmod(fh.fileno(), self.config.file_mode)  # whatever the umask
                if ref is None:
                    fh.write(message.payload)
                else:
                    assert self.context.blobs is not None
                    try:
                        with self.context.blobs.open(ref) as blob:
                            copy_verified(blob, fh, message.headers.get(H_CONTAINER_SHA256, ""))
                    except BaseException:
                        tmp.unlink(missing_ok=True)
                        raise
                if self.config.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, target)
        if self.config.fsync:
            _fsync_dir(folder)
