"""Baseline (a) of bench_e2e: the obvious Faust implementation.

A Faust agent on the inbound topics that decodes each message with xmlschema
(``to_dict``, which also validates) and produces JSON to one output topic.
Run by bench_e2e.py as ``python bench/baseline_naive_faust.py PREFIX GROUP``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import faust
from lxml import etree

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.kafka.topics import TopicNames
from hub.settings import load_settings

prefix, group = sys.argv[1], sys.argv[2]
settings = load_settings()
names = TopicNames(prefix)
region = Region.load(settings.region_file)
registry = SchemaRegistry.from_settings(settings)
schemas = {p.namespaces[0]: p.xmlschema_schema() for p in registry.packages}
app = faust.App(
    group,
    broker=f"kafka://{settings.bootstrap}",
    store="memory://",
    autodiscover=False,
    web_enabled=False,
    topic_partitions=settings.topic_partitions,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=0.05,
    # Faust keeps an (empty, memory store) data folder; keep it out of the checkout.
    datadir=tempfile.mkdtemp(prefix="xoev-bench-naive-"),
)
source = app.topic(*[names.inbound(a) for a in region.authorities], value_serializer="raw")
sink = app.topic(f"{prefix}naive.out", value_serializer="raw")


async def naive(stream):  # type: ignore[no-untyped-def]
    async for value in stream:
        namespace = etree.QName(etree.fromstring(value)).namespace
        data = schemas[namespace].to_dict(value.decode("utf-8"))
        await sink.send(value=json.dumps(data, default=str).encode())


app.agent(source, name="naive")(naive)
os.environ.setdefault("PYTHONUNBUFFERED", "1")
faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()
