"""Adapters act with the principal of the authority they serve (decision 0008), and
the ACL plan allows exactly what each built-in adapter does with it. Pure: no broker
(the broker-side proof is test_adapters_acl.py)."""

from __future__ import annotations

import io
import logging
import secrets
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from hub.adapters.framework import AdapterMetrics
from hub.adapters.runtime import (
    SINK,
    SOURCE,
    AdapterRuntime,
    adapter_operations,
    adapter_specs,
    kafka_client_options,
)
from hub.errors import ConfigError
from hub.kafka.config import SaslCredentials, consumer_config, producer_config
from hub.kafka.credentials import KafkaCredentialsRef, parse_reference, resolve_credentials
from hub.logging import configure_logging
from hub.settings import Settings
from hub.tools.acl import allowed, authority_principal, plan_acls
from tests.adapters.conftest import region

HUB, OPS = "User:xoev-hub", "User:xoev-ops"
BUILT_IN = ("directory-inbound", "http-inbound", "directory-outbound", "webhook")


def sasl_settings(prefix: str = "") -> Settings:
    return Settings(
        bootstrap_servers="kafka.example:9093", security_protocol="SASL_SSL",
        sasl_username="xoev-hub", sasl_password=SecretStr("hub-password"),
        topic_prefix=prefix, consumer_group=f"{prefix}hub",
    )


def make_runtime(settings: Settings, the_region: object) -> AdapterRuntime:
    return AdapterRuntime(settings, the_region,  # type: ignore[arg-type]
                          metrics=AdapterMetrics(CollectorRegistry()),
                          http_listen=("127.0.0.1", 0))


def built_in_region(tmp_path: Path, env: str) -> object:
    """Every built-in adapter kind, each for another authority, with its credentials."""
    creds = f"env:{env}"
    return region({
        "solingen.meldebehoerde": [{"type": "directory-inbound", "kafka_credentials": creds,
                                    "path": str(tmp_path / "in")}],
        "remscheid.standesamt": [{"type": "http-inbound", "kafka_credentials": creds,
                                  "token_sha256": ["0" * 64]}],
        "wuppertal.meldebehoerde": [{"type": "directory-outbound", "name": "outbox",
                                     "kafka_credentials": creds,
                                     "path": str(tmp_path / "out")}],
        "remscheid.meldebehoerde": [{"type": "webhook", "kafka_credentials": creds,
                                     "url": "https://hook.example/x", "secret": "s" * 32}],
    })


@pytest.mark.parametrize("prefix", ["", "t1234."])
def test_the_plan_allows_every_built_in_adapter_what_it_does_with_its_authority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("XOEV_TEST_KAFKA_PW", secrets.token_urlsafe(12))
    settings = sasl_settings(prefix)
    the_region = built_in_region(tmp_path, "XOEV_TEST_KAFKA_PW")
    runtime = make_runtime(settings, the_region)
    plan = plan_acls(the_region, settings, HUB, OPS)  # type: ignore[arg-type]
    running = [(r.authority_id, r.name, r.adapter_type, SOURCE, r.credentials)
               for r in runtime.sources]
    running += [(r.authority_id, r.name, r.adapter_type, SINK, r.credentials)
                for r in runtime.sinks]
    assert sorted(kind for _, _, kind, _, _ in running) == sorted(BUILT_IN)
    for authority, name, kind, direction, credentials in running:
        assert credentials is not None and credentials.username == authority
        principal = authority_principal(credentials.username)
        operations = adapter_operations(settings, authority, direction, name)
        assert {op for _, _, op in operations} >= ({"WRITE"} if direction == SOURCE
                                                  else {"READ"})
        for rtype, resource, op in operations:
            assert allowed(plan, principal, rtype, resource, op), (kind, rtype, resource, op)
            # the reason for 0008: the hub's own principal may not do it
            if op in ("WRITE", "READ") and rtype == "TOPIC":
                assert not allowed(plan, HUB, rtype, resource, op), (kind, resource, op)
        # ... nor may another authority
        other = authority_principal("wuppertal.standesamt")
        assert not any(allowed(plan, other, *o) for o in operations if o[2] != "DESCRIBE")
        if direction == SINK:
            group = runtime.group_id(authority, name, own_principal=True)
            assert ("GROUP", group, "READ") in operations
            assert group.startswith(f"{prefix}{authority}.")


def test_without_sasl_the_hub_settings_are_used_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XOEV_TEST_KAFKA_PW", "authority-password")
    settings = Settings(bootstrap_servers="127.0.0.1:9092", consumer_group="g")
    runtime = make_runtime(settings, built_in_region(tmp_path, "XOEV_TEST_KAFKA_PW"))
    assert [r.credentials for r in runtime.sources + runtime.sinks] == [None] * 4
    options = kafka_client_options(settings, None)
    assert options == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}
    assert runtime.group_id("wuppertal.meldebehoerde", "outbox") == (
        "g.adapter.wuppertal.meldebehoerde.outbox"
    )


def test_credentials_replace_only_username_and_password() -> None:
    settings = sasl_settings()
    creds = SaslCredentials("solingen.meldebehoerde", SecretStr("pw-solingen"))
    for build in (producer_config, consumer_config):
        hub, own = build(settings), build(settings, credentials=creds)
        assert hub["sasl_plain_username"] == "xoev-hub"
        assert (own["sasl_plain_username"], own["sasl_plain_password"]) == (
            "solingen.meldebehoerde", "pw-solingen")
        for key in set(hub) - {"sasl_plain_username", "sasl_plain_password"}:
            assert own[key] == hub[key], key
    assert "pw-solingen" not in repr(creds)


@pytest.mark.parametrize("bad, says", [
    ("s3cr3t-password", "env:VARIABLE or file:/absolute/path"),
    ("env:", "environment variable name"),
    ("env:HUB_CRED_SOLINGEN", "HUB_* variables are the hub's settings"),
    ("file:relative/password", "absolute path"),
    ("vault:kv/solingen", "env:VARIABLE or file:/absolute/path"),
])
def test_a_bad_reference_is_refused_without_repeating_it(bad: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("*", r"\*")) as info:
        parse_reference(bad)
    if not bad.startswith(("env:", "file:")):
        assert bad not in str(info.value)
    # in the region file: one line naming the authority and the entry
    entry = {"type": "directory-inbound", "path": "/tmp/x", "kafka_credentials": bad}
    with pytest.raises(ConfigError, match=r"authority solingen\.meldebehoerde: adapters\[0\]"
                       r": kafka_credentials\.password") as refused:
        adapter_specs(region({"solingen.meldebehoerde": [entry]}).get("solingen.meldebehoerde"))
    if not bad.startswith(("env:", "file:")):
        assert bad not in str(refused.value)


def test_env_and_file_references_resolve_and_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_pw, file_pw = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    monkeypatch.setenv("XOEV_KAFKA_SOLINGEN_MB", env_pw)
    (tmp_path / "password").write_text(file_pw + "\n")
    by_env = resolve_credentials(KafkaCredentialsRef.model_validate("env:XOEV_KAFKA_SOLINGEN_MB"),
                                 authority_id="solingen.meldebehoerde", where="x")
    by_file = resolve_credentials(
        KafkaCredentialsRef.model_validate(
            {"username": "svc-solingen", "password": f"file:{tmp_path / 'password'}"}),
        authority_id="solingen.meldebehoerde", where="x")
    assert (by_env.username, by_env.password.get_secret_value()) == (
        "solingen.meldebehoerde", env_pw)
    assert (by_file.username, by_file.password.get_secret_value()) == ("svc-solingen", file_pw)
    out = io.StringIO()
    configure_logging("DEBUG", out)
    try:
        logging.getLogger("aiokafka.conn").debug("auth with %s / %s", env_pw, file_pw)
    finally:
        configure_logging("INFO")
    assert env_pw not in out.getvalue() and file_pw not in out.getvalue()


def test_missing_secrets_are_named_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XOEV_TEST_UNSET_PW", raising=False)
    settings = sasl_settings()
    unset = region({"solingen.meldebehoerde": [
        {"type": "directory-inbound", "name": "inbox", "path": str(tmp_path / "in"),
         "kafka_credentials": "env:XOEV_TEST_UNSET_PW"}]})
    with pytest.raises(ConfigError, match=r"^authority solingen\.meldebehoerde: adapter inbox: "
                       r"kafka_credentials: environment variable XOEV_TEST_UNSET_PW is not set$"):
        make_runtime(settings, unset)
    (tmp_path / "empty").write_text("\n")
    for path, says in ((tmp_path / "nope", "cannot be read"), (tmp_path / "empty", "is empty")):
        missing = region({"wuppertal.meldebehoerde": [
            {"type": "webhook", "url": "https://h.example/", "secret": "s" * 32,
             "kafka_credentials": f"file:{path}"}]})
        with pytest.raises(ConfigError, match=rf"^authority wuppertal\.meldebehoerde: adapter "
                           rf"webhook: kafka_credentials: file {path} {says}"):
            make_runtime(settings, missing)


def test_deploy_k8s_mounts_exactly_the_adapters_users_secrets() -> None:
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("generate", REPO / "deploy/k8s/generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    base = generate.CREDENTIALS_DIR
    the_region = region({
        "solingen.meldebehoerde": [{"type": "directory-inbound", "path": "/srv/in",
                                    "kafka_credentials": f"file:{base}/solingen.meldebehoerde/"
                                                         "password"}],
        "wuppertal.meldebehoerde": [{"type": "kafka"}],
    })
    users = generate.adapter_users(the_region)
    assert users == ["solingen.meldebehoerde"]
    patch = generate.worker_credentials(users)
    pod = patch["spec"]["template"]["spec"]
    [volume] = pod["volumes"]
    assert [s["secret"]["name"] for s in volume["projected"]["sources"]] == users
    assert volume["projected"]["sources"][0]["secret"]["items"][0]["path"] == (
        "solingen.meldebehoerde/password")
    assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == base
    # the committed patch matches the bundled region (no adapters: no secrets)
    import yaml

    committed = yaml.safe_load((REPO / "deploy/k8s/patches/worker-credentials.yaml").read_text())
    from hub.core.region import Region
    from hub.settings import DEFAULT_CONFIG_DIR

    assert committed == generate.worker_credentials(
        generate.adapter_users(Region.load(DEFAULT_CONFIG_DIR / "region.toml")))
    elsewhere = region({"solingen.meldebehoerde": [
        {"type": "directory-inbound", "path": "/srv/in", "kafka_credentials": "env:XOEV_PW"}]})
    with pytest.raises(SystemExit, match="deploy/k8s mounts the KafkaUser secret"):
        generate.adapter_users(elsewhere)


def test_the_hub_may_use_every_contract_topic_it_applies() -> None:
    """The worker describes (and may create) every contract topic at start: the plan
    must cover each one for the hub, or a worker under ACLs cannot start."""
    from hub.core.region import Region
    from hub.kafka.topic_admin import contract_topics
    from hub.settings import DEFAULT_CONFIG_DIR

    settings = sasl_settings("t1.")
    the_region = Region.load(DEFAULT_CONFIG_DIR / "region.toml")
    plan = plan_acls(the_region, settings, HUB, OPS)
    for spec in contract_topics(settings, the_region):
        for op in ("DESCRIBE", "CREATE", "DESCRIBE_CONFIGS"):
            assert allowed(plan, HUB, "TOPIC", spec.name, op), (spec.name, op)
