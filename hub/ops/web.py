"""The worker's small HTTP server: ``/metrics``, ``/healthz``, ``/readyz``.

Runs inside the worker's asyncio loop on ``HUB_WEB_HOST:HUB_WEB_PORT``
(default 6066), over HTTPS when ``HUB_HTTP_TLS_CERT`` and ``HUB_HTTP_TLS_KEY``
are set::

    runner = await start_web(settings, metrics, health)
    ...
    await runner.cleanup()

``make_app`` returns the bare ``aiohttp`` application, so the routes can also be
mounted into another server (e.g. Faust's own web server or the HTTP inbound
adapter) instead.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.ops.health import Health, healthz, readyz

if TYPE_CHECKING:
    from hub.ops.metrics import HubMetrics
    from hub.settings import Settings

METRICS_PATH = "/metrics"
HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"


def add_routes(app: web.Application, metrics: HubMetrics, health: Health) -> web.Application:
    """Add the three operations routes to ``app`` and return it."""

    async def metrics_handler(_: web.Request) -> web.Response:
        metrics.refresh(health)
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz_handler(_: web.Request) -> web.Response:
        status, body = healthz(health)
        return web.json_response(body, status=status)

    async def readyz_handler(_: web.Request) -> web.Response:
        status, body = readyz(health)
        return web.json_response(body, status=status)

    app.router.add_get(METRICS_PATH, metrics_handler)
    app.router.add_get(HEALTHZ_PATH, healthz_handler)
    app.router.add_get(READYZ_PATH, readyz_handler)
    return app


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The HTTPS context of the web port (``HUB_HTTP_TLS_CERT``/``_KEY``), or None
    for plain HTTP. A file that cannot be read fails the start (ConfigError)."""
    if settings.http_tls_cert is None or settings.http_tls_key is None:
        return None
    from hub.errors import ConfigError

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.http_tls_cert, settings.http_tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"HUB_HTTP_TLS_CERT/HUB_HTTP_TLS_KEY unusable: {type(exc).__name__}"
        ) from exc
    return context


def plain_http_warning(settings: Settings) -> str | None:
    """One line when the web port (HTTP inbound included) is served without TLS on
    an address other hosts can reach."""
    if settings.http_tls_cert is not None or settings.web_host.startswith(
        ("127.", "localhost", "::1")
    ):
        return None
    return (
        f"HTTP inbound and /metrics on {settings.web_host}:{settings.web_port} are plain "
        "HTTP; set HUB_HTTP_TLS_CERT and HUB_HTTP_TLS_KEY, or terminate TLS in front "
        "(docs/security.md)"
    )


def make_app(metrics: HubMetrics, health: Health) -> web.Application:
    return add_routes(web.Application(), metrics, health)


async def start_web(
    settings: Settings,
    metrics: HubMetrics,
    health: Health,
    *,
    app: web.Application | None = None,
    host: str | None = None,
    port: int | None = None,
) -> web.AppRunner:
    """Serve the routes (on ``app`` if given) and return the started runner.

    ``host``/``port`` override the settings; port 0 picks a free port (see
    ``bound_port``).
    """
    application = add_routes(app if app is not None else web.Application(), metrics, health)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner,
        host if host is not None else settings.web_host,
        settings.web_port if port is None else port,
        ssl_context=server_ssl_context(settings),
    )
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The TCP port a started runner listens on."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the web server is not listening")
