"""Routing cost per message, against a bare dictionary lookup as the baseline.

Run from the repository root: ``python bench/bench_routing.py [--seconds S]``.
Prints messages per second for the default router (no rules) and a router
with 50 rules (spread over three standards), with and without the decision
cache, and for the author check, each as a ratio to the baseline (a dict
lookup of the reader key) measured in the same run. Bounded: about 1 s per
measurement.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from hub.core.region import Region
from hub.core.routing import Router, check_author
from hub.settings import DEFAULT_CONFIG_DIR

STANDARDS = ["XMeld", "XPersonenstand", "XAuslaender"]
READERS = ["ags:05124000", "ags:05122000", "psw:05120000", "abh:05124000", "dbs:490010010000"]


def rate(fn: Callable[[int], object], seconds: float) -> float:
    n, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for i in range(1000):
            fn(i)
        n += 1000
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    region = Region.load(DEFAULT_CONFIG_DIR / "region.toml")
    plain = Router(region)
    rules_text = "\n".join(
        f'[[rule]]\nname = "r{i}"\nstandard = "{STANDARDS[i % 3]}"\nmessage_code = "0{i:02d}*"\n'
        f'reader = "ags:0512*"\ncopy_to = "wuppertal.standesamt"\n'
        for i in range(50)
    )
    ruled = Router.from_toml(rules_text, region)
    cold = Router(region, ruled.rules, cache_size=0)
    cold_plain = Router(region, cache_size=0)
    table = {a.dvdv_key: a.id for a in region}

    def baseline(i: int) -> object:
        return table.get(READERS[i % 5])

    def route_with(router: Router) -> Callable[[int], object]:
        def run(i: int) -> object:
            return router.route(standard="XPersonenstand", version="25.11",
                                message_code="035010", author_key="psw:05122000",
                                reader_keys=(READERS[i % 5],))
        return run

    def author(i: int) -> object:
        check_author(region, "solingen.standesamt", "psw:05122000")
        return None

    base = rate(baseline, args.seconds)
    print(f"baseline dict lookup      {base:>12,.0f}/s")
    for name, fn in [("route, no rules", route_with(plain)),
                     ("route, 50 rules", route_with(ruled)),
                     ("route, no rules, no cache", route_with(cold_plain)),
                     ("route, 50 rules, no cache", route_with(cold)),
                     ("check_author", author)]:
        r = rate(fn, args.seconds)
        print(f"{name:25} {r:>12,.0f}/s  {1e6 / r:6.1f} µs  ratio to baseline {r / base:.4f}")


if __name__ == "__main__":
    main()
