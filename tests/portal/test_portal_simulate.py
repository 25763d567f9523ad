"""``xoev-hub portal setup`` and ``portal simulate`` end to end: the setup written by
the command, a real worker started with its worker.env (sourced by a shell, as the
docs say), the real broker, and the command's run for 8 citizens with a fixed seed.

Each citizen's outcome is what the mix intended (checked here against outcomes
written out per kind, not against the simulator's own expectation), the notices
reached the simulated Postfach (the hub's status and the authorities' notices
topics agree), and neither stdout nor stderr carries a token, a secret, an identity
assertion, a subject id or a form value.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from hub.cli import main
from hub.core.region import Region
from hub.kafka.topics import TopicNames
from hub.portal.catalog import Catalogue
from hub.portal.simulate import PRIVATE_KEY_FILE, PortalSetup, plan_citizens
from tests.worker.harness import WorkerProcess, drain, hub_env

from .helpers import Client, free_port

pytestmark = pytest.mark.kafka

#: what each kind of citizen must end as, with the authorities played
EXPECTED = {
    "pays": "forwarded, decision notice delivered",
    "free": "forwarded, decision notice delivered",
    "abandons": "rejected PAYMENT_TIMEOUT, rejection notice delivered",
    "wrong amount": "rejected PAYMENT_AMOUNT_MISMATCH, rejection notice delivered",
    "weak identity": "refused 403 TRUST_LEVEL_TOO_LOW",
}
LINE = re.compile(r"^(SIM-[0-9a-f]{6}-\d{3})  (\S+)\s+(\S+)\s+(pays|free|abandons|wrong amount|"
                  r"weak identity)\s+→ (.+)$")


def sourced_env(env_file: Path) -> dict[str, str]:
    """The variables a shell gets from ``set -a; . worker.env`` (as documented)."""
    out = subprocess.run(["bash", "-c", f"set -a; . '{env_file}'; env -0"], env={},
                         capture_output=True, check=True, timeout=30).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def test_portal_simulate_eight_citizens_end_to_end(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    folder = tmp_path / "portal-sim"
    web_port, postfach_port = free_port(), free_port()
    for name, value in hub_env(kafka_bootstrap, topic_prefix,
                               web_port=str(web_port)).items():
        if name.startswith("HUB_"):
            monkeypatch.setenv(name, value)
    assert main(["portal", "setup", str(folder), "--postfach-port", str(postfach_port),
                 "--payment-timeout", "8s"]) == 0
    setup_out = capsys.readouterr()
    assert (folder / "worker.env").stat().st_mode & 0o077 == 0
    assert (folder / PRIVATE_KEY_FILE).stat().st_mode & 0o077 == 0
    assert main(["portal", "setup", str(folder)]) == 1  # never silently replaced
    capsys.readouterr()

    worker_env = sourced_env(folder / "worker.env")
    assert worker_env["HUB_PORTAL_PAYMENT_TIMEOUT"] == "8s"
    env = hub_env(kafka_bootstrap, topic_prefix, web_port=str(web_port),
                  HUB_STATE_DIR=str(tmp_path / "state"), **worker_env)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    setup = PortalSetup.load(folder)
    client = Client(web_port, setup.token)
    try:
        client.wait_ready(worker)
        code = main(["portal", "simulate", "--setup", str(folder), "--citizens", "8",
                     "--seed", "4", "--rate", "4"])
        out = capsys.readouterr()
        assert code == 0, out.out + out.err

        rows = [LINE.match(line) for line in out.out.splitlines() if line.startswith("SIM-")]
        assert len(rows) == 8 and all(rows), out.out
        run = rows[0].group(1).rsplit("-", 1)[0]  # type: ignore[union-attr]
        catalogue = Catalogue.of_region(Region.load(setup.region_file))
        assert catalogue is not None
        citizens = {c.application_id: c for c in plan_citizens(catalogue, 8, 4, run=run[4:])}
        seen = {}
        for row in rows:
            assert row is not None
            app_id, city, service, kind, outcome = row.groups()
            citizen = citizens[app_id]
            assert (city, service, kind) == (citizen.city, citizen.service, citizen.kind)
            assert outcome == EXPECTED[kind], row.group(0)
            seen[app_id] = kind
        assert sorted(seen) == sorted(citizens)
        assert set(seen.values()) == set(EXPECTED)  # 8 citizens: every kind at least once
        assert "as intended: 8 of 8" in out.out
        answered = [a for a, k in seen.items() if k in ("pays", "free")]
        rejected = [a for a, k in seen.items() if k in ("abandons", "wrong amount")]
        assert f"Postfach: {len(answered) + len(rejected)} notices, 0 with a bad signature" \
            in out.out
        assert f"authorities answered {len(answered)} applications" in out.out

        # the hub agrees: every notice delivered, the refused citizen unknown
        for app_id, kind in seen.items():
            status, state = client.call("GET", f"/v1/applications/{app_id}")
            if kind == "weak identity":
                assert status == 404
                continue
            steps = [s["status"] for s in state["history"]]
            assert steps[-1] == "notice_delivered", (app_id, steps)
            assert ("decided" in steps) == (kind in ("pays", "free"))
            assert ("paid" in steps) == (kind == "pays")
        names = TopicNames(topic_prefix)
        notices = [names.notices(a.id) for a in catalogue.deciding_authorities()]
        drained = drain(kafka_bootstrap, notices, total=len(answered), timeout=30, settle=1)
        keys = sorted(k.decode() for topic in notices for k in drained.keys(topic))
        assert keys == sorted(answered)

        # no token, secret, assertion, subject id or form value on the terminal
        terminal = setup_out.out + setup_out.err + out.out + out.err
        key_d = str(setup.key.as_dict(private=True)["d"])
        secrets_ = [setup.token, setup.payment_token, setup.postfach_secret, key_d, "eyJ"]
        secrets_ += [c.subject for c in citizens.values()]
        for citizen in citizens.values():
            for field in ("familienname", "vornamen", "geburtsdatum", "geburtsort"):
                if field in citizen.form:
                    secrets_.append(str(citizen.form[field]))
            if "kind" in citizen.form:
                secrets_ += [str(v) for v in citizen.form["kind"].values()]
        leaked = [s for s in secrets_ if s in terminal]
        assert not leaked, leaked

        # an outcome other than intended is a non-zero exit: waiting 2 s only, the
        # abandoning citizen (every kind is in a mix of 5) is still awaiting payment
        code = main(["portal", "simulate", "--setup", str(folder), "--citizens", "5",
                     "--seed", "9", "--rate", "10", "--timeout", "2"])
        out = capsys.readouterr()
        assert code == 1, out.out
        unexpected = [line for line in out.out.splitlines() if "UNEXPECTED" in line]
        assert any("abandons      → awaiting payment (still so after the wait)   UNEXPECTED "
                   "(intended: rejected PAYMENT_TIMEOUT, rejection notice delivered)" in line
                   for line in unexpected), out.out
        assert re.search(r"as intended: [0-4] of 5", out.out)
    finally:
        worker.stop()
    assert time.monotonic() - started < 90
