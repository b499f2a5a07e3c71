"""District award streams: republish ``registry.credentials`` per district.

Every event of ``registry.credentials`` that names a ``district_id`` is copied, byte for byte
(same key, value and headers: same CloudEvent id, type, time, trace), to
``district.<id>.awards``. Credential lifecycle events also write the credential's current state
to the compacted ``district.<id>.awards.state`` (key = credential id), as a CloudEvent of type
``registry.credential_state.v1`` whose id is derived from the source event's id, so a resent
state record carries the same id as the first.

The state is folded from the events alone (no database read: a replay from the beginning gives
the same records): identity and status from the lifecycle event, its data under ``event``.
A reissue also writes the superseded credential's state. One credential's events come from one
educator, so one source partition, in order; the state records of a key are written in that
order. Delivery is at least once (see :mod:`mc_events.fanout`): readers dedupe by CloudEvent id.

:data:`ROUTER` (registered in the ``mc_events.district_routers`` entry-point group of this
package) hands the same source topics and :func:`route` to ``mc-events district republish``,
which rebuilds one district's topics from the beginning of ``registry.credentials``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from mc_events import district, kafka, topics
from mc_events.envelope import Envelope, EnvelopeError, parse_record
from mc_events.fanout import (
    FanOut,
    FanOutSettings,
    Outgoing,
    Progress,
    RepublishResult,
    SourceRecord,
)
from mc_platform.service import ServiceRuntime

STATE_TYPE = district.STATE_TYPE
STATE_SOURCE = "/mc/registry/district-fanout"
_STATE_IDS = uuid.UUID("6f1d3c52-8a0e-4c47-9d7b-0f8e5a1b2c3d")
"""Namespace of the state records' (uuid5) CloudEvent ids."""

STATUS_AFTER: dict[str, str] = {
    "registry.credential_awarded.v1": "active",
    "registry.credential_reinstated.v1": "active",
    "registry.credential_reissued.v1": "active",
    "registry.credential_suspended.v1": "suspended",
    "registry.credential_revoked.v1": "revoked",
}
"""Credential lifecycle events and the status each leaves the credential in."""

_IDENTITY = ("educator_id", "district_id", "micro_credential_id", "micro_credential_version")
_FORMAT = JSONFormat()


class NotRoutable(EnvelopeError):
    """A CloudEvent whose data is not a JSON object."""


def route(record: SourceRecord) -> list[Outgoing]:
    """What one ``registry.credentials`` record becomes in its district's topics."""
    envelope = parse_record(record.headers, record.key, record.value)
    try:
        data = json.loads(envelope.data)
    except ValueError as exc:
        raise NotRoutable(f"{envelope.type} {envelope.id}: data is not JSON") from exc
    if not isinstance(data, dict):
        raise NotRoutable(f"{envelope.type} {envelope.id}: data is not a JSON object")
    district_id = data.get("district_id")
    if not isinstance(district_id, str) or not district_id:
        return []  # not a district's event (none so far): nothing to fan out
    out = [
        Outgoing(
            district.awards_topic(district_id),
            record.key,
            record.value,
            record.headers,
        )
    ]
    state_topic = district.state_topic(district_id)
    for credential_id, state in credential_states(envelope, data):
        out.append(state_record(state_topic, envelope, credential_id, state))
    return out


def credential_states(envelope: Envelope, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (credential id, current state) pairs an event leaves behind."""
    status = STATUS_AFTER.get(envelope.type)
    credential_id = data.get("credential_id")
    if status is None or not isinstance(credential_id, str):
        return []
    as_of = envelope.time.isoformat() if envelope.time else None
    identity = {name: data.get(name) for name in _IDENTITY}
    states = [
        (
            credential_id,
            {
                "credential_id": credential_id,
                **identity,
                "status": status,
                "as_of": as_of,
                "event_id": envelope.id,
                "event_type": envelope.type,
                "event": data,
            },
        )
    ]
    previous = data.get("previous_credential_id")
    if isinstance(previous, str) and previous:
        states.append(
            (
                previous,
                {
                    "credential_id": previous,
                    **identity,
                    "status": "superseded",
                    "superseded_by": credential_id,
                    "as_of": as_of,
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "event": data,
                },
            )
        )
    return states


def state_record(
    topic: topics.Topic, source: Envelope, credential_id: str, state: dict[str, Any]
) -> Outgoing:
    """The state as a CloudEvent (binary mode) keyed by credential id; same id on a resend."""
    attributes: dict[str, Any] = {
        "id": str(uuid.uuid5(_STATE_IDS, f"{source.id}/{credential_id}")),
        "source": STATE_SOURCE,
        "type": STATE_TYPE,
        "subject": credential_id,
        "datacontenttype": "application/json",
    }
    if source.time is not None:
        attributes["time"] = source.time
    message = ce_kafka.to_binary(
        CloudEvent(attributes, json.dumps(state, separators=(",", ":")).encode()),
        _FORMAT,
        key_mapper=lambda _: credential_id,
    )
    headers = sorted(message.headers.items())
    if source.traceparent:
        headers.append(("traceparent", source.traceparent.encode()))
    return Outgoing(topic, credential_id.encode(), message.value, headers)


def kind(topic_name: str) -> str:
    return "state" if topic_name.endswith(district.STATE_SUFFIX) else "awards"


SOURCE_TOPICS: tuple[str, ...] = (topics.CREDENTIALS.name,)
"""What the fan-out reads."""

ROUTER = district.DistrictRouter(source_topics=SOURCE_TOPICS, route=route)
"""The fan-out's routing, for ``mc-events district republish`` (an entry point)."""


async def republish(
    kafka_settings: kafka.KafkaSettings,
    district_id: str,
    *,
    source_topics: Iterable[str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RepublishResult:
    """Rebuild ``district_id``'s two topics from the beginning of :data:`SOURCE_TOPICS`."""
    return await district.republish(
        kafka_settings,
        ROUTER,
        district_id,
        source_topics=source_topics,
        dry_run=dry_run,
        progress=progress,
    )


def fanout(runtime: ServiceRuntime, source: Sequence[str] = SOURCE_TOPICS) -> FanOut:
    settings = runtime.definition.settings
    group = f"{settings.consumer_group or runtime.name}-district-fanout"
    return FanOut(
        name=f"{runtime.name}-district-fanout",
        source_topics=source,
        route=route,
        kafka_settings=settings.kafka,
        group_id=group,
        settings=FanOutSettings(),
        registry=runtime.metrics.registry,
        kind=kind,
    )


async def run(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """The ``district-fanout`` worker of ``python -m registry serve``."""
    await fanout(runtime).run(stop)
