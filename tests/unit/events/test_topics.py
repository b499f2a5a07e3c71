"""The topic registry."""

import re

from mc_events.kafka import KafkaSettings
from mc_events.topics import TOPICS, Topic, all_topics, topic


def test_every_topic_is_named_service_dot_aggregate_and_says_what_its_key_is():
    services = {"registry", "enrollment", "review", "compensation"}
    for t in TOPICS:
        service, _, aggregate = t.name.partition(".")
        assert service in services, t.name
        assert re.fullmatch(r"[a-z_]+", aggregate), t.name
        assert t.key
        assert t.description
        assert t.partitions >= 1


def test_every_topic_has_a_dead_letter_twin_kept_forever():
    names = {t.name for t in all_topics()}
    for t in TOPICS:
        assert f"{t.name}.dlq" in names
        assert topic(f"{t.name}.dlq").configs() == {"retention.ms": "-1"}


def test_compacted_topics_say_so_and_others_carry_a_retention():
    assert Topic("a.b", 1, key="k", description="d", compacted=True).configs() == {
        "cleanup.policy": "compact"
    }
    assert Topic("a.b", 1, key="k", description="d", retention_ms=1000).configs() == {
        "retention.ms": "1000"
    }


def test_kafka_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093")
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "false")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "registry")  # SASL without them fails at start-up
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    settings = KafkaSettings()
    assert settings.bootstrap_servers == "broker-1:9093,broker-2:9093"
    assert settings.enable_idempotence is False
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
