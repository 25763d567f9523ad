"""Fixtures of the routing tests: the bundled region and router, and file writers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.core.region import Region
from hub.core.routing import Router
from hub.settings import DEFAULT_CONFIG_DIR, Settings, load_settings

REGION_FILE = DEFAULT_CONFIG_DIR / "region.toml"
ROUTES_FILE = DEFAULT_CONFIG_DIR / "routes.toml"


@pytest.fixture(scope="session")
def region() -> Region:
    return Region.load(REGION_FILE)


@pytest.fixture(scope="session")
def router(region: Region) -> Router:
    return Router.load(ROUTES_FILE, region)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, topic_prefix: str) -> Iterator[Settings]:
    """Settings for the real broker under a unique topic prefix; its topics are deleted after."""
    settings = load_settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    yield settings
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        ours = [t for t in admin.list_topics() if t.startswith(topic_prefix)]
        if ours:
            admin.delete_topics(ours)
    finally:
        admin.close()


@pytest.fixture
def hub_env(kafka_settings: Settings) -> dict[str, str]:
    """Environment for running ``python -m hub`` against the test broker and prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_BOOTSTRAP_SERVERS"] = kafka_settings.bootstrap
    env["HUB_TOPIC_PREFIX"] = kafka_settings.topic_prefix
    return env
