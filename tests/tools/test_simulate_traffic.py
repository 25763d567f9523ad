"""The simulator is the one traffic source: the demo sends through run_simulation and
addressed (its faults included), ``xoev-hub simulate`` through the same two, without
faults."""

from __future__ import annotations

import random
import threading

from hub.core.region import Region
from hub.core.schemas import SchemaRegistry
from hub.kafka.topics import TopicNames
from hub.settings import load_settings
from hub.tools.simulate import SimulatedMessage, Simulator, addressed, load_flows, run_simulation


def simulator(seed: int = 3) -> Simulator:
    settings = load_settings()
    return Simulator(Region.load(settings.region_file), SchemaRegistry.from_settings(settings),
                     load_flows(), seed=seed, fresh_ids=False)


def test_without_faults_a_message_goes_unchanged_to_its_authors_topic() -> None:
    sim = simulator()
    names = TopicNames("p.")
    rng = random.Random(1)
    before = rng.getstate()
    for message in sim.messages(5):
        assert addressed(message, names, rng=rng, region=sim.region) == (
            f"p.xoev.in.{message.author.id}", message.payload
        )
    # nothing is drawn without faults: a seed's traffic stays what it was
    assert rng.getstate() == before


def test_faults_turn_a_share_into_the_three_typical_bad_messages() -> None:
    sim = simulator()
    names = TopicNames()
    rng = random.Random(7)
    kinds = {"invalid": 0, "spoofed": 0, "malformed": 0, "good": 0}
    for message in sim.messages(300):
        topic, payload = addressed(message, names, faults=0.5, rng=rng, region=sim.region)
        if payload == b"<kein-xml":
            kinds["malformed"] += 1
        elif topic != names.inbound(message.author.id):
            kinds["spoofed"] += 1
            assert payload == message.payload
        elif payload != message.payload:
            kinds["invalid"] += 1
            assert b"nachrichtenUUID>x" in payload
        else:
            kinds["good"] += 1
    assert all(n > 0 for n in kinds.values()), kinds
    assert 100 < kinds["good"] < 200, kinds


def test_run_simulation_stops_when_told() -> None:
    sim = simulator()
    stop = threading.Event()
    sent: list[SimulatedMessage] = []

    def send(message: SimulatedMessage) -> None:
        sent.append(message)
        if len(sent) == 7:
            stop.set()

    summary = run_simulation(sim, send, rate=1000.0, stop=stop)
    assert summary.sent == len(sent) == 7
    assert sum(summary.by_flow.values()) == 7
