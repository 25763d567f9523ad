"""The embedded broker's jars: fetched from Maven Central, checked against a lock list.

``hub/broker/kafka-<version>.lock`` (package data, written by maintainers with
``tools/kafka-lock``) names every jar of the broker's classpath with its group,
artifact, version and SHA-256. :func:`fetch_jars` makes
``<cache>/kafka-<version>/lib`` hold exactly those jars:

* a missing jar is downloaded over HTTPS (``urllib``) into a temporary file in the
  same folder, hashed while it streams, and renamed into place only when its
  SHA-256 matches, so an interrupted or bad download never leaves a jar behind;
* a jar already in the cache is hashed before use; one that does not match (a
  truncated copy, a disk error, an edit) is deleted and downloaded again, with a
  progress line saying so;
* a downloaded jar that does not match is refused with a one-line
  :class:`~hub.errors.ConfigError` naming the jar, its URL and both sums;
* jars the lock list does not name (left by an older resolution) are removed, so
  the classpath ``lib/*`` is exactly the locked set (a cache filled by the former
  Maven-based fetch holds the same files and is reused as it is).

No Maven and no Java are needed for this step.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from hub.errors import ConfigError, TransientError

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
CHUNK = 1 << 20
#: (path, size, mtime_ns) of cached jars this process already hashed, with their sum
_HASHED: dict[tuple[str, int, int], str] = {}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class LockedJar:
    """One line of a lock list."""

    group: str
    artifact: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    def url(self, repository: str = MAVEN_CENTRAL) -> str:
        folder = f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}"
        return f"{repository.rstrip('/')}/{folder}/{self.filename}"


def lock_name(version: str) -> str:
    return f"kafka-{version}.lock"


def available_versions() -> list[str]:
    """Kafka versions that have a lock list in this installation."""
    names = [entry.name for entry in files("hub.broker").iterdir()]
    return sorted(
        n.removeprefix("kafka-").removesuffix(".lock")
        for n in names
        if n.startswith("kafka-") and n.endswith(".lock")
    )


def parse_lock(text: str, source: str) -> list[LockedJar]:
    """The jars of a lock list's text (``source`` names it in errors)."""
    jars = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        sha = fields[-1].lower() if fields else ""
        if len(fields) != 4 or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ConfigError(
                f"{source}:{number}: expected 'group artifact version sha256', got {len(fields)} "
                "fields"
            )
        jars.append(LockedJar(fields[0], fields[1], fields[2], sha))
    if not jars:
        raise ConfigError(f"{source} names no jar")
    names = [jar.filename for jar in jars]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source} names a jar file twice")
    return jars


def read_lock(version: str) -> list[LockedJar]:
    """The locked jars of Kafka ``version`` (a one-line error when there is no lock list)."""
    resource = files("hub.broker").joinpath(lock_name(version))
    if not resource.is_file():
        known = ", ".join(available_versions()) or "none"
        raise ConfigError(
            f"no lock list for Apache Kafka {version} (hub/broker/{lock_name(version)}); "
            f"versions with one: {known} (HUB_KAFKA_VERSION); maintainers add one with "
            "tools/kafka-lock"
        )
    return parse_lock(resource.read_text(), f"hub/broker/{lock_name(version)}")


def sha256_of(path: Path) -> str:
    """The file's SHA-256, remembered per (path, size, mtime) for this process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    known = _HASHED.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


def _download(jar: LockedJar, lib: Path, repository: str, lock: str) -> int:
    """Fetch ``jar`` into ``lib`` atomically; return its size. Raises on a mismatch."""
    url = jar.url(repository)
    if not url.startswith(("https://", "file://")):
        raise ConfigError(f"refusing to fetch {jar.filename} over {url.split(':', 1)[0]}: "
                          "use an https:// repository")
    fd, partial = tempfile.mkstemp(dir=lib, prefix=f".{jar.filename}.", suffix=".partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    while block := response.read(CHUNK):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise TransientError(
                    f"could not fetch {jar.filename} from {url}: {reason}"
                ) from None
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != jar.sha256:
            raise ConfigError(
                f"{jar.filename} ({jar.coordinate}) from {url} has SHA-256 {got}, but {lock} "
                f"expects {jar.sha256}; the jar was not used"
            )
        os.replace(partial, lib / jar.filename)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return size


def fetch_jars(
    version: str,
    cache_dir: Path,
    progress: Progress = _quiet,
    repository: str = MAVEN_CENTRAL,
) -> Path:
    """Return ``<cache_dir>/kafka-<version>/lib`` holding exactly the locked, verified jars."""
    jars = read_lock(version)
    lock = f"hub/broker/{lock_name(version)}"
    lib = cache_dir / f"kafka-{version}" / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    missing: list[LockedJar] = []
    for jar in jars:
        path = lib / jar.filename
        if not path.exists():
            missing.append(jar)
        elif sha256_of(path) != jar.sha256:
            progress(f"cached {path} does not match {lock}; fetching it again")
            path.unlink()
            missing.append(jar)
    wanted = {jar.filename for jar in jars}
    for leftover in lib.iterdir():
        stale_partial = leftover.name.endswith(".partial") and _older_than(leftover, 3600)
        old_marker = leftover.name == ".complete"  # written by the Maven-based fetch
        if (leftover.suffix == ".jar" and leftover.name not in wanted) or stale_partial \
                or old_marker:
            leftover.unlink(missing_ok=True)
    if missing:
        progress(
            f"fetching {len(missing)} of {len(jars)} Apache Kafka {version} jars from "
            f"{repository} into {lib} ..."
        )
        began = time.monotonic()
        total = 0
        for number, jar in enumerate(missing, start=1):
            size = _download(jar, lib, repository, lock)
            total += size
            progress(
                f"  [{number}/{len(missing)}] {jar.filename} ({size / 1e6:.1f} MB, SHA-256 ok)"
            )
        progress(
            f"fetched {len(missing)} jars ({total / 1e6:.1f} MB) in "
            f"{time.monotonic() - began:.1f}s"
        )
    return lib


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False
