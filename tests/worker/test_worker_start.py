"""Starting the worker: with ``--no-apply-topics`` it refuses to run while a contract
topic is missing, instead of waiting on it and failing the first delivery."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

from .harness import hub_env

pytestmark = pytest.mark.kafka


def test_no_apply_topics_refuses_to_start_while_topics_are_missing(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub", "worker", "--no-apply-topics"],
        env=hub_env(kafka_bootstrap, topic_prefix),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "contract topics are missing" in line]
    assert len(lines) == 1, done.stderr[-2000:]
    assert f"{topic_prefix}xoev." in lines[0]
    assert "xoev-hub topics apply" in lines[0]
    # nothing was created on the way
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert not [t for t in admin.list_topics() if t.startswith(topic_prefix)]
    finally:
        admin.close()
