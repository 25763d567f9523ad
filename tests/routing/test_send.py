"""``xoev-hub send``: key extraction (pure) and the round trip through the real broker."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from hub.core.region import Region
from hub.errors import ConfigError
from hub.kafka.topic_admin import apply_topics
from hub.settings import Settings
from hub.tools.sender import Input, message_key, read_inputs, send

UUID = "6f1c2b3a-0d4e-4f5a-8b9c-0a1b2c3d4e5f"

MESSAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<xmeld:rueckmeldung.anmeldunginland.0201 xmlns:xmeld="http://www.osci.de/xmeld2511a"
    version="25.11a" standard="XMeld" produkt="t" produkthersteller="t">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>{UUID}</nachrichtenUUID>
      <nachrichtentyp><code>0201</code></nachrichtentyp>
    </identifikation.nachricht>
    <leser><kennung>ags:05122000</kennung></leser>
    <autor><kennung>ags:05124000</kennung></autor>
  </nachrichtenkopf.g2g>
  <name>Jürgen Müller-Lüdenscheidt</name>
</xmeld:rueckmeldung.anmeldunginland.0201>
""".encode()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (MESSAGE, UUID),
        (MESSAGE.replace(UUID.encode(), UUID.upper().encode()), UUID.upper()),
        (b"<a><nachrichtenUUID> " + UUID.encode() + b" </nachrichtenUUID></a>", UUID),
        (b"<a><x:nachrichtenUUID xmlns:x='urn:x'>" + UUID.encode() + b"</x:nachrichtenUUID></a>",
         UUID),
        (b"<a><nachrichtenUUID>not-a-uuid</nachrichtenUUID></a>", None),
        (b"<a><nachrichtenUUID>" + UUID.encode() + b"</nachrichtenUUID>", None),  # unclosed
        (MESSAGE[:-20], None),  # truncated: does not parse
        (b"", None),
        (b"not xml at all", None),
        (b"<a/>", None),
        # an entity is never expanded into a key
        (b'<!DOCTYPE a [<!ENTITY u "' + UUID.encode() + b'">]>'
         b"<a><nachrichtenUUID>&u;</nachrichtenUUID></a>", None),
    ],
)
def test_message_key(data: bytes, key: str | None) -> None:
    assert message_key(data) == key


def test_first_uuid_wins() -> None:
    other = "00000000-0000-4000-8000-000000000000"
    data = (f"<a><nachrichtenUUID>{UUID}</nachrichtenUUID>"
            f"<nachrichtenUUID>{other}</nachrichtenUUID></a>").encode()
    assert message_key(data) == UUID


def test_read_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(b"<a/>")
    inputs = read_inputs([str(tmp_path / "a.xml"), "-"], stdin=io.BytesIO(b"<b/>"))
    assert inputs == [Input(str(tmp_path / "a.xml"), b"<a/>"), Input("<stdin>", b"<b/>")]
    with pytest.raises(ConfigError, match=r"^file not found: .*missing\.xml$"):
        read_inputs([str(tmp_path / "a.xml"), str(tmp_path / "missing.xml")])
    with pytest.raises(ConfigError, match="is a directory"):
        read_inputs([str(tmp_path)])
    with pytest.raises(ConfigError, match="only once"):
        read_inputs(["-", "-"], stdin=io.BytesIO(b""))


@pytest.mark.kafka
def test_send_round_trip(
    kafka_settings: Settings, region: Region, write: Callable[[str, str], Path]
) -> None:
    apply_topics(kafka_settings, region)
    broken = b"<unclosed>"
    inputs = [Input("m.xml", MESSAGE), Input("broken.xml", broken)]
    results = send(kafka_settings, region, "wuppertal.meldebehoerde", inputs)
    topic = f"{kafka_settings.topic_prefix}xoev.in.wuppertal.meldebehoerde"
    assert [(r.name, r.topic, r.key, r.ok) for r in results] == [
        ("m.xml", topic, UUID, True), ("broken.xml", topic, None, True)
    ]
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_settings.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=10000,
                             enable_auto_commit=False)
    try:
        records = []
        for record in consumer:
            records.append(record)
            if len(records) == 2:
                break
    finally:
        consumer.close()
    by_value = {r.value: r for r in records}
    assert set(by_value) == {MESSAGE, broken}  # bytes unchanged
    good = by_value[MESSAGE]
    assert good.key == UUID.encode()
    assert (good.partition, good.offset) == (results[0].partition, results[0].offset)
    assert by_value[broken].key is None
    for record in records:
        headers = dict(record.headers)
        assert re.fullmatch(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-01", headers["traceparent"])


@pytest.mark.kafka
def test_cli_send(hub_env: dict[str, str], kafka_settings: Settings, region: Region,
                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    monkeypatch.setenv("HUB_BOOTSTRAP_SERVERS", kafka_settings.bootstrap)
    monkeypatch.setenv("HUB_TOPIC_PREFIX", kafka_settings.topic_prefix)
    (tmp_path / "m.xml").write_bytes(MESSAGE)

    assert main(["send", "--from", "solingen.standesamt", str(tmp_path / "m.xml")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "topics apply" in err  # nothing is auto-created

    assert main(["send", "--from", "velbert.meldebehoerde", str(tmp_path / "m.xml")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "xoev-hub send: error: unknown authority 'velbert.meldebehoerde'; known: "
        + ", ".join(region.authorities)
    ]
    assert main(["send", "--from", "solingen.standesamt", str(tmp_path / "m.xml"),
                 str(tmp_path / "nope.xml")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"xoev-hub send: error: file not found: {tmp_path}/nope.xml\n"
    assert captured.out == ""  # nothing was sent

    apply_topics(kafka_settings, region)
    # the real command line, with a file and standard input
    ok = subprocess.run(
        [sys.executable, "-m", "hub", "send", "--from", "solingen.standesamt",
         str(tmp_path / "m.xml"), "-"],
        env=hub_env, input="<x/>", capture_output=True, text=True, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    topic = f"{kafka_settings.topic_prefix}xoev.in.solingen.standesamt"
    lines = ok.stdout.splitlines()
    assert re.fullmatch(rf".*m\.xml: {re.escape(topic)} partition \d+ offset \d+ key {UUID} "
                        rf"\({len(MESSAGE)} bytes\)", lines[0])
    assert re.fullmatch(rf"<stdin>: {re.escape(topic)} partition \d+ offset \d+ key - \(4 bytes\)",
                        lines[1])
    assert lines[2] == f"sent 2 of 2 file(s), {len(MESSAGE) + 4} bytes, to {topic}"


@pytest.mark.kafka
def test_oversized_file_is_reported_and_the_rest_sent(
    kafka_settings: Settings, region: Region
) -> None:
    apply_topics(kafka_settings, region)
    too_big = b"<a>" + b"x" * (kafka_settings.max_message_bytes + 128 * 1024) + b"</a>"
    # just above the hub's limit: Kafka takes it, so the hub can dead-letter it with a reason
    above = b"<a>" + b"x" * kafka_settings.max_message_bytes + b"</a>"
    results = send(kafka_settings, region, "remscheid.meldebehoerde",
                   [Input("big.xml", too_big), Input("m.xml", MESSAGE), Input("above.xml", above)])
    assert [r.ok for r in results] == [False, True, True]
    assert results[0].error is not None and "MessageSizeTooLarge" in results[0].error
    assert results[1].key == UUID and results[1].offset is not None
