"""`xoev-hub simulate` twice delivers twice: the seed fixes content and timing, every
run gets fresh nachrichtenUUIDs (``--repeat-ids`` keeps the seed's)."""

from __future__ import annotations

import re

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.settings import load_settings
from hub.tools.simulate import Simulator, load_flows

BODY = re.compile(rb"<nachrichtenUUID>[^<]*</nachrichtenUUID>|<[^>]*erstellungszeitpunkt>[^<]*<")


def run(fresh: bool) -> list[tuple[str, bytes, str, str]]:
    settings = load_settings()
    simulator = Simulator(
        Region.load(settings.region_file), SchemaRegistry.from_settings(settings),
        load_flows(), seed=5, fresh_ids=fresh,
    )
    return [
        (m.message_id, BODY.sub(b"", m.payload), m.author.id, m.reader.id)
        for m in simulator.messages(12)
    ]


def test_two_runs_with_one_seed_differ_only_in_their_ids() -> None:
    first, second = run(True), run(True)
    assert {m[0] for m in first}.isdisjoint({m[0] for m in second})
    assert len({m[0] for m in first}) == 12
    assert [m[1:] for m in first] == [m[1:] for m in second]  # same content, same pairs


def test_repeat_ids_keeps_the_seeds_ids() -> None:
    assert [m[0] for m in run(False)] == [m[0] for m in run(False)]
