"""``jsonl-file``: a sink that appends delivered messages to a JSON Lines file.

Each line: ``{"message_id", "authority_id", "headers", "payload_base64"}``.
Idempotent per message id (ids already in the file are skipped), each batch
flushed and fsynced before ``deliver`` returns. An unwritable file raises
``TransientError`` (the hub retries, then dead-letters).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from hub.adapters import AdapterConfig, OutboundMessage, Sink
from hub.errors import TransientError

__all__ = ["JsonlFileSink", "JsonlFileSinkConfig", "read_jsonl"]


class JsonlFileSinkConfig(AdapterConfig):
    path: Path = Field(description="The JSON Lines file (appended to; folder created).")
    fsync: bool = Field(default=True, description="fsync after each batch.")


def read_jsonl(path: Path) -> dict[str, bytes]:
    """Message id → payload of every complete line (a torn last line is skipped)."""
    found: dict[str, bytes] = {}
    if not path.exists():
        return found
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        found[record["message_id"]] = base64.b64decode(record["payload_base64"])
    return found


class JsonlFileSink(Sink):
    """Appends messages to a JSON Lines file; see the module docstring."""

    Config = JsonlFileSinkConfig
    config: JsonlFileSinkConfig

    _written: set[str] | None = None

    async def start(self) -> None:
        with contextlib.suppress(OSError):  # reported by deliver if it persists
            self.config.path.parent.mkdir(parents=True, exist_ok=True)
        self._written = None  # read lazily: the file may be unreachable right now

    async def stop(self) -> None:
        self._written = None

    async def deliver(self, batch: Sequence[OutboundMessage]) -> None:
        if not batch:
            return
        try:
            await asyncio.to_thread(self._append, batch)
        except OSError as exc:
            raise TransientError(f"cannot append to the JSON Lines file: {exc.strerror}") from exc

    def _append(self, batch: Sequence[OutboundMessage]) -> None:
        if self._written is None:
            self._written = set(read_jsonl(self.config.path))
        lines = []
        for message in batch:
            if message.message_id in self._written:
                continue
            lines.append(json.dumps({
                "message_id": message.message_id,
                "authority_id": message.authority_id,
                "headers": dict(message.headers),
                "payload_base64": base64.b64encode(message.payload).decode("ascii"),
            }, ensure_ascii=False))
        if not lines:
            return
        with open(self.config.path, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")  # end a line torn by a crash; read_jsonl skips it
            fh.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
            if self.config.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        self._written.update(m.message_id for m in batch)
