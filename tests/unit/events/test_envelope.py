"""The CloudEvents envelope: what goes on the wire and what is refused on the way in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from mc_events.contracts.base import Event, contract_for
from mc_events.envelope import (
    InvalidPayload,
    NotACloudEvent,
    UnknownEventType,
    decode,
    parse_record,
    to_record,
)


class LessonObserved(Event):
    """Test contract: emitted when a lesson was observed."""

    event_type: ClassVar[str] = "unit_test.lesson_observed"
    topic: ClassVar[str] = "unit_test.lessons"
    key_field: ClassVar[str] = "educator_id"
    subject_field: ClassVar[str | None] = "lesson_id"
    educator_id: str
    lesson_id: str
    minutes: int


def make() -> LessonObserved:
    return LessonObserved(educator_id="TX-0001", lesson_id="L-9", minutes=45)


def test_a_contract_registers_under_its_versioned_cloudevents_type():
    assert LessonObserved.ce_type() == "unit_test.lesson_observed.v1"
    assert contract_for("unit_test.lesson_observed.v1") is LessonObserved


def test_record_is_binary_mode_with_key_subject_and_schema_reference():
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    record = to_record(make(), source="/mc/unit_test", event_id="evt-1", time=when)
    headers = dict(record.headers)
    assert record.topic == "unit_test.lessons"
    assert record.key == b"TX-0001"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == b"evt-1"
    assert headers["ce_type"] == b"unit_test.lesson_observed.v1"
    assert headers["ce_source"] == b"/mc/unit_test"
    assert headers["ce_subject"] == b"L-9"
    assert headers["ce_time"] == b"2026-03-01T12:00:00Z"
    assert headers["ce_dataschema"] == b"urn:mc-events:schema:unit_test.lesson_observed.v1"
    assert headers["content-type"] == b"application/json"
    assert json.loads(record.value) == {"educator_id": "TX-0001", "lesson_id": "L-9", "minutes": 45}


def test_round_trip_gives_back_the_same_event_and_attributes():
    record = to_record(
        make(),
        source="/mc/unit_test",
        trace_headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
    )
    envelope = parse_record(record.headers, record.key, record.value)
    assert envelope.id == record.event_id
    assert envelope.key == "TX-0001"
    assert envelope.time is not None
    assert envelope.time.tzinfo is not None
    assert envelope.traceparent is not None
    assert decode(envelope) == make()


def test_a_record_without_cloudevents_headers_is_refused():
    with pytest.raises(NotACloudEvent):
        parse_record([], b"k", b'{"educator_id": "x"}')


def test_a_record_missing_a_required_attribute_is_refused():
    record = to_record(make(), source="/mc/unit_test")
    headers = [(k, v) for k, v in record.headers if k != "ce_source"]
    with pytest.raises(NotACloudEvent):
        parse_record(headers, record.key, record.value)


def test_an_unknown_event_type_is_refused_not_guessed():
    record = to_record(make(), source="/mc/unit_test")
    headers = [
        (k, b"unit_test.lesson_observed.v9" if k == "ce_type" else v) for k, v in record.headers
    ]
    with pytest.raises(UnknownEventType):
        decode(parse_record(headers, record.key, record.value))


def test_a_payload_that_breaks_the_contract_is_refused_with_the_reason():
    record = to_record(make(), source="/mc/unit_test")
    envelope = parse_record(
        record.headers, record.key, b'{"educator_id": "x", "lesson_id": "y", "minutes": "many"}'
    )
    with pytest.raises(InvalidPayload, match="minutes"):
        decode(envelope)


def test_consumers_ignore_fields_they_do_not_know_so_producers_can_add_optional_ones():
    record = to_record(make(), source="/mc/unit_test")
    newer = json.dumps({**json.loads(record.value), "room": "B12"}).encode()
    assert decode(parse_record(record.headers, record.key, newer)) == make()


def test_contracts_are_immutable():
    event = make()
    with pytest.raises(ValueError, match="frozen"):
        event.minutes = 50  # type: ignore[misc]
