"""Dead-letter replay end to end: fix the cause, replay twice, delivered once.

A Meldebehörde sends an XAusländer message of a release the hub does not know
yet (1.23): it is dead-lettered with UNKNOWN_VERSION. The operator installs the
release as a schema package (``xoev-hub schemas add``) — no code change —,
restarts the worker and replays the dead letters twice: the message is
delivered once; the second replay finds the first on the inbound topic and sends
nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.kafka.topics import TopicNames
from hub.settings import BUNDLED_SCHEMA_DIR, Settings, load_settings

from .harness import REPO, drain, produce

pytestmark = pytest.mark.kafka


def new_release(tmp_path: Path) -> Path:
    """The bundled XAusländer 1.22 package re-released as 1.23 (new namespace)."""
    source = tmp_path / "xauslaender-1.23-published"
    shutil.copytree(BUNDLED_SCHEMA_DIR / "xauslaender-1.22", source)
    for extra in ("package.json", "README.md"):
        (source / extra).unlink()
    for xsd in source.rglob("*.xsd"):
        text = xsd.read_text(encoding="utf-8")
        xsd.write_text(text.replace("1_22", "1_23").replace('"1.22"', '"1.23"'), "utf-8")
    return source


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_replay_after_installing_the_release_delivers_once(
    kafka_bootstrap: str,
    worker_settings: Settings,
    worker_env: dict[str, str],
    start_worker: Any,
    tmp_path: Path,
) -> None:
    from hub.tools.samples import generate

    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    published = new_release(tmp_path)
    # the city's system already speaks 1.23: make a message with that package
    elsewhere = tmp_path / "city-schemas"
    cli({**worker_env, "HUB_SCHEMA_DIR": str(elsewhere)}, "schemas", "add", str(published))
    city = SchemaRegistry.from_settings(load_settings(schema_dir=elsewhere))
    package = next(p for p in city.packages if p.version == "1.23")
    message = next(m for m in package.messages.values() if m.code == "030101")
    author = region.authorities["solingen.meldebehoerde"]
    reader = region.authorities["solingen.auslaenderbehoerde"]
    payload = generate(
        package, message, seed=5, author_key=author.dvdv_key, reader_key=reader.dvdv_key
    )

    hub_schemas = tmp_path / "hub-schemas"
    env = {**worker_env, "HUB_SCHEMA_DIR": str(hub_schemas)}
    worker = start_worker("before", HUB_SCHEMA_DIR=str(hub_schemas))
    produce(kafka_bootstrap, [(names.inbound(author.id), None, payload)])
    dead = drain(kafka_bootstrap, [names.deadletter], total=1, timeout=120)
    assert [h["xoev-error-code"] for h in dead.headers(names.deadletter)] == [b"UNKNOWN_VERSION"]

    cli(env, "schemas", "add", str(published))
    assert worker.stop() == 0
    start_worker("after", HUB_SCHEMA_DIR=str(hub_schemas))
    replayed = cli(env, "dlq", "replay", "--code", "UNKNOWN_VERSION")
    assert "1 dead letter(s) replayed" in replayed.stdout
    again = cli(env, "dlq", "replay", "--code", "UNKNOWN_VERSION")
    assert "0 dead letter(s) replayed, 1 skipped" in again.stdout
    assert "replayed before" in again.stderr

    out = drain(
        kafka_bootstrap,
        [names.out_xml(reader.id), names.out_avro(reader.id), names.audit, names.deadletter],
        until={names.audit: 1},
        timeout=120,
        settle=8,
    )
    assert out.count(names.out_xml(reader.id)) == 1
    assert out.count(names.out_avro(reader.id)) == 1
    assert out.count(names.audit) == 1
    assert out.count(names.deadletter) == 1  # only the original dead letter
    assert out.records[names.out_xml(reader.id)][0].value == payload  # type: ignore[attr-defined]
