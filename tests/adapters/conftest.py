"""Fixtures of the adapter tests: topics on the real broker, a region stand-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.settings import Settings, load_settings
from hub.topics import TopicNames

AUTHORITIES = [
    f"{city}.{kind}"
    for city in ("wuppertal", "solingen", "remscheid")
    for kind in ("meldebehoerde", "standesamt", "auslaenderbehoerde")
]
#: reader keys used by the test messages (leser/kennung) → authority id
READERS = {f"test:{a}": a for a in AUTHORITIES}


def xoev_message(author: str, reader: str, message_id: str | None = None,
                 filler: int = 0) -> bytes:
    """An XÖV-shaped message with a g2g header (author/reader keys from READERS)."""
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


def region(adapters: dict[str, list[dict[str, Any]]]) -> Any:
    """A region stand-in: the nine authorities, with the given adapter lists."""
    return SimpleNamespace(authorities={
        a: SimpleNamespace(id=a, adapters=adapters.get(a, [])) for a in AUTHORITIES
    })


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
    """Settings on the real broker under a fresh prefix, with every contract topic."""
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                             consumer_group=f"{topic_prefix}hub")
    names = TopicNames(topic_prefix)
    topics = [names.deadletter]
    for a in AUTHORITIES:
        topics += [names.inbound(a), names.out_xml(a)]
    asyncio.run(create_topics(kafka_bootstrap, topics))
    yield settings
