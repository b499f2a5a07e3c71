"""Logs are JSON lines that carry the service and the trace they belong to."""

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from mc_events.telemetry import configure_logging


def test_a_log_line_is_json_with_service_level_and_the_current_trace_id(capsys):
    configure_logging("registry", "INFO")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("award") as span:
        logging.getLogger("registry.awards").info(
            "credential awarded", extra={"credential_id": "c-1"}
        )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["service"] == "registry"
    assert line["level"] == "INFO"
    assert line["message"] == "credential awarded"
    assert line["credential_id"] == "c-1"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_outside_a_span_the_trace_id_is_empty(capsys):
    configure_logging("review", "INFO")
    logging.getLogger("review").warning("queue deep")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["trace_id"] == ""
    assert line["level"] == "WARNING"
