"""Telemetry every service shares: Prometheus metrics, OpenTelemetry tracing, JSON logs.

Metrics are named ``<service>_<noun>_<unit>`` and live in a per-process registry (one service per
process, and tests can build several side by side). Traces flow HTTP → DB → outbox → Kafka →
consumer: the outbox row stores the W3C ``traceparent`` of the transaction that wrote it, the
relay publishes as a child of it, the consumer processes as a child of the publish span.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from pythonjsonlogger.json import JsonFormatter

TRACER_NAME = "mc_events"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class BackboneMetrics:
    """The backbone's Prometheus metrics for one service process."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        p, r = self.service, self.registry
        # CPU, memory, open files and GC of the process, next to the backbone's figures.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        r.register(GC_COLLECTOR)
        self.published = Counter(
            f"{p}_events_published", "Events the relay published", ["topic"], registry=r
        )
        self.consumed = Counter(
            f"{p}_events_consumed",
            "Events a consumer processed (effects committed)",
            ["consumer", "topic"],
            registry=r,
        )
        self.duplicates = Counter(
            f"{p}_events_duplicate",
            "Redelivered events a consumer skipped (already in its inbox)",
            ["consumer", "topic"],
            registry=r,
        )
        self.failed = Counter(
            f"{p}_events_failed",
            "Handler attempts that raised (each retry counts)",
            ["consumer", "topic"],
            registry=r,
        )
        self.dead_lettered = Counter(
            f"{p}_events_dead_lettered",
            "Records sent to <topic>.dlq",
            ["consumer", "topic"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            f"{p}_outbox_backlog", "Outbox events not yet published", registry=r
        )
        self.outbox_oldest_age = Gauge(
            f"{p}_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox event (0 when empty)",
            registry=r,
        )
        self.relay_errors = Counter(
            f"{p}_relay_errors", "Relay batches that failed and will be retried", registry=r
        )
        self.relay_publish_seconds = Histogram(
            f"{p}_relay_publish_seconds",
            "Time to publish one relay batch and mark it sent",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.consumer_lag = Gauge(
            f"{p}_consumer_lag",
            "Records between a consumer's position and the partition's end",
            ["consumer", "topic", "partition"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            f"{p}_handler_seconds",
            "Time to handle one event (inside its transaction)",
            ["consumer", "event_type"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.batch_seconds = Histogram(
            f"{p}_consumer_batch_seconds",
            "Time to process and commit one consumer batch",
            ["consumer"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )


def setup_tracing(service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install the process-wide tracer provider.

    Spans go to ``exporter`` when given (tests), else over OTLP/HTTP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else nowhere (context still propagates).
    """
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_trace_headers() -> dict[str, str]:
    """W3C trace context of the current span, as headers (empty when there is no span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(headers)


def inject_into(carrier: MutableMapping[str, str], ctx: otel_context.Context | None = None) -> None:
    propagate.inject(carrier, context=ctx)


class _TraceIds(logging.Filter):
    """Adds the current trace and span ids to every record (empty outside a span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        else:
            record.trace_id = ""
            record.span_id = ""
        return True


def configure_logging(service: str, level: str | None = None, *, json: bool = True) -> None:
    """JSON logs on stderr with service, trace id and span id on every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceIds())
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
                timestamp=False,
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    # aiokafka logs every rebalance step at INFO; keep warnings and errors.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
