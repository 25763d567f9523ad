"""A portal configuration for tests: the bundled catalogue with a [portal] table,
an identity provider whose keys are generated here, and its assertions.

One implementation with ``xoev-hub portal simulate``: the setup, the portal's
client and the Postfach live in :mod:`hub.portal.simulate`; only the wait for a
test's worker process is added here."""

from __future__ import annotations

import time

from hub.portal.simulate import (
    AUDIENCE,
    ISSUER,
    PAYMENT_TOKEN_ENV,
    POSTFACH_SECRET_ENV,
    TOKEN_ENV,
    PortalClient,
    PortalSetup,
    Postfach,
    free_port,
)
from tests.worker.harness import WorkerProcess

__all__ = ["AUDIENCE", "ISSUER", "PAYMENT_TOKEN_ENV", "POSTFACH_SECRET_ENV", "TOKEN_ENV",
           "Client", "PortalSetup", "Postfach", "free_port"]


class Client(PortalClient):
    """The portal's side of the contract, with urllib, for a test's worker."""

    def wait_ready(self, worker: WorkerProcess, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert worker.alive(), worker.log_text()[-3000:]
            try:
                status, _ = self.call("GET", "/v1/applications/probe")
                if status == 404:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError("portal not ready: " + worker.log_text()[-3000:])
