"""``xoev-hub portal``: simulated citizens for the service portal (decision 0020).

``portal setup DIR`` writes what a worker needs to take simulated applications: a
test identity provider's JWKS (its private key beside it, mode 0600), a copy of the
region file naming a services catalogue with ``[portal]``, ``[portal.payment]`` and
``[portal.postfach]`` (a Postfach on 127.0.0.1), and ``DIR/worker.env`` (mode 0600)
with ``HUB_REGION_FILE``, ``HUB_PORTAL_PAYMENT_TIMEOUT`` and the generated tokens.
It prints paths, never a token.

``portal simulate --setup DIR`` plays the portal, the ePayment provider, the
Postfach and (unless ``--no-authorities``) the deciding authorities for
``--citizens`` citizens of the region's cities against a running hub, with a mix
reproducible by ``--seed``: most pay, some abandon (PAYMENT_TIMEOUT), a few pay a
wrong amount or bring a too-weak identity (403), some use a free service. One line
per citizen (application id, city, service, what they did, what happened), a
summary, and exit status 1 when an outcome differs from what the mix intended.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: the simulated Postfach's port unless --postfach-port says otherwise
DEFAULT_POSTFACH_PORT = 6067
DEFAULT_PAYMENT_TIMEOUT = "30s"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    setup = sub.add_parser(
        "setup", help="write a simulated identity provider, tokens and catalogue for a worker",
        description="Write DIR/region.toml (a copy of HUB_REGION_FILE naming DIR/services.toml, "
        "the catalogue with [portal], [portal.payment] and [portal.postfach]), DIR/jwks.json "
        "(a generated identity provider's public key; the private key in "
        "DIR/idp-private-key.json, mode 0600) and DIR/worker.env (mode 0600: HUB_REGION_FILE, "
        "HUB_PORTAL_PAYMENT_TIMEOUT, the portal's and the payment provider's tokens, the "
        "Postfach secret). Start the worker with: (set -a; . DIR/worker.env; exec xoev-hub "
        "worker). Prints paths, never a token.",
    )
    setup.add_argument("dir", type=Path, metavar="DIR", help="folder to write (created)")
    setup.add_argument(
        "--postfach-port", type=int, default=DEFAULT_POSTFACH_PORT,
        help=f"port of the simulated Postfach on 127.0.0.1 (default {DEFAULT_POSTFACH_PORT})")
    setup.add_argument(
        "--payment-timeout", default=DEFAULT_PAYMENT_TIMEOUT,
        help="HUB_PORTAL_PAYMENT_TIMEOUT for the worker: how long an abandoned application "
        f"waits before PAYMENT_TIMEOUT (default {DEFAULT_PAYMENT_TIMEOUT})")
    setup.add_argument("--force", action="store_true",
                       help="replace an existing setup in DIR (new keys and tokens: restart "
                       "the worker with the new worker.env)")
    setup.set_defaults(run=run_setup)

    simulate = sub.add_parser(
        "simulate", help="play portal, payment provider, Postfach and authorities for N citizens",
        description="Play the portal, the ePayment provider, the applicants' Postfach (an HTTP "
        "server on 127.0.0.1) and the deciding authorities (notices on "
        "xoev.notices.<authority>) for N citizens of the region's cities against a running "
        "hub whose worker was started with the setup's worker.env. Seeded mix: most pay, some "
        "abandon (PAYMENT_TIMEOUT), a few pay a wrong amount or bring a too-weak identity "
        "(403), some use a free service. Prints one line per citizen and a summary; exit "
        "status 1 when an outcome differs from what the mix intended.",
    )
    simulate.add_argument("--setup", type=Path, required=True, metavar="DIR",
                          help="the folder written by `xoev-hub portal setup`")
    simulate.add_argument("--citizens", type=int, default=30,
                          help="number of citizens (default 30)")
    simulate.add_argument("--seed", type=int, default=1,
                          help="random seed of the mix, cities and form data (default 1); "
                          "every run gets fresh application ids")
    simulate.add_argument("--rate", type=float, default=2.0,
                          help="applications per second (default 2)")
    simulate.add_argument("--url", help="the worker's web port (default: "
                          "http://HUB_WEB_HOST:HUB_WEB_PORT, https with HUB_HTTP_TLS_CERT)")
    simulate.add_argument("--no-authorities", action="store_true",
                          help="do not answer forwarded applications (real systems do): "
                          "a forwarded application is then its outcome")
    simulate.add_argument("--timeout", type=float,
                          help="seconds to wait for the outcomes after the last application "
                          "(default: the setup's payment timeout + 45)")
    simulate.set_defaults(run=run_simulate)


def run_setup(args: argparse.Namespace) -> int:
    import sys

    from hub.portal.simulate import (
        PRIVATE_KEY_FILE,
        SETUP_FILE,
        WORKER_ENV_FILE,
        PortalSetup,
    )
    from hub.settings import duration_seconds, load_settings

    settings = load_settings()
    folder: Path = args.dir
    if (folder / SETUP_FILE).exists() and not args.force:
        print(f"xoev-hub portal setup: {folder} holds a setup already (--force replaces it "
              "with new keys and tokens)", file=sys.stderr)
        return 1
    try:
        duration_seconds(args.payment_timeout)
    except ValueError:
        print(f"xoev-hub portal setup: --payment-timeout {args.payment_timeout!r} is not a "
              "duration such as 30s, 2m, 1h", file=sys.stderr)
        return 2
    setup = PortalSetup(
        folder, free=(), postfach_url=f"http://127.0.0.1:{args.postfach_port}/postfach",
        postfach_attempts=5, postfach_backoff_seconds=0.5,
        region_source=settings.region_file, payment_timeout=args.payment_timeout,
    ).save()
    rows = [
        (setup.region_file, "the region file naming the catalogue (HUB_REGION_FILE)"),
        (setup.services_file, "the services catalogue with [portal], [portal.payment], "
         "[portal.postfach]"),
        (folder / "jwks.json", "the simulated identity provider's public key"),
        (folder / PRIVATE_KEY_FILE, "its private key (mode 0600)"),
        (folder / WORKER_ENV_FILE, "the worker's environment: HUB_REGION_FILE, "
         "HUB_PORTAL_PAYMENT_TIMEOUT, tokens, Postfach secret (mode 0600)"),
        (folder / SETUP_FILE, "what `portal simulate` reads (no secrets)"),
    ]
    print(f"portal setup written to {folder} (secrets only in the files of mode 0600):")
    for path, what in rows:
        print(f"  {path}  {what}")
    print(f"the simulated Postfach will listen on {setup.postfach_url}; abandoned "
          f"applications are rejected after {args.payment_timeout}")
    print("start the worker with it, then simulate:")
    print(f"  (set -a; . {folder / WORKER_ENV_FILE}; exec xoev-hub worker)")
    print(f"  xoev-hub portal simulate --setup {folder}")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    import ssl
    import sys
    import time

    from hub.core.region import Region
    from hub.portal.catalog import Catalogue
    from hub.portal.simulate import (
        Outcome,
        PortalSetup,
        PortalSimulation,
        plan_citizens,
    )
    from hub.settings import load_settings

    if args.citizens < 1:
        print("xoev-hub portal simulate: --citizens must be at least 1", file=sys.stderr)
        return 2
    settings = load_settings()
    setup = PortalSetup.load(args.setup)
    catalogue = Catalogue.of_region(Region.load(setup.region_file))
    if catalogue is None:  # pragma: no cover - the setup wrote one
        print(f"xoev-hub portal simulate: {setup.region_file} names no catalogue",
              file=sys.stderr)
        return 2
    scheme = "https" if settings.http_tls_cert is not None else "http"
    url = args.url or f"{scheme}://{settings.web_host}:{settings.web_port}"
    context = (ssl.create_default_context(cafile=str(settings.http_tls_cert))
               if url.startswith("https://") and settings.http_tls_cert is not None else None)
    citizens = plan_citizens(catalogue, args.citizens, args.seed)

    def show(outcome: Outcome) -> None:
        print(outcome.line(), flush=True)

    simulation = PortalSimulation(
        settings, setup, citizens, catalogue, url=url, rate=args.rate,
        authorities=not args.no_authorities, timeout=args.timeout, on_outcome=show,
        context=context,
    )
    run_id = citizens[0].application_id.rsplit("-", 1)[0]
    print(f"{len(citizens)} citizens (seed {args.seed}, ids {run_id}-NNN) against {url}; "
          f"waiting up to {simulation.timeout:.0f}s for the outcomes", file=sys.stderr)
    started = time.monotonic()
    outcomes = simulation.run()
    print("\n".join(simulation.summary(time.monotonic() - started)))
    return 0 if all(o.ok for o in outcomes) else 1
