"""``xoev-hub simulate``: produce realistic regional XÖV traffic.

Moves between the region's municipalities produce Rückmeldungen, births in one
city's hospital for parents living in another, deaths, marriages, foreigners
registering — as configured in the flows file — at ``--rate`` messages per
second for ``--duration`` seconds (or ``--count`` messages), reproducible with
``--seed``. Shows progress and ends with a summary by flow and city pair.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second (default 20)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--duration", type=float, help="seconds to run (default 30)")
    group.add_argument("--count", type=int, help="number of messages instead of a duration")
    parser.add_argument(
        "--seed", type=int, default=1,
        help="random seed for content and timing (default 1); every run gets fresh "
        "nachrichtenUUIDs unless --repeat-ids",
    )
    parser.add_argument(
        "--repeat-ids", action="store_true",
        help="reuse the seed's nachrichtenUUIDs (a second run is then all duplicates)",
    )
    parser.add_argument("--flows", type=Path, help="flows file (default: bundled simulation.toml)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from kafka import KafkaProducer

    from hub.core.region import Region
    from hub.core.schemas import SchemaRegistry
    from hub.kafka.config import producer_config
    from hub.kafka.topics import TopicNames
    from hub.settings import load_settings
    from hub.tools.simulate import (
        DEFAULT_FLOWS,
        SimulatedMessage,
        Simulator,
        addressed,
        load_flows,
        progress_bar,
        run_simulation,
    )

    settings = load_settings()
    region = Region.load(settings.region_file)
    simulator = Simulator(
        region=region,
        registry=SchemaRegistry.from_settings(settings),
        flows=load_flows(args.flows or DEFAULT_FLOWS),
        seed=args.seed,
        fresh_ids=not args.repeat_ids,
    )
    names = TopicNames(settings.topic_prefix)
    producer = KafkaProducer(**producer_config(settings), acks="all", linger_ms=5)

    def send(message: SimulatedMessage) -> None:
        topic, payload = addressed(message, names)
        producer.send(topic, key=message.message_id.encode(), value=payload)

    duration = args.duration if args.count is None and args.duration is not None else None
    if args.count is None and duration is None:
        duration = 30.0
    try:
        summary = run_simulation(
            simulator,
            send,
            rate=args.rate,
            duration=duration,
            count=args.count,
            progress=progress_bar(duration, args.count),
        )
    finally:
        producer.flush()
        producer.close()
    print(file=sys.stderr)
    print("\n".join(summary.lines()))
    return 0
