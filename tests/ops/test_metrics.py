"""HubMetrics: names, labels and helpers, read back from its own registry."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from hub.ops.metrics import (
    END_TO_END_BUCKETS,
    PREFIX,
    HubMetrics,
    is_rueckmeldung,
    parse_created,
)


def value(m: HubMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_every_metric_has_the_prefix_and_instances_are_independent() -> None:
    a, b = HubMetrics(), HubMetrics()
    a.observe_received("solingen.meldebehoerde", 2048)
    assert value(a, "xoev_hub_messages_received_total", source="solingen.meldebehoerde") == 1
    assert value(b, "xoev_hub_messages_received_total", source="solingen.meldebehoerde") is None
    for family in a.registry.collect():
        assert family.name.startswith(PREFIX), family.name


def test_given_registry_is_used() -> None:
    registry = CollectorRegistry()
    m = HubMetrics(registry)
    m.observe_duplicate("remscheid.standesamt")
    assert registry.get_sample_value(
        "xoev_hub_duplicates_total", {"source": "remscheid.standesamt"}
    ) == 1


def test_contract_names_are_exported() -> None:
    names = HubMetrics().sample_names()
    for name in [
        "xoev_hub_messages_received_total",
        "xoev_hub_messages_delivered_total",
        "xoev_hub_messages_deadlettered_total",
        "xoev_hub_duplicates_total",
        "xoev_hub_processing_seconds_bucket",
        "xoev_hub_end_to_end_seconds_bucket",
        "xoev_hub_rueckmeldung_age_at_delivery_seconds_count",
        "xoev_hub_message_bytes_sum",
        "xoev_hub_consumer_lag",
        "xoev_hub_newest_message_age_seconds",
        "xoev_hub_oldest_pending_rueckmeldung_age_seconds",
        "xoev_hub_build_info",
        "xoev_hub_ready",
    ]:
        assert name in names, name


def test_delivery_counts_each_destination_and_observes_latency_once() -> None:
    m = HubMetrics()
    now = time.time()
    m.observe_delivery(
        source="wuppertal.meldebehoerde",
        destinations=["solingen.meldebehoerde", "external"],
        standard="XMeld",
        message_type="0201",
        created=now - 90.0,
        now=now,
    )
    for destination in ("solingen.meldebehoerde", "external"):
        assert value(
            m, "xoev_hub_messages_delivered_total", source="wuppertal.meldebehoerde",
            destination=destination, standard="XMeld", message_type="0201",
        ) == 1
    assert value(m, "xoev_hub_end_to_end_seconds_count", standard="XMeld", message_type="0201") == 1
    assert value(m, "xoev_hub_end_to_end_seconds_sum", standard="XMeld", message_type="0201") == (
        pytest.approx(90.0)
    )
    # 90 s falls into the 300 s bucket, not the 60 s one
    assert value(m, "xoev_hub_end_to_end_seconds_bucket", standard="XMeld", message_type="0201",
                 le="60.0") == 0
    assert value(m, "xoev_hub_end_to_end_seconds_bucket", standard="XMeld", message_type="0201",
                 le="300.0") == 1
    # a Rückmeldung: its age is observed for the § 33 deadline too
    assert value(m, "xoev_hub_rueckmeldung_age_at_delivery_seconds_count", message_type="0201") == 1


def test_lexical_created_time_and_non_rueckmeldung() -> None:
    m = HubMetrics()
    created = "2026-11-25T10:00:00+01:00"
    now = parse_created(created)
    assert now is not None
    m.observe_delivery(
        source="solingen.standesamt", destinations=["solingen.meldebehoerde"],
        standard="XPersonenstand", message_type="031010", created=created, now=now + 2.0,
    )
    assert value(m, "xoev_hub_end_to_end_seconds_sum", standard="XPersonenstand",
                 message_type="031010") == pytest.approx(2.0)
    assert value(m, "xoev_hub_rueckmeldung_age_at_delivery_seconds_count",
                 message_type="031010") is None


def test_unreadable_or_future_created_does_not_raise() -> None:
    m = HubMetrics()
    m.observe_delivery(source="a", destinations=["b"], standard="XMeld", message_type="0040",
                       created="not a time")
    assert value(m, "xoev_hub_end_to_end_seconds_count", standard="XMeld",
                 message_type="0040") is None
    m.observe_delivery(source="a", destinations=["b"], standard="XMeld", message_type="0040",
                       created=time.time() + 3600)
    assert value(m, "xoev_hub_end_to_end_seconds_sum", standard="XMeld",
                 message_type="0040") == 0.0


def test_parse_created() -> None:
    assert parse_created("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_created("2026-01-01T01:00:00+01:00") == 1767225600.0
    assert parse_created("2026-01-01T00:00:00") == 1767225600.0  # no zone: UTC
    assert parse_created("gestern") is None


def test_is_rueckmeldung() -> None:
    assert is_rueckmeldung("XMeld", "0201")
    assert is_rueckmeldung("XMeld", "0224")
    assert not is_rueckmeldung("XMeld", "0040")
    assert not is_rueckmeldung("XPersonenstand", "0201")


def test_deadletter_and_stage_time() -> None:
    m = HubMetrics()
    m.observe_deadletter(source="remscheid.meldebehoerde", stage="parse",
                         code="XML_ENTITY_FORBIDDEN")
    assert value(m, "xoev_hub_messages_deadlettered_total", source="remscheid.meldebehoerde",
                 stage="parse", code="XML_ENTITY_FORBIDDEN") == 1
    m.observe_stage("validate", 0.01)
    total = value(m, "xoev_hub_processing_seconds_sum", stage="validate")
    assert total is not None and abs(total - 0.01) < 1e-9
    assert value(m, "xoev_hub_processing_seconds_count", stage="validate") == 1


def test_consumer_lag_series_follow_the_assignment() -> None:
    m = HubMetrics()
    m.set_consumer_lag({("xoev.in.a", 0): 5, ("xoev.in.a", 1): 0})
    assert value(m, "xoev_hub_consumer_lag", topic="xoev.in.a", partition="0") == 5
    m.set_consumer_lag({("xoev.in.a", 1): 7})  # partition 0 revoked
    assert value(m, "xoev_hub_consumer_lag", topic="xoev.in.a", partition="0") is None
    assert value(m, "xoev_hub_consumer_lag", topic="xoev.in.a", partition="1") == 7


def test_newest_message_age_grows_with_time() -> None:
    m = HubMetrics()
    m.observe_consumed("xoev.in.a", time.time() - 30)
    m.observe_consumed("xoev.in.a", time.time() - 100)  # older: ignored
    age = value(m, "xoev_hub_newest_message_age_seconds", topic="xoev.in.a")
    assert age is not None and 29 <= age < 35


def test_pending_rueckmeldung_age() -> None:
    m = HubMetrics()
    assert value(m, "xoev_hub_oldest_pending_rueckmeldung_age_seconds") == 0
    now = time.time()
    m.pending_begin(("t", 0, 1), standard="XMeld", message_type="0201", created=now - 7200)
    m.pending_begin(("t", 0, 2), standard="XMeld", message_type="0202", created=now - 60)
    m.pending_begin(("t", 0, 3), standard="XMeld", message_type="0040", created=now - 99999)
    age = value(m, "xoev_hub_oldest_pending_rueckmeldung_age_seconds")
    assert age is not None and 7199 < age < 7300
    m.pending_end(("t", 0, 1))
    age = value(m, "xoev_hub_oldest_pending_rueckmeldung_age_seconds")
    assert age is not None and 59 < age < 120
    m.pending_end(("t", 0, 2))
    assert value(m, "xoev_hub_oldest_pending_rueckmeldung_age_seconds") == 0
    m.pending_end(("t", 0, 9))  # a message that was never pending (most are not)
    assert value(m, "xoev_hub_oldest_pending_rueckmeldung_age_seconds") == 0


def test_build_info_carries_versions() -> None:
    m = HubMetrics()
    m.set_build_info(broker_version="4.1.1")
    text = generate_latest(m.registry).decode()
    line = next(x for x in text.splitlines() if x.startswith("xoev_hub_build_info{"))
    assert 'broker_version="4.1.1"' in line and 'faust_version="0.15.3"' in line
    assert line.endswith(" 1.0")


def test_buckets_are_sorted() -> None:
    assert list(END_TO_END_BUCKETS) == sorted(END_TO_END_BUCKETS)


def test_completed_counts_each_message_once_per_outcome() -> None:
    m = HubMetrics()
    src = "solingen.meldebehoerde"
    m.observe_delivery(source=src, destinations=["a", "b", "external"], standard="XMeld",
                       message_type="0201")
    m.observe_deadletter(source=src, stage="validate", code="SCHEMA_INVALID")
    m.observe_duplicate(src)
    m.observe_duplicate(src)
    for outcome, expected in (("delivered", 1), ("deadlettered", 1), ("duplicate", 2)):
        assert value(m, "xoev_hub_messages_completed_total", source=src, outcome=outcome) == (
            expected
        )


def test_label_values_that_do_not_look_like_ids_are_replaced() -> None:
    m = HubMetrics()
    m.observe_received("Erika Mustermann", 100)  # a name passed by mistake
    m.observe_deadletter(source="solingen.meldebehoerde", stage="validate",
                         code="Element 'familienname': 'Müller' is not valid")
    m.observe_delivery(source="solingen.meldebehoerde", destinations=["Hauptstraße 5"],
                       standard="XMeld", message_type="0201")
    text = generate_latest(m.registry).decode()
    for fragment in ("Mustermann", "Müller", "familienname", "Hauptstra"):
        assert fragment not in text
    assert value(m, "xoev_hub_messages_received_total", source="invalid") == 1
    assert value(m, "xoev_hub_messages_deadlettered_total", source="solingen.meldebehoerde",
                 stage="validate", code="invalid") == 1
    assert value(m, "xoev_hub_messages_delivered_total", source="solingen.meldebehoerde",
                 destination="invalid", standard="XMeld", message_type="0201") == 1


def test_real_ids_and_codes_pass_the_label_guard() -> None:
    from hub.ops.metrics import safe_label

    assert safe_label("authority", "wuppertal.auslaenderbehoerde") == "wuppertal.auslaenderbehoerde"
    assert safe_label("authority", "external") == "external"
    assert safe_label("code", "XML_ENTITY_FORBIDDEN") == "XML_ENTITY_FORBIDDEN"
    assert safe_label("standard", "XAusländer") == "XAusländer"
    assert safe_label("message_type", "031010") == "031010"
    assert safe_label("stage", "authorize") == "authorize"
    assert safe_label("authority", "wuppertal") == "invalid"  # no kind: not an authority id


def test_implausible_created_times_are_not_observed() -> None:
    m = HubMetrics()
    for created in ("1900-01-01T00:00:00Z", time.time() + 3 * 86400, time.time() - 500 * 86400):
        m.observe_delivery(source="a", destinations=["b"], standard="XMeld",
                           message_type="0201", created=created)
        m.pending_begin(("t", 0, 1), standard="XMeld", message_type="0201", created=created)
    assert value(m, "xoev_hub_end_to_end_seconds_count", standard="XMeld",
                 message_type="0201") is None
    assert value(m, "xoev_hub_rueckmeldung_age_at_delivery_seconds_count",
                 message_type="0201") is None
    assert m._oldest_pending_age() == 0.0
