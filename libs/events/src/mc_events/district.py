"""Per-district award topics: names, sanitising of district ids, layout and configs.

Each district gets two topics, the access-control boundary of the
streams: a district's principal is granted READ on its own pair only (docs/security.md).

``district.<id>.awards``
    Every ``registry.credentials`` event of the district's educators, republished unchanged
    (same CloudEvent id, type, headers, data and record key: the educator id, so one
    educator's events stay in order). Kept forever: replayable from the beginning.
``district.<id>.awards.state``
    Compacted (``cleanup.policy=compact``): one record per credential (key = credential id)
    holding its current state; never a tombstone (a revoked credential stays, ``revoked``).

``<id>`` is the district id made safe for a topic name, injectively (two districts never share
a topic): letters, digits and ``-`` are kept; every other byte of its UTF-8 form, ``_`` and
``.`` included, becomes ``_`` followed by two lowercase hex digits (``D.1`` -> ``D_2e1``).
So the id never holds a ``.`` and cannot collide with Kafka's ``.``/``_`` metric-name rule.

Which district a record belongs to is the publishing service's knowledge (the registry's
fan-out route). It registers a :class:`DistrictRouter` in the ``mc_events.district_routers``
entry-point group; :func:`republish` (``mc-events district republish``) runs that same route,
so the routing lives in one place and this library never imports a service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from mc_events import fanout, kafka
from mc_events.topics import Topic

PREFIX = "district."
AWARDS_SUFFIX = ".awards"
STATE_SUFFIX = ".awards.state"
MAX_TOPIC_LENGTH = 249
"""Kafka's limit on topic names."""

AWARDS_PATTERN = "district.{district}.awards"
STATE_PATTERN = "district.{district}.awards.state"
DEFAULT_PARTITIONS = 3
"""One district's stream is small; a few partitions let a district scale its readers."""

_SAFE = re.compile(r"[A-Za-z0-9-]")


class InvalidDistrictId(ValueError):
    """A district id that cannot name a topic (empty, or too long once escaped)."""


def topic_id(district_id: str) -> str:
    """The district id as it appears in topic names (see the module docstring)."""
    if not district_id:
        raise InvalidDistrictId("district id is empty")
    escaped = "".join(
        char if _SAFE.fullmatch(char) else "".join(f"_{b:02x}" for b in char.encode())
        for char in district_id
    )
    if len(PREFIX) + len(escaped) + len(STATE_SUFFIX) > MAX_TOPIC_LENGTH:
        raise InvalidDistrictId(f"district id too long for a topic name: {district_id[:40]!r}...")
    return escaped


def district_of_topic(name: str) -> str | None:
    """The district id a district topic belongs to (None for any other topic)."""
    if not name.startswith(PREFIX):
        return None
    for suffix in (STATE_SUFFIX, AWARDS_SUFFIX):
        if name.endswith(suffix):
            escaped = name[len(PREFIX) : -len(suffix)]
            if not escaped or "." in escaped:
                return None
            try:
                return re.sub(
                    r"(?:_[0-9a-f]{2})+",
                    lambda m: bytes.fromhex(m.group(0).replace("_", "")).decode(),
                    escaped,
                )
            except (ValueError, UnicodeDecodeError):
                return None
    return None


def awards_topic(district_id: str, partitions: int = DEFAULT_PARTITIONS) -> Topic:
    return Topic(
        name=f"{PREFIX}{topic_id(district_id)}{AWARDS_SUFFIX}",
        partitions=partitions,
        key="state educator id",
        description=f"Awards of district {district_id}'s educators: every registry.credentials "
        "event of the district, unchanged (same CloudEvent id). Kept forever.",
        retention_ms=None,
    )


def state_topic(district_id: str, partitions: int = DEFAULT_PARTITIONS) -> Topic:
    return Topic(
        name=f"{PREFIX}{topic_id(district_id)}{STATE_SUFFIX}",
        partitions=partitions,
        key="credential id",
        description=f"Current state of each credential of district {district_id} (compacted).",
        compacted=True,
    )


STATE_TYPE = "registry.credential_state.v1"
"""CloudEvents type of the records of ``district.<id>.awards.state``."""

STATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The current state of one credential, folded from its lifecycle events "
    "(a revoked credential keeps a record: never a tombstone).",
    "required": ["credential_id", "educator_id", "district_id", "status", "event_id"],
    "properties": {
        "credential_id": {"type": "string"},
        "educator_id": {"type": "string"},
        "district_id": {"type": "string"},
        "micro_credential_id": {"type": "string"},
        "micro_credential_version": {"type": "integer"},
        "status": {"type": "string", "enum": ["active", "suspended", "revoked", "superseded"]},
        "superseded_by": {"type": "string", "description": "Set when status is superseded."},
        "as_of": {"type": ["string", "null"], "format": "date-time"},
        "event_id": {"type": "string", "description": "The lifecycle event (ce_id) it follows."},
        "event_type": {"type": "string"},
        "event": {"type": "object", "description": "That event's data, as on the awards topic."},
    },
}


def asyncapi_channels(
    award_messages: Mapping[str, Any], binding_version: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two district channels (``{district}`` a parameter) and the registry's operations on
    them, for the AsyncAPI document. ``award_messages``: the messages of
    ``registry.credentials``, which the awards topic carries unchanged."""
    parameter = {
        "district": {
            "description": "The district id, escaped for a topic name: letters, digits and `-` "
            "kept, any other UTF-8 byte as `_` and two hex digits."
        }
    }
    state_message = {
        "name": STATE_TYPE,
        "title": "CredentialState",
        "summary": "The current state of one credential of the district.",
        "contentType": "application/json",
        "payload": STATE_SCHEMA,
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "credential id"},
                "bindingVersion": binding_version,
            }
        },
    }
    state_id = STATE_TYPE.replace(".", "_")
    channels: dict[str, Any] = {
        "district_awards": {
            "address": AWARDS_PATTERN,
            "title": AWARDS_PATTERN,
            "description": "One district's awards: every registry.credentials event of the "
            "district's educators, republished unchanged (same ce_id; at least once: "
            "deduplicate on ce_id). Key: state educator id. Kept forever. A district's "
            "principal reads only its own.",
            "parameters": parameter,
            "messages": dict(award_messages),
            "bindings": {
                "kafka": {
                    "partitions": DEFAULT_PARTITIONS,
                    "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": -1},
                    "bindingVersion": binding_version,
                }
            },
        },
        "district_awards_state": {
            "address": STATE_PATTERN,
            "title": STATE_PATTERN,
            "description": "Current state of each credential of one district (compacted). "
            "Key: credential id.",
            "parameters": parameter,
            "messages": {state_id: state_message},
            "bindings": {
                "kafka": {
                    "partitions": DEFAULT_PARTITIONS,
                    "topicConfiguration": {"cleanup.policy": ["compact"]},
                    "bindingVersion": binding_version,
                }
            },
        },
    }
    operations = {
        f"registry_publishes_{channel}": {
            "action": "send",
            "title": f"registry publishes {body['address']}",
            "summary": "The registry's district fan-out republishes registry.credentials.",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [
                {"$ref": f"#/channels/{channel}/messages/{message}"} for message in body["messages"]
            ],
        }
        for channel, body in channels.items()
    }
    return channels, operations


# ---------------------------------------------------------------------------------------------
# Republishing one district's topics

ROUTERS_GROUP = "mc_events.district_routers"
"""Entry-point group where a service registers its :class:`DistrictRouter`."""


@dataclass(frozen=True)
class DistrictRouter:
    """How a service fans its topics out to district topics: the topics its fan-out reads and
    the route it applies to each record (the same function, for the live fan-out and for a
    republish)."""

    source_topics: tuple[str, ...]
    route: fanout.Route


class NoDistrictRouter(LookupError):
    """No installed package registers a district router (the registry's is missing)."""


def installed_router() -> DistrictRouter:
    """The district router an installed service registers in :data:`ROUTERS_GROUP`."""
    found = sorted(entry_points(group=ROUTERS_GROUP), key=lambda ep: ep.name)
    if not found:
        raise NoDistrictRouter(
            f"no package registers a district router (entry-point group {ROUTERS_GROUP!r}); "
            "install the registry (mc-registry) next to mc-events"
        )
    if len(found) > 1:
        raise NoDistrictRouter(
            f"several district routers are installed ({', '.join(ep.name for ep in found)}): "
            "district topics have one publisher"
        )
    router = found[0].load()
    if not isinstance(router, DistrictRouter):
        raise NoDistrictRouter(f"{found[0].value} is not a DistrictRouter")
    return router


def topic_names(district_id: str) -> frozenset[str]:
    """The names of a district's two topics."""
    return frozenset({awards_topic(district_id).name, state_topic(district_id).name})


async def republish(
    kafka_settings: kafka.KafkaSettings,
    router: DistrictRouter,
    district_id: str,
    *,
    source_topics: Iterable[str] | None = None,
    dry_run: bool = False,
    progress: fanout.Progress | None = None,
) -> fanout.RepublishResult:
    """Send again, from the beginning of the router's source topics (or ``source_topics``),
    every record the fan-out writes to ``district_id``'s two topics, and nothing else: same
    bytes, same CloudEvent ids (readers dedupe by id), so running it twice only adds copies."""
    wanted = topic_names(district_id)
    return await fanout.republish(
        kafka_settings,
        source_topics=router.source_topics if source_topics is None else tuple(source_topics),
        route=router.route,
        wanted=wanted.__contains__,
        dry_run=dry_run,
        progress=progress,
    )
