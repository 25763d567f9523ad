"""xdomea end to end through the real broker (issue 14): a 3.0.0 hand-over from
Solingen's registratur to Wuppertal's, read with the xdomea header profile,
delivered with its audit record; a spoofed author dead-lettered; a second message
of the same ProzessID (another type) delivered, not taken for a duplicate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.avro.audit import AUDIT_CODEC
from hub.core.header import read_header
from hub.core.schemas import SchemaRegistry, install
from hub.core.xmlsafe import parse_xml
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.samples import generate
from tests.conftest import official_or_skip

from .harness import drain, produce

pytestmark = pytest.mark.kafka

SOLINGEN, WUPPERTAL = "reg:05122000", "reg:05124000"


@pytest.fixture(scope="module")
def xdomea_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    official = official_or_skip()
    target = tmp_path_factory.mktemp("xdomea-worker-schemas")
    install(official / "xdomea-3.0.0", target)
    return target


def test_xdomea_registratur_to_registratur(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any, xdomea_dir: Path
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    package = SchemaRegistry.load([xdomea_dir]).get("xdomea", "3.0.0")
    handover = generate(package, "0401", seed=11, author_key=SOLINGEN, reader_key=WUPPERTAL)
    header = read_header(parse_xml(handover))
    # the same exchange (ProzessID) continues with another message type of the same author
    follow_up = generate(package, "0402", seed=12, author_key=SOLINGEN, reader_key=WUPPERTAL,
                         overrides={"Kopf/ProzessID": header.message_id})
    assert read_header(parse_xml(follow_up)).message_id == header.message_id
    spoofed = generate(package, "0401", seed=13, author_key=WUPPERTAL, reader_key=SOLINGEN)

    inbound = names.inbound("solingen.registratur")
    worker = start_worker(HUB_SCHEMA_DIR=str(xdomea_dir))
    key = header.message_id.encode()
    produce(kafka_bootstrap, [
        (inbound, key, handover),
        (inbound, key, follow_up),
        (inbound, None, spoofed),
        (inbound, key, handover),  # sent twice: a counted duplicate
    ])
    out_xml = names.out_xml("wuppertal.registratur")
    out_avro = names.out_avro("wuppertal.registratur")
    expected = {out_xml: 2, out_avro: 2, names.audit: 2, names.deadletter: 1}
    topics = [*expected, names.out_xml("solingen.registratur"), names.external]
    got = drain(kafka_bootstrap, topics, until=expected, timeout=180)
    assert worker.alive(), worker.log_text()[-3000:]
    assert {t: got.count(t) for t in topics} == {
        **expected, names.out_xml("solingen.registratur"): 0, names.external: 0
    }, worker.log_text()[-3000:]

    # the original bytes, keyed by the ProzessID, with the contract headers
    values = [r.value for r in got.records[out_xml]]  # type: ignore[attr-defined]
    assert values == [handover, follow_up]
    for headers in got.headers(out_xml):
        assert headers["xoev-message-id"] == key
        assert headers["xoev-standard"] == b"xdomea" and headers["xoev-version"] == b"3.0.0"
        assert headers["xoev-author"] == SOLINGEN.encode()
        assert headers["xoev-reader"] == WUPPERTAL.encode()
    assert [h["xoev-message-type"] for h in got.headers(out_xml)] == [b"0401", b"0402"]

    records: list[Any] = got.records[names.audit]
    audits = [AUDIT_CODEC.decode(r.value) for r in records]
    assert [a["message_type_code"] for a in audits] == ["0401", "0402"]
    for audit in audits:
        assert audit["message_id"] == header.message_id
        assert audit["standard"] == "xdomea" and audit["version"] == "3.0.0"
        assert audit["source_authority"] == "solingen.registratur"
        assert audit["author_key"] == SOLINGEN
        assert audit["reader_keys"] == [WUPPERTAL]
        assert audit["recipients"] == ["wuppertal.registratur"]
        assert audit["external"] is False

    (dead,) = got.headers(names.deadletter)
    assert dead["xoev-error-code"] == b"AUTHOR_MISMATCH"
    assert dead["xoev-source-topic"] == inbound.encode()
    assert got.records[names.deadletter][0].value == spoofed  # type: ignore[attr-defined]
