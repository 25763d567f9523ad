"""Every built-in adapter, end to end, on the SASL_SSL broker with the ACL plan in
force (issue 12, item 1; decision 0008).

One worker (``python -m hub worker``) authenticates as the hub's principal, which
may neither write ``xoev.in.*`` nor read ``xoev.out.*``; its adapters act with the
credentials of the authorities they serve, referenced from the region file:

* HTTP inbound of Remscheid's Standesamt → webhook of Remscheid's Meldebehörde
  (a local HTTP server checks the signature);
* directory inbound of Solingen's Meldebehörde → directory outbound of Wuppertal's;
* Wuppertal's Standesamt's inbox and Solingen's Standesamt's outbox are configured
  with Solingen's Meldebehörde's credentials: the broker refuses them, the worker
  says so in a log line and a metric, backs off, and keeps running.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import TopicAuthorizationFailedError
from security_fixtures import SecuredBroker

from hub.adapters.http_inbound import token_digest
from hub.core.region import Region
from hub.kafka.config import admin_config, producer_config
from hub.kafka.topic_admin import apply_topics
from hub.kafka.topics import TopicNames
from hub.settings import DEFAULT_CONFIG_DIR
from hub.testing.builtin import WebhookReceiver, drop_file, free_port
from hub.tools.acl import apply_acls, plan_acls, upsert_scram_users

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.adapters.conftest import sample  # noqa: E402
from tests.worker.harness import WorkerProcess, hub_env  # noqa: E402

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

HUB, OPS = "xoev-hub", "xoev-ops"
STA_RS, MB_RS = "remscheid.standesamt", "remscheid.meldebehoerde"
MB_SG, MB_WU = "solingen.meldebehoerde", "wuppertal.meldebehoerde"
WRONG_IN, WRONG_OUT = "wuppertal.standesamt", "solingen.standesamt"
USERS = (HUB, OPS, STA_RS, MB_RS, MB_SG, MB_WU, WRONG_IN, WRONG_OUT)
TOKEN = secrets.token_urlsafe(24)
HOOK_SECRET = secrets.token_hex(32)
FAST_RETRY = {"attempts": 20, "base_seconds": 0.2, "max_seconds": 1.0}


def pw_var(user: str) -> str:
    return "XOEV_TEST_KAFKA_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string (ASCII escapes) is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value).__name__)


def write_region(path: Path, adapters: dict[str, list[dict[str, Any]]]) -> Path:
    """The bundled region with the given adapters, as a region file."""
    raw = tomllib.loads((DEFAULT_CONFIG_DIR / "region.toml").read_text(encoding="utf-8"))
    lines = [f"name = {toml_value(raw['name'])}", "[dvdv.prefixes]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in raw["dvdv"]["prefixes"].items()]
    for kind, table in raw["kinds"].items():
        lines += [f"[kinds.{kind}]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    for authority in raw["authority"]:
        authority = {**authority, "adapters": adapters.get(authority["id"],
                                                           authority["adapters"])}
        lines += ["[[authority]]"] + [f"{k} = {toml_value(v)}" for k, v in authority.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Scene:
    worker: WorkerProcess
    topics: TopicNames
    hub_settings: Any
    web_port: int
    hook: WebhookReceiver
    inbox: Path
    outbox: Path
    wrong_inbox: Path
    wrong_outbox: Path

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics",
                                    timeout=5) as answer:
            text = answer.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line
                                                   for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def events(self, event: str, authority: str) -> list[dict[str, Any]]:
        found = []
        for line in self.worker.log_text().splitlines():
            if line.startswith("{") and f'"event":"{event}"' in line:
                record = json.loads(line)
                if record.get("authority") == authority:
                    found.append(record)
        return found


def wait(condition: Any, timeout: float, scene: Scene, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert scene.worker.alive(), scene.worker.log_text()[-4000:]
        assert time.monotonic() < deadline, f"{what} not within {timeout}s\n" + (
            scene.worker.log_text()[-4000:])
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scene(secured_broker: SecuredBroker, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("adapters-acl")
    prefix = f"acl{uuid.uuid4().hex[:8]}."
    passwords = {user: secrets.token_urlsafe(16) for user in USERS}
    admin_settings = secured_broker.admin_settings().model_copy(
        update={"topic_prefix": prefix, "consumer_group": f"{prefix}hub"})
    hub_settings = secured_broker.settings(HUB, passwords[HUB], topic_prefix=prefix,
                                           consumer_group=f"{prefix}hub")
    hook = WebhookReceiver(HOOK_SECRET).__enter__()
    inbox, outbox = root / "solingen-inbox", root / "wuppertal-outbox"
    wrong_inbox, wrong_outbox = root / "wrong-inbox", root / "wrong-outbox"
    region_file = write_region(root / "region.toml", {
        STA_RS: [{"type": "http-inbound", "token_sha256": [token_digest(TOKEN)],
                  "kafka_credentials": f"env:{pw_var(STA_RS)}"}],
        MB_RS: [{"type": "webhook", "url": hook.url, "secret": HOOK_SECRET,
                 "retry": FAST_RETRY, "kafka_credentials": f"env:{pw_var(MB_RS)}"}],
        MB_SG: [{"type": "directory-inbound", "path": str(inbox), "poll_seconds": 0.1,
                 "kafka_credentials": f"env:{pw_var(MB_SG)}"}],
        MB_WU: [{"type": "directory-outbound", "path": str(outbox),
                 "kafka_credentials": f"env:{pw_var(MB_WU)}"}],
        # another authority's (valid) credentials: the broker must refuse them
        WRONG_IN: [{"type": "directory-inbound", "path": str(wrong_inbox),
                    "poll_seconds": 0.1, "max_backoff_seconds": 2.0,
                    "kafka_credentials": {"username": MB_SG,
                                          "password": f"env:{pw_var(MB_SG)}"}}],
        WRONG_OUT: [{"type": "directory-outbound", "path": str(wrong_outbox),
                     "kafka_credentials": {"username": MB_SG,
                                           "password": f"env:{pw_var(MB_SG)}"}}],
    })
    region = Region.load(region_file)
    admin = KafkaAdminClient(**admin_config(admin_settings))
    try:
        upsert_scram_users(admin, passwords)
        apply_topics(admin_settings, region)
        apply_acls(admin, plan_acls(region, hub_settings, f"User:{HUB}", f"User:{OPS}"))
    finally:
        admin.close()
    web_port = free_port()
    env = hub_env(
        secured_broker.bootstrap, prefix, web_port=str(web_port),
        HUB_SECURITY_PROTOCOL="SASL_SSL", HUB_SASL_MECHANISM="SCRAM-SHA-512",
        HUB_SASL_USERNAME=HUB, HUB_SASL_PASSWORD=passwords[HUB],
        HUB_SSL_CAFILE=str(secured_broker.pki.ca_cert),
        HUB_REGION_FILE=str(region_file), HUB_STATE_DIR=str(root / "state"),
        **{pw_var(user): passwords[user] for user in USERS if user not in (HUB, OPS)},
    )
    worker = WorkerProcess(env, root / "worker.log").start()
    scene = Scene(worker, TopicNames(prefix), hub_settings, web_port, hook,
                  inbox, outbox, wrong_inbox, wrong_outbox)
    try:
        wait(lambda: '"event":"worker_started"' in worker.log_text(), 120, scene,
             "worker start")
        yield scene
    finally:
        worker.stop()
        hook.__exit__(None, None, None)
    log = worker.log_text()
    for user in USERS:
        assert passwords[user] not in log, f"{user}'s password in the worker log"


def test_http_inbound_is_produced_as_the_authority_and_delivered_to_the_webhook(
    scene: Scene
) -> None:
    body = sample("XPersonenstand", "25.11", "031010", STA_RS, MB_RS, seed=7)
    request = urllib.request.Request(
        f"http://127.0.0.1:{scene.web_port}/v1/authorities/{STA_RS}/messages", data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/xml"})
    deadline = time.monotonic() + 60
    while True:  # the adapters start with the web port, the producer a moment later
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                assert answer.status == 202
                message_id = json.loads(answer.read())["message_id"]
                break
        except urllib.error.HTTPError as refused:
            assert refused.code == 503 and time.monotonic() < deadline, refused.read()
            time.sleep(0.5)
    wait(lambda: message_id in scene.hook.received, 90, scene, "webhook delivery")
    assert scene.hook.received[message_id] == body
    assert scene.hook.bad_signatures == 0
    # only Remscheid's Standesamt may write its inbound topic: not the hub
    producer = KafkaProducer(**producer_config(scene.hub_settings), acks="all",
                             max_block_ms=10_000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(scene.topics.inbound(STA_RS), b"<forged/>").get(timeout=15)
    finally:
        producer.close(timeout=5)
    http = {"adapter": "http-inbound", "authority": STA_RS, "outcome": "produced"}
    assert scene.metric("xoev_hub_adapter_messages_total", **http) == 1
    hook = {"adapter": "webhook", "authority": MB_RS, "outcome": "delivered"}
    assert scene.metric("xoev_hub_adapter_messages_total", **hook) == 1


def test_directory_inbound_file_reaches_the_directory_outbound(scene: Scene) -> None:
    payloads = {f"m{n}.xml": sample("XMeld", "25.11a", "0201", MB_SG, MB_WU, seed=n)
                for n in range(3)}
    for name, payload in payloads.items():
        drop_file(scene.inbox, name, payload)
    wait(lambda: len(list(scene.outbox.glob("*.xml"))) == 3, 90, scene, "outbox files")
    assert {p.read_bytes() for p in scene.outbox.glob("*.xml")} == set(payloads.values())
    assert sorted(p.name for p in (scene.inbox / "done").iterdir()) == sorted(payloads)
    source = {"adapter": "directory-inbound", "authority": MB_SG, "outcome": "produced"}
    assert scene.metric("xoev_hub_adapter_messages_total", **source) == 3


def test_another_authoritys_credentials_are_refused_clearly_without_a_restart_loop(
    scene: Scene
) -> None:
    payload = sample("XPersonenstand", "25.11", "031010", WRONG_IN, MB_WU, seed=99)
    drop_file(scene.wrong_inbox, "spoof.xml", payload)
    wait(lambda: scene.events("adapter_not_authorized", WRONG_IN), 60, scene,
         "the inbound refusal")
    wait(lambda: scene.events("adapter_not_authorized", WRONG_OUT), 60, scene,
         "the sink refusal")
    first = time.monotonic()
    time.sleep(15)
    # the file stays in the inbox: nothing produced, nothing lost, nothing failed
    assert (scene.wrong_inbox / "spoof.xml").read_bytes() == payload
    assert not (scene.wrong_inbox / "failed").exists() or not any(
        (scene.wrong_inbox / "failed").iterdir())
    source, sink = (scene.events("adapter_not_authorized", a) for a in (WRONG_IN, WRONG_OUT))
    assert {(e["code"], e["topic"], e["level"]) for e in source} == {
        ("KAFKA_NOT_AUTHORIZED", scene.topics.inbound(WRONG_IN), "ERROR")}
    assert {(e["code"], e["topic"]) for e in sink} == {
        ("KAFKA_NOT_AUTHORIZED", scene.topics.out_xml(WRONG_OUT))}
    # one line a minute for a source; a sink's retries back off (2, 4, 8, 16 s ...)
    assert len(source) == 1, source
    waited = [e["retry_in"] for e in sink]
    assert waited == [min(60.0, 2.0 * 2**n) for n in range(len(waited))], waited
    assert len(sink) <= 4, f"{len(sink)} refusals in {time.monotonic() - first:.0f}s"
    labels = {"code": "KAFKA_NOT_AUTHORIZED"}
    assert scene.metric("xoev_hub_adapter_errors_total", authority=WRONG_IN, **labels) >= 2
    assert scene.metric("xoev_hub_adapter_errors_total", authority=WRONG_OUT, **labels) >= 1
    assert list(scene.wrong_outbox.glob("*.xml")) == []
    # the rest of the worker is unaffected: the right principals still work
    before = len(list(scene.outbox.glob("*.xml")))
    drop_file(scene.inbox, "after.xml", sample("XMeld", "25.11a", "0201", MB_SG, MB_WU,
                                               seed=50))
    wait(lambda: len(list(scene.outbox.glob("*.xml"))) == before + 1, 60, scene,
         "delivery after")
