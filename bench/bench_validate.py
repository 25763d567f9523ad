"""Validate throughput: the hub's hot path against xmlschema, one core, one run.

Measures ``hub.core.validation.check`` (hardened parse + identify + libxml2 XSD
validation) and, as the baseline, xmlschema's validator (``XMLSchema.is_valid``
on the same bytes, same package, same catalog). Prints msgs/s (wall clock and
per CPU second of the pinned core), the ratio, a parse/validate breakdown and a
core-speed calibration line. Goals: >= 12,000 msgs/s and >= 20x the baseline.

Two cases, each run when its inputs exist:

* ``bundled``: the bundled Rückmeldung ``rueckmeldung.anmeldunginland.0201``
  (hub/schemas_data/xoev/xmeld-25.11a, the project's own modelling of XMeld 25.11a);
* ``official``: the official XMeld 25.11a XSDs (installed for this run from
  ../shared/xoev-official into a temporary folder) with the official sample
  closest to 6 KB (the set has no Rückmeldung sample; a 1331 response of
  ~5.5 KB is the closest). The official XSDs carry the DIN 91379 name patterns,
  which dominate libxml2's validation time.

    python bench/bench_validate.py [--seconds 3] [--case bundled|official]
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

from hub.core.schemas import SchemaPackage, SchemaRegistry, install  # noqa: E402
from hub.core.validation import check  # noqa: E402
from hub.core.xmlsafe import Limits, parse_xml  # noqa: E402
from hub.settings import BUNDLED_SCHEMA_DIR  # noqa: E402

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


def python_loop_ns(n: int = 1_000_000) -> float:
    """Calibration: how fast is this (possibly shared, throttled) core right now?"""
    started = time.process_time()
    total = 0
    for i in range(n):
        total += i
    return (time.process_time() - started) / n * 1e9


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


def bundled_case() -> tuple[SchemaPackage, Path] | None:
    folder = BUNDLED_SCHEMA_DIR / "xmeld-25.11a"
    samples = sorted(folder.glob("**/*0201*.xml"))
    if not (folder / "package.json").is_file() or not samples:
        return None
    return SchemaPackage.load(folder, "bundled"), samples[0]


def official_case() -> tuple[SchemaPackage, Path] | None:
    if not OFFICIAL.is_dir():
        return None
    package = install(OFFICIAL, Path(tempfile.mkdtemp(prefix="bench-schemas-")))
    samples = sorted(OFFICIAL.glob("samples/**/*.xml"))
    return package, min(samples, key=lambda p: abs(p.stat().st_size - TARGET_BYTES))


def run_case(name: str, package: SchemaPackage, message: Path, seconds: float) -> None:
    registry = SchemaRegistry([package])
    data = message.read_bytes()
    limits = Limits()
    started = time.perf_counter()
    schema = package.lxml_schema()
    lxml_compile = time.perf_counter() - started
    report = check(data, registry, limits)
    if not report.valid:
        sys.exit(f"{name}: benchmark message is not valid: {report.problems[0]}")
    started = time.perf_counter()
    baseline = package.xmlschema_schema()
    xmlschema_compile = time.perf_counter() - started
    if not baseline.is_valid(data):
        sys.exit(f"{name}: xmlschema finds the benchmark message invalid")

    print(f"\n[{name}] {message.name} ({len(data)} bytes) against {package.label} "
          f"({package.origin}); compile once: lxml {lxml_compile * 1000:.0f} ms, "
          f"xmlschema {xmlschema_compile:.1f} s")
    print(f"{'':24} {'msgs/s (wall)':>14} {'msgs/CPU-s':>12}")
    hub_wall, hub_cpu, hub_n = rate(lambda: check(data, registry, limits), seconds)
    print(f"hub.core.validation.check     {hub_wall:14,.0f} {hub_cpu:12,.0f}  ({hub_n} msgs)")
    base_wall, base_cpu, base_n = rate(lambda: baseline.is_valid(data), seconds)
    print(f"xmlschema is_valid       {base_wall:14,.0f} {base_cpu:12,.0f}  ({base_n} msgs)")
    root = parse_xml(data, limits)
    _, parse_cpu, _ = rate(lambda: parse_xml(data, limits), seconds / 3)
    _, validate_cpu, _ = rate(lambda: schema.validate(root), seconds / 3)
    print(f"  breakdown (CPU per message): parse_xml {1e6 / parse_cpu:.0f} us, "
          f"XSD validation {1e6 / validate_cpu:.0f} us, check() {1e6 / hub_cpu:.0f} us")
    ratio = hub_cpu / base_cpu
    print(f"  ratio {ratio:.1f}x (CPU), {hub_wall / base_wall:.1f}x (wall); goals on one core: "
          f">= 12,000 msgs/CPU-s {'met' if hub_cpu >= 12_000 else 'MISSED'}, "
          f">= 20x {'met' if ratio >= 20 else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per contestant")
    parser.add_argument("--case", choices=["bundled", "official"], action="append",
                        help="run only this case (repeatable; default: both)")
    args = parser.parse_args()
    pinned = pin_one_core()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{pinned}; load average {load:.1f} on {os.cpu_count()} CPUs; core speed: a "
          f"pure-Python loop takes {python_loop_ns():.0f} ns/iteration (idle modern core ~25-35)")
    cases = {"bundled": bundled_case, "official": official_case}
    ran = 0
    for name in args.case or list(cases):
        found = cases[name]()
        if found is None:
            print(f"\n[{name}] skipped: inputs not found")
            continue
        run_case(name, *found, seconds=args.seconds)
        ran += 1
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(main())
