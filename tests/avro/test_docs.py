"""The consumer example of docs/avro.md runs and decodes a real event."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from hub.avro import ConversionPlan, dumps_schema
from tests.avro.conftest import DATA, ENVELOPE
from tests.conftest import REPO


def test_consumer_example_decodes_an_event(features_plan: ConversionPlan, tmp_path: Path) -> None:
    text = (REPO / "docs" / "avro.md").read_text(encoding="utf-8")
    section = text[text.index("## Decoding without a registry") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "docs/avro.md", "exec"), namespace)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "probe.avsc").write_text(dumps_schema(features_plan.schema))
    root = etree.parse(str(DATA / "full.xml")).getroot()
    record = features_plan.to_record(root, ENVELOPE)
    data = features_plan.encode(record)
    schemas = namespace["load_schemas"](tmp_path)  # type: ignore[operator]
    decoded = namespace["decode_event"](data, schemas)  # type: ignore[operator]
    assert decoded == features_plan.decode(data)
    assert decoded["envelope"]["message_id"] == ENVELOPE.message_id
