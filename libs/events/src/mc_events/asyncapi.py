"""The AsyncAPI 3 document of every stream, generated from the topic registry and the contracts.

One channel per topic (Kafka binding: partitions, key, retention), one message per contract
version (CloudEvents headers, the JSON Schema of the payload, the record key), one ``send``
operation per topic for the service that owns it. Districts and state integrators build their
consumers from it. Checked in as ``libs/events/asyncapi.json`` (a test fails when it is out of
date) and served by every service at ``/asyncapi.json``.

    python -m mc_events.asyncapi write    # regenerate the checked-in document
    python -m mc_events.asyncapi check    # exit 1 if it is out of date
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mc_events import district
from mc_events.contracts.base import Event
from mc_events.schemas import published_contracts, schema_for
from mc_events.topics import CREDENTIALS, TOPICS, Topic

DOCUMENT = Path(__file__).resolve().parents[2] / "asyncapi.json"
KAFKA_BINDING_VERSION = "0.5.0"

_CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode, and the W3C "
    "trace context.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Event id: consumers deduplicate on it."},
        "ce_source": {"type": "string", "description": "The emitting service, /mc/<service>."},
        "ce_type": {"type": "string", "description": "<service>.<thing_happened>.v<version>"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The aggregate the event is about."},
        "ce_dataschema": {"type": "string", "description": "urn:mc-events:schema:<ce_type>"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The payload schema with its ``$defs`` references inlined: inside an AsyncAPI document a
    ``#/$defs/...`` pointer would resolve against the document root."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "$schema", "$id")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


def _message_id(contract: type[Event]) -> str:
    return contract.ce_type().replace(".", "_")


def _channel_id(topic: Topic) -> str:
    return topic.name.replace(".", "_")


def build() -> dict[str, Any]:
    contracts = published_contracts()
    by_topic: dict[str, list[type[Event]]] = {}
    for contract in contracts.values():
        by_topic.setdefault(contract.topic, []).append(contract)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in TOPICS:
        members = sorted(by_topic.get(topic.name, []), key=lambda c: c.ce_type())
        channel = _channel_id(topic)
        channels[channel] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Key: {topic.key}. Dead letters go to "
            f"`{topic.dlq.name}`.",
            "messages": {
                _message_id(c): {"$ref": f"#/components/messages/{_message_id(c)}"} for c in members
            },
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": ["compact" if topic.compacted else "delete"],
                        **({} if topic.compacted else {"retention.ms": topic.retention_ms or -1}),
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        owner = topic.name.split(".", 1)[0]
        operations[f"{owner}_publishes_{channel}"] = {
            "action": "send",
            "title": f"{owner} publishes {topic.name}",
            "summary": f"The {owner} service publishes these events (from its outbox).",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [
                {"$ref": f"#/channels/{channel}/messages/{_message_id(c)}"} for c in members
            ],
        }
        for contract in members:
            doc = (contract.__doc__ or "").strip()
            summary = doc.splitlines()[0] if doc else contract.ce_type()
            messages[_message_id(contract)] = {
                "name": contract.ce_type(),
                "title": contract.__name__,
                "summary": summary,
                "description": doc,
                "contentType": "application/json",
                "headers": _CLOUDEVENTS_HEADERS,
                "payload": {"$ref": f"#/components/schemas/{_message_id(contract)}"},
                "bindings": {
                    "kafka": {
                        "key": {
                            "type": "string",
                            "description": f"{topic.key} (payload field `{contract.key_field}`)",
                        },
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            }
            schemas[_message_id(contract)] = _inline(schema_for(contract))
    district_channels, district_operations = district.asyncapi_channels(
        channels[_channel_id(CREDENTIALS)]["messages"], KAFKA_BINDING_VERSION
    )
    channels.update(district_channels)
    operations.update(district_operations)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Micro-credential event backbone",
            "version": "1.0.0",
            "description": "Every event of the statewide educator micro-credential lifecycle: "
            "catalog, roster, enrollments, reviews, credentials, payments and payroll. Each is a "
            "CloudEvents 1.0 record in Kafka binary content mode; the record key is the "
            "partition key; consumers deduplicate on `ce_id` and ignore unknown payload fields. "
            "A breaking change is a new version (`.v2`), published alongside the old one.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:59092",
                "protocol": "kafka",
                "description": "The broker `make run` starts (embedded, no authentication).",
            },
            "production": {
                "host": "kafka.state.example:9093",
                "protocol": "kafka-secure",
                "description": "A state's cluster: SASL/SCRAM over TLS; each district may read "
                "only its own award topics (ACLs).",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {
                "scram": {"type": "scramSha512", "description": "SASL/SCRAM-SHA-512 over TLS."}
            },
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    command = (list(argv) if argv is not None else sys.argv[1:]) or ["check"]
    text = render()
    if command[0] == "write":
        DOCUMENT.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT}")
        return 0
    if command[0] == "check":
        current = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
        if current != text:
            print(f"{DOCUMENT} is out of date: run `python -m mc_events.asyncapi write`")
            return 1
        print("asyncapi.json up to date")
        return 0
    print("usage: python -m mc_events.asyncapi write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
