"""Liveness and readiness rules, driven by an explicit clock."""

from __future__ import annotations

import asyncio

from hub.ops.health import Health, healthz, readyz

TP0 = ("xoev.in.solingen.meldebehoerde", 0)
TP1 = ("xoev.in.solingen.meldebehoerde", 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ready_health(clock: Clock) -> Health:
    h = Health(heartbeat_timeout=10, stall_timeout=60, broker_timeout=30, clock=clock)
    h.loop_heartbeat()
    h.set_broker_reachable(True)
    h.set_assignment([TP0, TP1])
    return h


def test_healthz_needs_a_fresh_heartbeat() -> None:
    clock = Clock()
    h = Health(clock=clock)
    assert healthz(h)[0] == 503
    h.loop_heartbeat()
    status, body = healthz(h)
    assert status == 200 and body["status"] == "ok"
    clock.now += 11
    status, body = healthz(h)
    assert status == 503 and body["loop"] == "stuck"


def test_ready_when_everything_is_fine() -> None:
    clock = Clock()
    status, body = readyz(ready_health(clock))
    assert status == 200, body
    assert body["status"] == "ready" and body["broker"] == "ok" and body["partitions"] == 2


def test_not_ready_before_broker_check_and_assignment() -> None:
    clock = Clock()
    h = Health(clock=clock)
    h.loop_heartbeat()
    status, body = readyz(h)
    assert status == 503
    assert "broker not checked yet" in body["reasons"]
    assert "no assignment yet" in body["reasons"]
    h.set_broker_reachable(True)
    h.set_assignment([])
    status, body = readyz(h)
    assert status == 503 and body["reasons"] == ["no partitions assigned"]
    standby = Health(clock=clock, require_assignment=False)
    standby.loop_heartbeat()
    standby.set_broker_reachable(True)
    assert readyz(standby)[0] == 200


def test_broker_unreachable_or_stale_check() -> None:
    clock = Clock()
    h = ready_health(clock)
    h.set_broker_reachable(False, "broker not reachable: KafkaConnectionError")
    status, body = readyz(h)
    assert status == 503 and body["broker"] == "unreachable"
    assert body["reasons"] == ["broker not reachable: KafkaConnectionError"]
    h.set_broker_reachable(True)
    assert readyz(h)[0] == 200
    clock.now += 31
    h.loop_heartbeat()
    status, body = readyz(h)
    assert status == 503 and body["broker"] == "stale"


def test_stall_with_lag_makes_not_ready_and_progress_recovers() -> None:
    clock = Clock()
    h = ready_health(clock)
    h.record_committed(TP0, 10)
    h.record_end_offsets({TP0: 10, TP1: 0})
    assert h.lag() == {TP0: 0, TP1: 0}
    clock.now += 100  # idle without input is fine
    h.loop_heartbeat()
    h.set_broker_reachable(True)
    assert readyz(h)[0] == 200
    h.record_end_offsets({TP0: 15})  # input arrives: the wait starts now
    clock.now += 59
    h.loop_heartbeat()
    h.set_broker_reachable(True)
    assert readyz(h)[0] == 200
    clock.now += 2
    h.loop_heartbeat()
    h.set_broker_reachable(True)
    status, body = readyz(h)
    assert status == 503
    assert body["stalled"] == ["xoev.in.solingen.meldebehoerde[0]"] and body["lag"] == 5
    h.record_committed(TP0, 12)  # progress
    status, body = readyz(h)
    assert status == 200 and body["lag"] == 3


def test_rebalance_restarts_the_wait_and_drops_revoked_partitions() -> None:
    clock = Clock()
    h = ready_health(clock)
    h.record_end_offsets({TP0: 5, TP1: 5})
    clock.now += 61
    h.loop_heartbeat()
    h.set_broker_reachable(True)
    assert readyz(h)[0] == 503
    h.set_assignment([TP1])
    status, body = readyz(h)
    assert status == 200 and body["partitions"] == 1
    assert h.lag() == {TP1: 5}
    h.record_committed(TP0, 3)  # revoked partition: ignored
    assert TP0 not in h.lag()


def test_run_heartbeat_task_keeps_liveness() -> None:
    h = Health(heartbeat_timeout=0.5)

    async def scenario() -> tuple[int, int]:
        task = asyncio.get_running_loop().create_task(h.run_heartbeat(0.05))
        await asyncio.sleep(0.2)
        alive = healthz(h)[0]
        task.cancel()
        await asyncio.sleep(0.7)
        return alive, healthz(h)[0]

    assert asyncio.run(scenario()) == (200, 503)


def test_client_config_takes_security_from_the_settings() -> None:
    from pydantic import SecretStr

    from hub.ops.health import client_config
    from hub.settings import Settings

    plain = client_config(Settings.model_construct())
    assert plain == {"security_protocol": "PLAINTEXT"}
    sasl = client_config(Settings.model_construct(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="xoev-hub", sasl_password=SecretStr("s3cret"),
    ))
    assert sasl == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                    "sasl_plain_username": "xoev-hub", "sasl_plain_password": "s3cret"}
