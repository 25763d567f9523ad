"""``xoev-hub bench NAME [ARGS…]``: run ``bench/bench_NAME.py`` of the project.

Without NAME, lists the available benchmarks. Benchmarks print their numbers
and the ratio to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="benchmark name (bench/bench_NAME.py)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import subprocess
    import sys

    from hub.errors import ConfigError
    from hub.settings import PROJECT_DIR

    bench_dir = PROJECT_DIR / "bench"
    if not bench_dir.is_dir():
        raise ConfigError("benchmarks run from a checkout of xoev-hub (no bench/ beside hub/)")
    available = sorted(p.stem.removeprefix("bench_") for p in bench_dir.glob("bench_*.py"))
    if not args.name:
        print("benchmarks: " + (", ".join(available) or "(none)"))
        return 0
    script = bench_dir / f"bench_{args.name}.py"
    if not script.is_file():
        raise ConfigError(f"no benchmark {args.name!r}; available: {', '.join(available)}")
    return subprocess.call([sys.executable, str(script), *args.args], cwd=PROJECT_DIR)
