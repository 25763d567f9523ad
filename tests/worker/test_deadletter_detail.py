"""A dead letter's detail is the readable validation text and quotes no document value.

A real worker on the real broker dead-letters schema-invalid messages whose values
carry personal data in forms libxml2 quotes (a pattern, a code list, an attribute
that is not allowed, text where only child elements may stand); the
``xoev-error-detail`` header names the element, the rule and, for the name, the
rejected character as U+1F600 with its line and column — and none of the values.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.core.header import read_header
from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.core.xmlsafe import parse_xml
from hub.kafka.topics import TopicNames
from hub.settings import Settings
from hub.tools.samples import generate

from .conftest import find
from .harness import drain, produce

pytestmark = pytest.mark.kafka

NAME = "Erika\U0001f600 Mustermann-Gabler"


def test_dead_letter_detail_is_rewritten_and_free_of_values(
    kafka_bootstrap: str, worker_settings: Settings, start_worker: Any
) -> None:
    names = TopicNames(worker_settings.topic_prefix)
    region = Region.load(worker_settings.region_file)
    registry = SchemaRegistry.from_settings(worker_settings)
    author = next(a for a in region.authorities.values() if a.kind == "meldebehoerde")
    reader = next(a for a in region.authorities.values()
                  if a.kind == "meldebehoerde" and a.municipality != author.municipality)
    package, message = find(registry, "XMeld", "0201")

    def payload(seed: int) -> str:
        data = generate(package, message, seed=seed, author_key=author.dvdv_key,
                        reader_key=reader.dvdv_key)
        assert read_header(parse_xml(data)).author_key == author.dvdv_key
        return data.decode()

    first = payload(11)
    familienname = re.search(r"<name>([^<]+)</name>", first.split("</nachrichtenkopf.g2g>")[1])
    assert familienname is not None
    bad_name = first.replace(f"<name>{familienname.group(1)}</name>", f"<name>{NAME}</name>", 1)
    bad_code = re.sub(r"(<nachrichtentyp[^>]*>\s*<code>)[^<]+", r"\g<1>Erika-Mustermann-Code",
                      payload(12), count=1)
    bad_attr = payload(13).replace("<nachrichtentyp ", '<nachrichtentyp vermerk="Gabler" ', 1)
    bad_text = payload(14).replace("</nachrichtenkopf.g2g>",
                                   "Erika Mustermann, Hauptstr. 1</nachrichtenkopf.g2g>", 1)
    values = [NAME, "Mustermann", "Gabler", "Hauptstr", "\U0001f600"]
    sends = [(names.inbound(author.id), None, text.encode())
             for text in (bad_name, bad_code, bad_attr, bad_text)]

    worker = start_worker()
    produce(kafka_bootstrap, sends)
    out = drain(kafka_bootstrap, [names.deadletter], until={names.deadletter: len(sends)},
                timeout=120)
    assert worker.alive(), worker.log_text()[-3000:]
    headers = out.headers(names.deadletter)
    assert len(headers) == len(sends)
    details = [h["xoev-error-detail"].decode() for h in headers]
    assert all(h["xoev-error-code"] == b"SCHEMA_INVALID" for h in headers), details
    for detail in details:
        for value in values:
            assert value not in detail, detail
        assert "at line " in detail and ", column " in detail, detail
    by_name = next(d for d in details if "U+1F600 (GRINNING FACE)" in d)
    line, column = map(int, re.search(r"at line (\d+), column (\d+)", by_name).groups())  # type: ignore[union-attr]
    assert bad_name.splitlines()[line - 1][column - 1] == "\U0001f600"
    assert any("code list" in d for d in details), details
    assert any("attribute 'vermerk' is not allowed" in d for d in details), details
    assert any("may contain only child elements" in d for d in details), details
    # the worker's log has no value either
    log = worker.log_text()
    assert not [value for value in values if value in log]
