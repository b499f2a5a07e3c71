"""CloudEvents 1.0 envelope in Kafka binary content mode.

An event travels as one Kafka record: the payload (our contract, JSON) is the value, the
CloudEvents attributes are ``ce_*`` headers, ``content-type`` is the data content type and the
record key is the partition key (the CloudEvents Kafka protocol binding, section 3.2). The W3C
``traceparent`` header carries the trace across the broker.

Both directions go through the CloudEvents SDK's Kafka binding, so a consumer written with a
plain CloudEvents SDK reads our records and we read theirs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from mc_events.contracts.base import Event, contract_for

CONTENT_TYPE = "application/json"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
SCHEMA_BASE = "urn:mc-events:schema:"

Headers = list[tuple[str, bytes]]
E = TypeVar("E", bound=Event)


class EnvelopeError(Exception):
    """A record that cannot be turned into a known, valid event. Never worth retrying."""


class NotACloudEvent(EnvelopeError):
    """The record lacks the CloudEvents attributes (or they are invalid)."""


class UnknownEventType(EnvelopeError):
    """A valid CloudEvent whose ``type`` has no contract in this build."""


class InvalidPayload(EnvelopeError):
    """The data does not validate against the contract of its ``type``."""


@dataclass(frozen=True)
class OutgoingRecord:
    """What a producer sends: topic, key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    event_id: str


@dataclass(frozen=True)
class Envelope:
    """The CloudEvents attributes of a received record plus its raw data."""

    id: str
    type: str
    source: str
    time: datetime | None
    subject: str | None
    key: str | None
    data: bytes
    traceparent: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Received(Generic[E]):
    """An event as a handler sees it: the typed payload and its envelope."""

    event: E
    envelope: Envelope


class _RawDataFormat(JSONFormat):
    """JSON format that leaves the data as bytes: the contract model parses it once, typed."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body


_WRITE_FORMAT = JSONFormat()
_READ_FORMAT = _RawDataFormat()
_CORE_ATTRIBUTES = {
    "id",
    "type",
    "source",
    "specversion",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "partitionkey",
}


def to_record(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    trace_headers: dict[str, str] | None = None,
) -> OutgoingRecord:
    """Serialise an event to a Kafka record in CloudEvents binary content mode."""
    event_id = event_id or str(uuid.uuid4())
    key = event.partition_key()
    attributes: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": event.ce_type(),
        "time": time or datetime.now(UTC),
        "subject": event.subject(),
        "datacontenttype": CONTENT_TYPE,
        "dataschema": f"{SCHEMA_BASE}{event.schema_name()}",
    }
    message = ce_kafka.to_binary(
        CloudEvent(attributes, event.model_dump_json().encode()),
        _WRITE_FORMAT,
        key_mapper=lambda _: key,
    )
    headers: Headers = sorted(message.headers.items())
    for name, value in (trace_headers or {}).items():
        headers.append((name, value.encode()))
    return OutgoingRecord(
        topic=event.topic,
        key=key.encode(),
        value=message.value,
        headers=headers,
        event_id=event_id,
    )


def parse_record(headers: Any, key: bytes | None, value: bytes | None) -> Envelope:
    """Read the CloudEvents attributes of a record. Raises :class:`NotACloudEvent`."""
    header_map: dict[str, bytes] = {}
    for name, raw in headers or ():
        header_map[name] = raw if raw is not None else b""
    if "ce_specversion" not in {n.lower() for n in header_map}:
        raise NotACloudEvent("record has no ce_specversion header: not a CloudEvent")
    try:
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""),
            _READ_FORMAT,
        )
    except (BaseCloudEventException, ValueError, UnicodeDecodeError) as exc:
        raise NotACloudEvent(f"invalid CloudEvents attributes: {exc}") from exc
    attributes = event.get_attributes()
    data = event.get_data()
    return Envelope(
        id=str(attributes["id"]),
        type=str(attributes["type"]),
        source=str(attributes["source"]),
        time=attributes.get("time"),
        subject=attributes.get("subject"),
        key=attributes.get("partitionkey"),
        data=data if isinstance(data, bytes) else b"",
        traceparent=_header_text(header_map, TRACEPARENT),
        extensions={k: v for k, v in attributes.items() if k not in _CORE_ATTRIBUTES},
    )


def decode(envelope: Envelope) -> Event:
    """Validate the data against the contract of the envelope's type."""
    contract = contract_for(envelope.type)
    if contract is None:
        raise UnknownEventType(f"no contract for event type {envelope.type!r}")
    try:
        return contract.model_validate_json(envelope.data)
    except ValidationError as exc:
        raise InvalidPayload(
            f"{envelope.type}: {exc.error_count()} validation errors: {exc}"
        ) from exc


def _header_text(headers: dict[str, bytes], name: str) -> str | None:
    raw = headers.get(name)
    return raw.decode(errors="replace") if raw else None
