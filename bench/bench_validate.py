"""Validate throughput: the hub's hot path against xmlschema, one core, one run.

Measures ``hub.validation.check`` (hardened parse + identify + libxml2 XSD
validation) on a ~6 KB XMeld 25.11a message, and xmlschema's validator
(``XMLSchema.is_valid`` on the same bytes, same package, same catalog) as the
baseline. Prints msgs/s for both and the ratio. Goals: >= 12,000 msgs/s and
>= 20x the baseline.

Message: a bundled Rückmeldung (``schemas/xoev/**/*0201*.xml``) when present;
otherwise the official XMeld 25.11a sample closest to 6 KB (the official set
has no Rückmeldung sample; a 1331 response of ~5.5 KB is the closest).
Schema package: XMeld 25.11a from the registry (bundled or installed), else
installed for this run from ../shared/xoev-official into a temporary folder.

    python bench/bench_validate.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from hub.schemas import SchemaPackage, SchemaRegistry, install  # noqa: E402
from hub.settings import BUNDLED_SCHEMA_DIR, load_settings  # noqa: E402
from hub.validation import check  # noqa: E402
from hub.xmlsafe import Limits, parse_xml  # noqa: E402

OFFICIAL = next(
    (p / "shared" / "xoev-official" for p in PROJECT.parents if (p / "shared").is_dir()),
    PROJECT.parent / "shared" / "xoev-official",
) / "xmeld-25.11a"
TARGET_BYTES = 6 * 1024


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"


def registry_with_xmeld() -> tuple[SchemaRegistry, SchemaPackage]:
    registry = SchemaRegistry.from_settings(load_settings())
    for package in registry.packages:
        if package.standard == "XMeld" and package.version == "25.11a":
            return registry, package
    if not OFFICIAL.is_dir():
        sys.exit("no XMeld 25.11a package and no official set at " + str(OFFICIAL))
    package = install(OFFICIAL, Path(tempfile.mkdtemp(prefix="bench-schemas-")))
    return SchemaRegistry([package]), package


def pick_message() -> Path:
    bundled = sorted(BUNDLED_SCHEMA_DIR.glob("**/*0201*.xml"))
    if bundled:
        return bundled[0]
    samples = sorted(OFFICIAL.glob("samples/**/*.xml"))
    return min(samples, key=lambda p: abs(p.stat().st_size - TARGET_BYTES))


def rate(fn: Callable[[], object], seconds: float) -> tuple[float, float, int]:
    """(msgs per wall second, msgs per CPU second of this process, count)."""
    count, batch = 0, 1
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        for _ in range(batch):
            fn()
        count += batch
        wall = time.perf_counter() - wall0
        if wall >= seconds:
            cpu = max(time.process_time() - cpu0, 1e-9)
            return count / wall, count / cpu, count
        batch = min(batch * 2, 2048)


def python_loop_ns(n: int = 1_000_000) -> float:
    """Calibration: how fast is this (possibly shared, throttled) core right now?"""
    started = time.process_time()
    total = 0
    for i in range(n):
        total += i
    return (time.process_time() - started) / n * 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per contestant")
    args = parser.parse_args()
    pinned = pin_one_core()
    registry, package = registry_with_xmeld()
    message = pick_message()
    data = message.read_bytes()
    limits = Limits()
    started = time.perf_counter()
    package.lxml_schema()
    lxml_compile = time.perf_counter() - started
    report = check(data, registry, limits)
    if not report.valid:
        sys.exit(f"benchmark message is not valid: {report.problems[0]}")
    started = time.perf_counter()
    baseline_schema = package.xmlschema_schema()
    xmlschema_compile = time.perf_counter() - started
    if not baseline_schema.is_valid(data):
        sys.exit("xmlschema disagrees: the benchmark message is invalid for the baseline")

    print(f"message: {message.name} ({len(data)} bytes, {report.standard} {report.version} "
          f"{report.message_code}); {pinned}")
    print(f"compile (once per package): lxml {lxml_compile * 1000:.0f} ms, "
          f"xmlschema {xmlschema_compile:.1f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; core speed: a pure-Python "
          f"loop takes {python_loop_ns():.0f} ns/iteration (an idle modern core: ~25-35)")
    print(f"{'':22} {'msgs/s (wall)':>14} {'msgs/CPU-s':>12}")
    hub_wall, hub_cpu, hub_n = rate(lambda: check(data, registry, limits), args.seconds)
    print(f"hub.validation.check   {hub_wall:14,.0f} {hub_cpu:12,.0f}  ({hub_n} msgs)")
    base_wall, base_cpu, base_n = rate(lambda: baseline_schema.is_valid(data), args.seconds)
    print(f"xmlschema is_valid     {base_wall:14,.0f} {base_cpu:12,.0f}  ({base_n} msgs)")
    root = parse_xml(data, limits)
    schema = package.lxml_schema()
    _, parse_cpu, _ = rate(lambda: parse_xml(data, limits), args.seconds / 3)
    _, validate_cpu, _ = rate(lambda: schema.validate(root), args.seconds / 3)
    print(f"  breakdown (CPU): parse_xml {1e6 / parse_cpu:.0f} us, "
          f"XSD validation {1e6 / validate_cpu:.0f} us, "
          f"check() total {1e6 / hub_cpu:.0f} us per message")
    ratio = hub_cpu / base_cpu
    goal_rate, goal_ratio = hub_cpu >= 12_000, ratio >= 20
    print(f"ratio {ratio:.1f}x (CPU), {hub_wall / base_wall:.1f}x (wall)   goals on one core: "
          f">= 12,000 msgs/CPU-s {'met' if goal_rate else 'MISSED'}, "
          f">= 20x {'met' if goal_ratio else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
