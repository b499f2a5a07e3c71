"""District topic names: safe, injective, reversible, within Kafka's limits, right configs."""

from __future__ import annotations

import re

import pytest

from mc_events import district

KAFKA_LEGAL = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@pytest.mark.parametrize("district_id", ["D-1", "sec-d-1", "LEA-0042", "a"])
def test_plain_district_ids_name_their_topics_unchanged(district_id: str) -> None:
    assert district.awards_topic(district_id).name == f"district.{district_id}.awards"
    assert district.state_topic(district_id).name == f"district.{district_id}.awards.state"


@pytest.mark.parametrize(
    ("district_id", "escaped"),
    [
        ("D.1", "D_2e1"),
        ("D_1", "D_5f1"),
        ("Leon County/FL", "Leon_20County_2fFL"),
        ("Ñandú", "_c3_91and_c3_ba"),
    ],
)
def test_other_characters_are_escaped_so_the_id_never_holds_a_dot(
    district_id: str, escaped: str
) -> None:
    assert district.topic_id(district_id) == escaped
    name = district.awards_topic(district_id).name
    assert KAFKA_LEGAL.fullmatch(name)
    assert name.count(".") == 2  # district . <id> . awards: the id adds none


def test_escaping_is_injective_so_two_districts_never_share_a_topic() -> None:
    # Pairs a lossy sanitiser (replace invalid characters by "_") would merge, and the
    # "."/"_" pair Kafka itself treats as colliding.
    ids = ["D.1", "D_1", "D 1", "D/1", "D-1", "D_2e1", "d.1"]
    names = {district.awards_topic(i).name for i in ids}
    assert len(names) == len(ids)
    assert len({n.replace(".", "_") for n in names}) == len(ids)


@pytest.mark.parametrize("district_id", ["D-1", "D.1", "D_2e1", "Leon County/FL", "Ñandú"])
def test_the_district_of_a_topic_is_read_back(district_id: str) -> None:
    assert district.district_of_topic(district.awards_topic(district_id).name) == district_id
    assert district.district_of_topic(district.state_topic(district_id).name) == district_id


@pytest.mark.parametrize(
    "name", ["registry.credentials", "district..awards", "district.a.b.awards", "district.x"]
)
def test_other_topics_belong_to_no_district(name: str) -> None:
    assert district.district_of_topic(name) is None


def test_ids_that_cannot_name_a_topic_are_refused() -> None:
    with pytest.raises(district.InvalidDistrictId):
        district.topic_id("")
    with pytest.raises(district.InvalidDistrictId):
        district.topic_id("x" * 300)
    longest = "x" * (249 - len("district.") - len(".awards.state"))
    assert len(district.state_topic(longest).name) == 249


def test_awards_are_kept_forever_and_state_is_compacted() -> None:
    assert district.awards_topic("D-1").configs() == {"retention.ms": "-1"}
    assert district.state_topic("D-1").configs() == {"cleanup.policy": "compact"}


def test_the_asyncapi_document_lists_both_district_channels_with_their_layout() -> None:
    from mc_events import asyncapi

    document = asyncapi.build()
    by_address = {c["address"]: c for c in document["channels"].values()}
    awards = by_address[district.AWARDS_PATTERN]
    state = by_address[district.STATE_PATTERN]
    assert "district" in awards["parameters"]
    assert awards["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == -1
    assert state["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]
    # The awards channel carries exactly the registry.credentials messages, unchanged.
    assert awards["messages"] == by_address["registry.credentials"]["messages"]
    assert [m["name"] for m in state["messages"].values()] == [district.STATE_TYPE]
    sends = {o["channel"]["$ref"] for o in document["operations"].values()}
    assert {"#/channels/district_awards", "#/channels/district_awards_state"} <= sends
