"""Header reading cost: ``hub.core.header.read_header`` per message, one core, one run.

The header reader is on the worker's hot path (after XSD validation, before the
author check). Cases, each run when its input exists:

* ``g2g``: the bundled XMeld 25.11a Rückmeldung 0201 (``nachrichtenkopf.g2g``);
* ``xdomea-3.0.0`` / ``xdomea-2.4.0``: the official Aussonderung 0501 templates
  of ../shared/xoev-official (header profile ``xdomea``, read in place).

Prints µs per call (best of ``--repeat`` rounds of CPU time) and calls per CPU
second; ``parse`` (hardened parse of the same bytes) is printed beside it as the
scale of the surrounding work.

    python bench/bench_header.py [--seconds 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from hub.core.header import read_header  # noqa: E402
from hub.core.schemas import SchemaPackage  # noqa: E402
from hub.core.xmlsafe import Limits, parse_xml  # noqa: E402
from hub.settings import BUNDLED_SCHEMA_DIR  # noqa: E402
from hub.tools.samples import generate  # noqa: E402

OFFICIAL = next(
    (p / "shared" / "xoev-official" for p in PROJECT.parents if (p / "shared").is_dir()),
    PROJECT.parent / "shared" / "xoev-official",
)


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"


def rate(call: Callable[[], object], seconds: float, repeat: int) -> float:
    """Best CPU seconds per call over ``repeat`` rounds of about ``seconds`` each."""
    n = 1
    while True:  # calibrate a batch of about 0.05 s
        started = time.process_time()
        for _ in range(n):
            call()
        spent = time.process_time() - started
        if spent > 0.05:
            break
        n *= 2
    per_round = max(1, int(n * seconds / spent))
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(per_round):
            call()
        best = min(best, (time.process_time() - started) / per_round)
    return best


def cases() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    package = SchemaPackage.load(BUNDLED_SCHEMA_DIR / "xmeld-25.11a", "bundled")
    out.append(("g2g (bundled XMeld 0201)", generate(package, "0201", seed=1)))
    for version in ("3.0.0", "2.4.0"):
        sample = (
            OFFICIAL / f"xdomea-{version}" / "message_generation" / "pattern"
            / f"xdomea_{version}" / "xx_Aussonderung.Anbieteverzeichnis.0501.xml"
        )
        if sample.is_file():
            out.append((f"xdomea {version} (official 0501)", sample.read_bytes()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(pin_one_core())
    limits = Limits()
    for name, data in cases():
        root = parse_xml(data, limits)
        try:
            read_header(root)
        except Exception as exc:  # a reader without this profile
            print(f"{name:34s} read_header: {type(exc).__name__}: {exc}")
            continue
        header = rate(lambda root=root: read_header(root), args.seconds, args.repeat)
        parse = rate(lambda data=data: parse_xml(data, limits), args.seconds, args.repeat)
        print(
            f"{name:34s} read_header {header * 1e6:7.2f} µs ({1 / header:>9,.0f}/CPU s)"
            f"   parse {parse * 1e6:7.1f} µs   ({len(data):,} bytes)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
