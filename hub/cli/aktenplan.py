"""``xoev-hub aktenplan publish|status``: the region's file plan over xdomea.

``publish`` renders the plan (``hub/config/aktenplan.toml``, or ``--file``) as one
xdomea 3.0.0 ``Aktenplan.Aktenplan.0301`` per registratur of the region (its own
ProzessID, Empfangsbestaetigung requested), checks each against the installed
xdomea 3.0.0 package and produces it to the plan's sender's inbound topic
``xoev.in.<sender>``: the worker validates, routes, audits and delivers it like any
message, and the exchanges agent keeps it open until the registratur's 0302.

``status`` reads the exchanges table (its changelog) and shows, per registratur,
the newest version it acknowledged and a version still waiting for its 0302.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.core.aktenplan import Aktenplan
    from hub.core.region import Authority, Region
    from hub.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    publish = sub.add_parser(
        "publish",
        help="send the file plan as xdomea 0301 to every registratur (through the hub)",
        description="Render the file plan as xdomea 3.0.0 Aktenplan.Aktenplan.0301, one "
        "message per registratur of the region, check it against the installed xdomea "
        "3.0.0 package and produce it to xoev.in.<sender> (sender: the plan's 'sender').",
    )
    publish.add_argument("--file", type=Path, help="the plan (default: hub/config/aktenplan.toml)")
    publish.add_argument("--out", type=Path, metavar="DIR",
                         help="write the messages to DIR instead of sending them")
    status = sub.add_parser(
        "status",
        help="which registratur has acknowledged (0302) which version of the file plan",
        description="Per registratur: the newest file-plan version it acknowledged with "
        "Aktenplan.EmpfangBestaetigen.0302 and a version still waiting for it, read from "
        "the exchanges table. Exit 0 when every registratur acknowledged the plan's "
        "current version, 1 otherwise.",
    )
    status.add_argument("--file", type=Path, help="the plan (default: hub/config/aktenplan.toml)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--timeout", type=float, default=10.0,
                        help="give up reading the table after S seconds (default 10)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hub.core.aktenplan import Aktenplan
    from hub.core.region import Region
    from hub.errors import ConfigError
    from hub.settings import load_settings

    settings = load_settings()
    region = Region.load(settings.region_file)
    plan = Aktenplan.load(args.file) if args.file else Aktenplan.default()
    if plan.sender not in region:
        raise ConfigError(f"{plan.source}: sender {plan.sender!r} is not an authority of "
                          f"the region ({settings.region_file})")
    recipients = [a for a in region if a.kind == "registratur" and a.id != plan.sender]
    if not recipients:
        raise ConfigError(f"the region ({settings.region_file}) has no registratur")
    if args.action == "publish":
        return _publish(args, settings, region, plan, recipients)
    return _status(args, settings, region, plan, recipients)


def _publish(args: argparse.Namespace, settings: Settings, region: Region, plan: Aktenplan,
             recipients: list[Authority]) -> int:
    from hub.core.schemas import SchemaRegistry
    from hub.core.validation import check
    from hub.tools.sender import Input, send
    from hub.xdomea.aktenplan_xml import render

    sender = region.get(plan.sender)
    registry = SchemaRegistry.from_settings(settings)
    inputs = []
    for authority in recipients:
        data = render(plan, sender_key=sender.dvdv_key,
                      recipient_key=authority.dvdv_key)
        report = check(data, registry)
        if not report.valid:
            problem = report.problems[0]
            print(f"xoev-hub aktenplan: the 0301 is not valid: {problem.code}: "
                  f"{problem.message} (install xdomea 3.0.0: xoev-hub schemas add ...)",
                  file=sys.stderr)
            return 1
        name = f"aktenplan-{plan.version}-{authority.id}.xml"
        inputs.append((authority.id, report.message_id, Input(name, data)))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for _recipient, _pid, item in inputs:
            (args.out / item.name).write_bytes(item.data)
            print(args.out / item.name)
        return 0
    results = send(settings, region, sender.id, [i for _, _, i in inputs])
    failed = 0
    for (recipient, pid, _item), result in zip(inputs, results, strict=True):
        if result.ok:
            print(f"{recipient}: 0301 version {plan.version} ProzessID {pid} "
                  f"-> {result.topic}:{result.partition}:{result.offset}")
        else:
            failed += 1
            print(f"{recipient}: not sent: {result.error}", file=sys.stderr)
    return 1 if failed else 0


def _status(args: argparse.Namespace, settings: Settings, region: Region, plan: Aktenplan,
            recipients: list[Authority]) -> int:
    from hub.xdomea.exchanges import CLOSED, OPEN, ExchangeConfig, format_age, read_exchanges

    config = ExchangeConfig.default()
    found = config.lookup("xdomea", "0301")
    kind = found[0].type if found else "aktenplan"
    sender_key = region.get(plan.sender).dvdv_key
    entries = [e for e in read_exchanges(settings, timeout=args.timeout)
               if e.type == kind and e.requester == sender_key]
    now_ms = int(time.time() * 1000)
    rows = []
    for authority in recipients:
        mine = [e for e in entries if e.responder == authority.dvdv_key]
        acked = [e for e in mine if e.state == CLOSED]
        waiting = [e for e in mine if e.state == OPEN]
        newest_ack = max(acked, key=lambda e: e.closed_ms or 0, default=None)
        newest_open = max(waiting, key=lambda e: e.opened_ms, default=None)
        rows.append({
            "registratur": authority.id,
            "acknowledged": newest_ack.subject if newest_ack else None,
            "acknowledged_process_id": newest_ack.process_id if newest_ack else None,
            "waiting": newest_open.subject if newest_open else None,
            "waiting_process_id": newest_open.process_id if newest_open else None,
            "waiting_seconds": round(newest_open.age(now_ms), 3) if newest_open else None,
            "current": any(e.subject == plan.version for e in acked),
        })
    complete = all(r["current"] for r in rows)
    if args.json:
        print(json.dumps({"version": plan.version, "sender": plan.sender,
                          "complete": complete, "registraturen": rows}, ensure_ascii=False))
        return 0 if complete else 1
    print(f"file plan {plan.name!r} version {plan.version}, sender {plan.sender}")
    head = ("REGISTRATUR", "ACKNOWLEDGED", "WAITING FOR 0302", "SINCE")
    lines = [head] + [(
        str(r["registratur"]), str(r["acknowledged"] or "-"), str(r["waiting"] or "-"),
        format_age(float(r["waiting_seconds"])) if r["waiting_seconds"] is not None else "-",
    ) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return 0 if complete else 1
