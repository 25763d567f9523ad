"""``xoev-hub demo``: broker, topics, worker and simulated traffic, with a live view.

The README's first command. Starts the embedded Kafka broker (unless one runs or
HUB_BOOTSTRAP_SERVERS names a cluster), creates the topics, starts a worker and
the regional traffic simulator, and shows live what the worker's /metrics says:
messages per city pair, dead letters by reason, rate and end-to-end latency, and
the top flows of the newest mobility window published during the demo (its worker
runs with HUB_STATS_WINDOW=30s unless the variable is set).
With --citizens (default 12) the worker also takes simulated service portal
applications (hub.portal.simulate) and the view counts their steps.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate", type=float, default=20.0, help="simulated messages/s (default 20)"
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument(
        "--faults",
        type=float,
        default=0.03,
        help="share of deliberately bad messages (invalid, spoofed, malformed; default 0.03)",
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--citizens", type=int, default=12,
        help="simulated citizens applying through the service portal, one per second "
        "(default 12; 0: no portal)",
    )
    parser.epilog = (
        "The live view also shows the top 3 flows of the newest mobility window the "
        "worker published during the demo; the demo's worker runs with "
        "HUB_STATS_WINDOW=30s unless the variable is set, so a window is published "
        "about 45-75 s after the start. The worker also takes the service portal's "
        "applications (a `portal setup` in a temporary folder, HUB_PORTAL_PAYMENT_TIMEOUT=20s "
        "unless set) and --citizens simulated citizens apply, pay (or not) and get their "
        "notices; the view counts the steps their applications reached."
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.settings import load_settings
    from hub.tools.demo import Demo

    demo = Demo(
        load_settings(),
        rate=args.rate,
        seed=args.seed,
        faults=args.faults,
        out=lambda text: print(text, flush=True),
        citizens=args.citizens,
    )
    return demo.run(args.duration)
