"""Cost of filing (decision 0015) on the hot path: ``Pipeline.finish`` (route, filing
lookup, envelope, Avro conversion and encoding) of the bundled XMeld 0201, with the
region's filing plan and without one, plus the lookup and header step alone.

    python bench/bench_filing.py [--rounds N]

Prints µs per message (best of 5 runs of N messages, CPU time) and the ratio.
"""

from __future__ import annotations

import argparse
import time

from hub.core.filing import FilingPlan
from hub.core.pipeline import Pipeline
from hub.kafka.headers import filing_headers
from hub.settings import load_settings
from hub.tools.samples import generate


def best(fn: object, rounds: int) -> float:
    call = fn  # type: ignore[assignment]
    times = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(rounds):
            call()  # type: ignore[operator]
        times.append(time.process_time() - start)
    return min(times) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    settings = load_settings()
    filed = Pipeline.from_settings(settings)
    bare = Pipeline(filed.registry, filed.catalog, filed.region, filed.router, filed.limits,
                    filed.projections)
    author = filed.region.authorities["wuppertal.meldebehoerde"]
    reader = filed.region.authorities["solingen.meldebehoerde"]
    package = filed.registry.get("XMeld", "25.11a")
    raw = generate(package, "0201", seed=1, author_key=author.dvdv_key,
                   reader_key=reader.dvdv_key)
    inspected = filed.inspect(raw, author.id)
    assert filed.finish(inspected, trace_id="0" * 32).filing is not None
    plan: FilingPlan = filed.filing  # type: ignore[assignment]
    base: list[tuple[str, bytes]] = []

    def lookup_and_headers() -> None:
        filing = plan.lookup(inspected.package, inspected.message)
        if filing is not None:
            headers = list(base)
            headers += filing_headers(filing)

    without = best(lambda: bare.finish(inspected, trace_id="0" * 32), args.rounds)
    with_filing = best(lambda: filed.finish(inspected, trace_id="0" * 32), args.rounds)
    alone = best(lookup_and_headers, args.rounds * 10)
    print(f"Pipeline.finish without filing  {without:8.2f} µs/message")
    print(f"Pipeline.finish with filing     {with_filing:8.2f} µs/message "
          f"(ratio {with_filing / without:.3f})")
    print(f"filing lookup + headers alone   {alone:8.3f} µs/message")


if __name__ == "__main__":
    main()
