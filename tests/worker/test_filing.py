"""Every message is filed (issue 14 item 4), end to end through the real broker: an
XMeld Rückmeldung and an xdomea hand-over arrive with the file-plan unit and retention
of the region's mapping in their headers, their Avro envelope and their audit record;
an xdomea type the mapping leaves out (FVDaten 0601) is delivered all the same,
without them, and counted in xoev_hub_unfiled_messages_total."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hub.avro import EventCatalog
from hub.avro.audit import AUDIT_CODEC
from hub.core.filing import FilingPlan
from hub.core.header import read_header
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry, install
from hub.core.xmlsafe import parse_xml
from hub.kafka.headers import H_FILE_PLAN_UNIT, H_MESSAGE_TYPE, H_RETENTION_YEARS
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.samples import generate
from tests.conftest import official_or_skip

from .harness import drain, produce
from .test_privacy import free_port

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def xdomea_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    official = official_or_skip()
    target = tmp_path_factory.mktemp("filing-schemas")
    install(official / "xdomea-3.0.0", target)
    return target


def _metrics(port: int, wanted: str, timeout: float = 30) -> str:
    text, deadline = "", time.monotonic() + timeout
    while wanted not in text and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            pass
        if wanted not in text:
            time.sleep(0.5)
    return text


def test_delivered_messages_carry_unit_and_retention_and_unmapped_ones_are_counted(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any, xdomea_dir: Path
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    auth = region.authorities
    registry = SchemaRegistry.load([xdomea_dir])
    bundled = SchemaRegistry.from_settings(worker_settings)
    filing = FilingPlan.from_settings(worker_settings)  # the region's default mapping

    xmeld = bundled.get("XMeld", "25.11a")
    xdomea = registry.get("xdomea", "3.0.0")
    mb_w, mb_s = auth["wuppertal.meldebehoerde"], auth["solingen.meldebehoerde"]
    reg_s, reg_w = auth["solingen.registratur"], auth["wuppertal.registratur"]
    rueckmeldung = generate(xmeld, "0201", seed=5, author_key=mb_w.dvdv_key,
                            reader_key=mb_s.dvdv_key)
    handover = generate(xdomea, "0401", seed=6, author_key=reg_s.dvdv_key,
                        reader_key=reg_w.dvdv_key)
    unmapped = generate(xdomea, "0601", seed=7, author_key=reg_s.dvdv_key,
                        reader_key=reg_w.dvdv_key)
    expected = {
        b"0201": filing.match("XMeld", "25.11a", "0201"),
        b"0401": filing.match("xdomea", "3.0.0", "0401"),
        b"0601": filing.match("xdomea", "3.0.0", "0601"),
    }
    assert expected[b"0201"] is not None and expected[b"0401"] is not None
    assert expected[b"0601"] is None, "the default mapping leaves xdomea FVDaten unfiled"
    assert expected[b"0201"].unit != expected[b"0401"].unit

    port = free_port()
    worker = start_worker(HUB_SCHEMA_DIR=str(xdomea_dir), HUB_WEB_PORT=str(port))
    key = {c: read_header(parse_xml(m)).message_id.encode()
           for c, m in ((b"0201", rueckmeldung), (b"0401", handover), (b"0601", unmapped))}
    produce(kafka_bootstrap, [
        (names.inbound(mb_w.id), key[b"0201"], rueckmeldung),
        (names.inbound(reg_s.id), key[b"0401"], handover),
        (names.inbound(reg_s.id), key[b"0601"], unmapped),
    ])
    outs = {
        names.out_xml(mb_s.id): 1, names.out_avro(mb_s.id): 1,
        names.out_xml(reg_w.id): 2, names.out_avro(reg_w.id): 2, names.audit: 3,
    }
    got = drain(kafka_bootstrap, [*outs, names.deadletter], until=outs, timeout=180)
    assert worker.alive(), worker.log_text()[-3000:]
    assert {t: got.count(t) for t in [*outs, names.deadletter]} == {
        **outs, names.deadletter: 0
    }, worker.log_text()[-3000:]

    # headers: on every output of a filed message, absent on the unmapped one
    seen: dict[bytes, int] = {}
    for topic in outs:
        for headers in got.headers(topic):
            code = headers[H_MESSAGE_TYPE]
            seen[code] = seen.get(code, 0) + 1
            filed = expected[code]
            if filed is None:
                assert H_FILE_PLAN_UNIT not in headers and H_RETENTION_YEARS not in headers
            else:
                assert headers[H_FILE_PLAN_UNIT] == filed.unit.encode()
                assert headers[H_RETENTION_YEARS] == filed.retention_years.encode()
    assert seen == {b"0201": 3, b"0401": 3, b"0601": 3}  # xml, avro, audit each

    # the Avro envelope
    catalog = EventCatalog(SchemaRegistry([*bundled.packages, *registry.packages]))
    for topic, package in ((names.out_avro(mb_s.id), xmeld), (names.out_avro(reg_w.id), xdomea)):
        for record in got.records[topic]:
            code = dict(record.headers)[H_MESSAGE_TYPE]  # type: ignore[attr-defined]
            message = next(m for m in package.messages.values() if m.code == code.decode())
            envelope = catalog.plan(package, message).decode(record.value)[  # type: ignore[attr-defined]
                "envelope"]
            filed = expected[code]
            assert (envelope["file_plan_unit"], envelope["retention_years"]) == (
                (filed.unit, filed.retention_years) if filed else (None, None)
            )

    # the audit records
    audits = {a["message_type_code"]: a for a in (
        AUDIT_CODEC.decode(r.value) for r in got.records[names.audit]  # type: ignore[attr-defined]
    )}
    for code, filed in expected.items():
        audit = audits[code.decode()]
        assert (audit["file_plan_unit"], audit["retention_years"]) == (
            (filed.unit, filed.retention_years) if filed else (None, None)
        )

    # the unmapped type is counted (codes only), the filed ones are not
    line = 'xoev_hub_unfiled_messages_total{message_type="0601",standard="xdomea"} 1.0'
    text = _metrics(port, line)
    assert line in text, text[-3000:]
    unfiled = [ln for ln in text.splitlines() if ln.startswith("xoev_hub_unfiled_messages_total")]
    assert unfiled == [line]
