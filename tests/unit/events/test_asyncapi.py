"""The AsyncAPI document: every topic and every published contract, as the wire has them."""

import json

from mc_events import asyncapi
from mc_events.schemas import published_contracts
from mc_events.topics import TOPICS


def test_the_checked_in_document_is_up_to_date():
    assert asyncapi.DOCUMENT.read_text() == asyncapi.render(), (
        "run `make schemas` (python -m mc_events.asyncapi write)"
    )


def test_every_topic_is_a_channel_with_its_kafka_layout():
    document = asyncapi.build()
    assert document["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in document["channels"].values()}
    for topic in TOPICS:
        binding = addresses[topic.name]["bindings"]["kafka"]
        assert binding["partitions"] == topic.partitions
        assert topic.key in addresses[topic.name]["description"]


def test_every_published_contract_is_a_message_on_its_topic_with_cloudevents_headers():
    document = asyncapi.build()
    messages = document["components"]["messages"]
    names = {m["name"] for m in messages.values()}
    assert names == set(published_contracts())
    for contract in published_contracts().values():
        message = messages[contract.ce_type().replace(".", "_")]
        assert message["headers"]["required"][:4] == [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
        ]
        channel = next(c for c in document["channels"].values() if c["address"] == contract.topic)
        assert any(
            m["$ref"].endswith(message["name"].replace(".", "_"))
            for m in channel["messages"].values()
        )


def test_payload_schemas_are_self_contained_so_any_tool_resolves_them():
    text = json.dumps(asyncapi.build()["components"]["schemas"])
    assert "#/$defs/" not in text
