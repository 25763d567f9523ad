"""Where a worker keeps its local table state (RocksDB), one folder per process.

The dedupe table lives in RocksDB (Faust's ``rocksdb://`` store through
``rocksdict``) so that a restarted worker reads from the changelog only what its
folder lacks, not every remembered id. RocksDB allows one process per database,
so each worker takes a *slot*: the first ``slot-<n>`` folder under
``HUB_STATE_DIR/<cluster id>/<consumer group>/`` whose lock it can get. A restarted
worker gets its old slot back (and its state); two workers on one host get two
slots. The lock is an ``flock`` held for the life of the process, so a crashed
worker's slot is free again at once.

The folder is keyed by the Kafka cluster id: a state folder kept across a wiped
or replaced cluster would name changelog offsets that no longer exist.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = ["StateSlot", "cluster_id", "take_slot"]

MAX_SLOTS = 64


class StateSlot:
    """A locked folder; the lock is released when the process ends (or ``release``)."""

    def __init__(self, path: Path, lock: IO[bytes]) -> None:
        self.path = path
        self._lock = lock

    def release(self) -> None:
        self._lock.close()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def take_slot(root: Path, cluster_id: str, group: str) -> StateSlot:
    """Lock and return the first free slot folder of ``group`` on ``cluster_id``."""
    base = root / _safe(cluster_id) / _safe(group)
    base.mkdir(parents=True, exist_ok=True)
    for n in range(MAX_SLOTS):
        path = base / f"slot-{n}"
        path.mkdir(exist_ok=True)
        lock = open(path / ".lock", "ab")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        os.set_inheritable(lock.fileno(), False)
        return StateSlot(path, lock)
    raise RuntimeError(f"all {MAX_SLOTS} state slots under {base} are in use")


def cluster_id(settings: Settings, timeout: float = 15.0) -> str:
    """The Kafka cluster's id (the state folder is keyed by it)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from hub.errors import TransientError
    from hub.kafka.config import admin_config

    try:
        admin = KafkaAdminClient(**admin_config(settings), bootstrap_timeout_ms=int(timeout * 1000))
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    try:
        return str(admin.describe_cluster()["cluster_id"])
    finally:
        admin.close()
