"""The event runtime the micro-credential services share: contracts, envelope, topics, outbox,
consumer runtime, district streams, Kafka clients, telemetry."""
