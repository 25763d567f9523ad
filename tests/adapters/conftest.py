"""Fixtures of the adapter tests: topics on the real broker, a region stand-in."""

from __future__ import annotations

import functools
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.settings import DEFAULT_CONFIG_DIR, Settings, load_settings
from hub.tools.samples import generate

AUTHORITIES = [
    f"{city}.{kind}"
    for city in ("wuppertal", "solingen", "remscheid")
    for kind in ("meldebehoerde", "standesamt", "auslaenderbehoerde")
]
DEFAULT_REGION = DEFAULT_CONFIG_DIR / "region.toml"


def xoev_message(author: str, reader: str, message_id: str | None = None,
                 filler: int = 0) -> bytes:
    """An XÖV-shaped (not schema-valid) message with a g2g-like header, for
    paths that only move bytes."""
    mid = message_id or str(uuid.uuid4())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xmeld:test.0000 xmlns:xmeld="urn:xoev-hub:adapter-tests">'
        "<nachrichtenkopf.g2g><identifikation.nachricht>"
        f"<nachrichtenUUID>{mid}</nachrichtenUUID>"
        "</identifikation.nachricht>"
        f"<leser><kennung>test:{reader}</kennung></leser>"
        f"<autor><kennung>test:{author}</kennung></autor>"
        "</nachrichtenkopf.g2g>"
        f"<inhalt>{'x' * filler}</inhalt></xmeld:test.0000>\n"
    ).encode()


def region(adapters: dict[str, list[dict[str, Any]]]) -> Region:
    """The bundled region (nine authorities), with the given adapter lists."""
    raw = tomllib.loads(DEFAULT_REGION.read_text(encoding="utf-8"))
    for authority in raw["authority"]:
        if authority["id"] in adapters:
            authority["adapters"] = adapters[authority["id"]]
    return Region.from_dict(raw, "bundled region with test adapters")


@functools.cache
def _registry() -> SchemaRegistry:
    return SchemaRegistry.from_settings(load_settings())


def sample(standard: str, version: str, code: str, author: str, reader: str,
           seed: int) -> bytes:
    """A valid XÖV message of the bundled packages from ``author`` to ``reader``
    (authority ids; their DVDV keys from the bundled region go into the header)."""
    keys = region({}).authorities
    return generate(_registry().get(standard, version), code, seed=seed,
                    author_key=keys[author].dvdv_key, reader_key=keys[reader].dvdv_key)


async def create_topics(bootstrap: str, names: list[str],
                        configs: dict[str, str] | None = None) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1,
                                            topic_configs=configs or {})
                                   for n in names])
    finally:
        await admin.close()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> Iterator[Settings]:
    """Settings on the real broker under a fresh prefix, with every contract topic
    (created by ``hub.kafka.topic_admin.apply_topics``, as ``xoev-hub topics apply`` does)."""
    from hub.kafka.topic_admin import apply_topics

    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                             consumer_group=f"{topic_prefix}hub")
    apply_topics(settings, Region.load(settings.region_file))
    yield settings


@pytest.fixture
def hub_worker(kafka_settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """The real worker (``python -m hub worker``) on the test's topics."""
    from tests.worker.harness import WorkerProcess, hub_env

    worker = WorkerProcess(hub_env(kafka_settings.bootstrap, kafka_settings.topic_prefix),
                           tmp_path / "worker.log").start()
    yield worker
    if worker.alive():
        worker.stop()
