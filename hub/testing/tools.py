"""The system tools the test suite drives, and ``make test``'s installer for them.

``python -m hub.testing.tools`` (the first step of ``make test``) checks that
every tool in :data:`TOOLS` is on ``PATH``. When some are missing and it may
install them (root on a Debian-like system with ``apt-get``, and
``XOEV_INSTALL_TEST_TOOLS`` is not ``0``), it prints one line naming them and
installs their packages; otherwise it prints one line saying what to install and
exits with status 1. Tests call :func:`require_tool`, which fails loudly instead of
skipping when a tool is missing.

Neither Java nor Maven is a test tool: the broker runs on the Java that
``hub.broker.java.find_java`` picks and fetches its own jars.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

#: tool on PATH -> the Debian package that provides it
TOOLS: dict[str, str] = {
    "kcat": "kcat",  # a real non-Python Kafka client (interoperability)
    "prometheus": "prometheus",  # a real server scraping the hub (tests/ops)
    "promtool": "prometheus",  # rule and expression checks (tests/ops)
    "strace": "strace",  # what the hostile-input probe touches (tests/hostile)
    "openssl": "openssl",  # certificates of the TLS and mutual-TLS tests
}


class MissingTool(RuntimeError):
    """A tool the test needs is not installed (the test fails; it is not skipped)."""


def require_tool(name: str, path: str | None = None) -> str:
    """The executable of test tool ``name``, or :class:`MissingTool` with a one-line fix."""
    found = shutil.which(name, path=path)
    if found is None:
        package = TOOLS.get(name, name)
        raise MissingTool(
            f"{name} is not installed: `make test` installs it when run as root on Debian, "
            f"or install it yourself (Debian: apt-get install {package})"
        )
    return found


def missing_tools(path: str | None = None) -> list[str]:
    return [name for name in TOOLS if shutil.which(name, path=path) is None]


def packages_for(tools: Sequence[str]) -> list[str]:
    return sorted({TOOLS[name] for name in tools})


def may_install(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("XOEV_INSTALL_TEST_TOOLS", "1") == "0":
        return False
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure(path: str | None = None, allowed: bool | None = None) -> int:
    """Install what is missing when allowed; 0 when every tool is there afterwards."""
    missing = missing_tools(path)
    if not missing:
        return 0
    packages = packages_for(missing)
    command = f"apt-get install {' '.join(packages)}"
    if not (may_install() if allowed is None else allowed):
        print(
            f"missing test tools: {', '.join(missing)}; install them (Debian: {command}) "
            "and run `make test` again",
            file=sys.stderr,
        )
        return 1
    print(f"installing test tools {', '.join(missing)} ({command})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
            print(f"{' '.join(step)} failed ({result.returncode}): {tail}", file=sys.stderr)
            return 1
    still = missing_tools(path)
    if still:
        print(f"still missing after {command}: {', '.join(still)}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    return ensure()


if __name__ == "__main__":
    sys.exit(main())
