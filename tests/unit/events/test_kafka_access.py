"""Kafka access recording (KAFKA_ACCESS_LOG) and the checks of mc_events.kafka_access against
Strimzi KafkaUsers: hand-made logs and users, and the platform's own users against the accesses
their clients make on a happy path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mc_events import district, kafka
from mc_events.kafka_access import (
    Access,
    Acl,
    acls_of,
    check,
    dead_letter_accesses,
    kafka_users,
    read_log,
    uncovered,
    unused,
)
from mc_events.operations import SUBSCRIPTIONS
from mc_events.topics import TOPICS, dlq_topic

ROOT = Path(__file__).resolve().parents[3]
PLATFORM = ROOT / "deploy" / "k8s" / "platform"


def T(name: str, operation: str) -> Access:
    return Access("topic", name, operation)


def G(name: str, operation: str) -> Access:
    return Access("group", name, operation)


def user(*acls: tuple[str, str, str, list[str]]) -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": "u"},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {
                "type": "simple",
                "acls": [
                    {
                        "resource": {"type": kind, "name": name, "patternType": pattern},
                        "operations": operations,
                    }
                    for kind, name, pattern, operations in acls
                ],
            },
        },
    }


# ---------------------------------------------------------------------------------------------
# The log


def test_read_log_returns_the_distinct_accesses(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    log.write_text(
        '{"resource": "topic", "name": "a", "operation": "Write"}\n'
        "\n"
        '{"resource": "topic", "name": "a", "operation": "Write"}\n'
        '{"resource": "group", "name": "g", "operation": "Read"}\n'
    )
    assert read_log(log) == {T("a", "Write"), G("g", "Read")}
    assert read_log(tmp_path / "missing.jsonl") == set()


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1]",
        '{"resource": "topic", "name": "a"}',
        '{"resource": "topics", "name": "a", "operation": "Write"}',
        '{"resource": "topic", "name": "a", "operation": "write"}',
    ],
)
def test_read_log_refuses_a_line_that_is_not_an_access(tmp_path: Path, line: str) -> None:
    log = tmp_path / "access.jsonl"
    log.write_text('{"resource": "topic", "name": "a", "operation": "Write"}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"access\.jsonl:2"):
        read_log(log)


async def test_factories_return_plain_clients_when_recording_is_off() -> None:
    settings = kafka.KafkaSettings(access_log=None)
    assert type(kafka.producer(settings)) is AIOKafkaProducer
    assert type(kafka.consumer(settings, group_id=None)) is AIOKafkaConsumer
    assert type(kafka.admin(settings)) is AIOKafkaAdminClient


def test_access_log_comes_from_the_environment_and_its_directory_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_ACCESS_LOG", str(tmp_path / "a.jsonl"))
    assert kafka.KafkaSettings().access_log == tmp_path / "a.jsonl"
    monkeypatch.setenv("KAFKA_ACCESS_LOG", str(tmp_path / "nowhere" / "a.jsonl"))
    with pytest.raises(ValueError, match="KAFKA_ACCESS_LOG"):
        kafka.KafkaSettings()


async def test_recording_clients_record_what_they_name_once(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    settings = kafka.KafkaSettings(access_log=log)
    grouped = kafka.consumer(settings, "t.in", group_id="g")
    grouped.subscribe(["t.in", "t.other"])
    reader = kafka.consumer(settings, group_id=None)
    reader.assign([TopicPartition("t.dlq", 0)])
    assert reader.partitions_for_topic("t.dlq") is None  # no metadata: nothing was started
    kafka.record_access(kafka.admin(settings), "topic", "t.looked-for", "Describe")
    kafka.record_access(object(), "topic", "never", "Describe")  # not a recording client
    assert isinstance(kafka.producer(settings), AIOKafkaProducer)

    lines = log.read_text().splitlines()
    assert len(lines) == len(set(lines))  # one line per distinct access
    assert {tuple(json.loads(line)) for line in lines} == {("resource", "name", "operation")}
    assert read_log(log) == {
        T("t.in", "Describe"),
        T("t.in", "Read"),
        T("t.other", "Describe"),
        T("t.other", "Read"),
        G("g", "Read"),
        T("t.dlq", "Describe"),
        T("t.dlq", "Read"),
        T("t.looked-for", "Describe"),
    }


def test_several_processes_append_whole_lines_to_one_log(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mc_events.kafka import AccessRecorder\n"
        "r = AccessRecorder(Path(sys.argv[1]))\n"
        "for i in range(300):\n"
        "    r.record('topic', f'{sys.argv[2]}.{i}.' + 'x' * 100, 'Write')\n"
        "    r.record('topic', f'{sys.argv[2]}.{i}.' + 'x' * 100, 'Write')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(log), f"p{n}"]) for n in range(3)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    lines = log.read_text().splitlines()
    assert len(lines) == 900
    assert len(read_log(log)) == 900


# ---------------------------------------------------------------------------------------------
# ACL matching


def test_literal_prefix_and_wildcard_names() -> None:
    acls = acls_of(
        user(
            ("topic", "a.b", "literal", ["Read"]),
            ("topic", "district.", "prefix", ["Write"]),
            ("group", "*", "literal", ["Describe"]),
        )
    )
    assert (
        uncovered([T("a.b", "Read"), T("district.x.awards", "Write"), G("any", "Describe")], acls)
        == []
    )
    assert uncovered([T("a.bc", "Read"), T("a", "Read"), T("xdistrict.y", "Write")], acls) == [
        T("a", "Read"),
        T("a.bc", "Read"),
        T("xdistrict.y", "Write"),
    ]


def test_kafka_implications_hold_and_go_one_way_only() -> None:
    acls = acls_of(
        user(
            ("topic", "r", "literal", ["Read"]),
            ("topic", "w", "literal", ["Write"]),
            ("topic", "d", "literal", ["Describe"]),
            ("group", "g", "literal", ["Read"]),
            ("topic", "c", "literal", ["AlterConfigs"]),
            ("topic", "all", "literal", ["All"]),
        )
    )
    implied = [
        T("r", "Describe"),
        T("w", "Describe"),
        G("g", "Describe"),
        Access("topic", "c", "DescribeConfigs"),
        T("all", "Create"),
    ]
    assert uncovered(implied, acls) == []
    assert uncovered([T("d", "Read"), T("r", "Write"), T("w", "Read"), T("w", "Create")], acls) == [
        T("d", "Read"),
        T("r", "Write"),
        T("w", "Create"),
        T("w", "Read"),
    ]


def test_a_deny_rule_wins_and_cluster_rules_need_no_name() -> None:
    doc = user(("topic", "t.", "prefix", ["Read"]), ("cluster", "", "literal", ["Create"]))
    doc["spec"]["authorization"]["acls"].append(
        {"type": "deny", "resource": {"type": "topic", "name": "t.secret"}, "operations": ["Read"]}
    )
    del doc["spec"]["authorization"]["acls"][1]["resource"]["name"]
    assert uncovered(
        [T("t.open", "Read"), T("t.secret", "Read"), Access("cluster", kafka.CLUSTER, "Create")],
        doc,
    ) == [T("t.secret", "Read")]


def test_removing_any_one_acl_leaves_an_access_uncovered() -> None:
    accesses = {
        T("svc.out", "Describe"),
        T("svc.out", "Write"),
        T("svc.in", "Describe"),
        T("svc.in", "Read"),
        G("svc", "Describe"),
        G("svc", "Read"),
        T("district.a.awards", "Create"),
        T("district.a.awards", "Write"),
    }
    full = user(
        ("topic", "svc.out", "literal", ["Describe", "Write"]),
        ("topic", "svc.in", "literal", ["Describe", "Read"]),
        ("group", "svc", "literal", ["Describe", "Read"]),
        ("topic", "district.", "prefix", ["Create", "Describe", "Write"]),
    )
    assert uncovered(accesses, full) == []
    for i in range(4):
        partial = json.loads(json.dumps(full))
        del partial["spec"]["authorization"]["acls"][i]
        assert uncovered(accesses, partial), i


def test_unused_lists_rights_beyond_need_except_the_allowance() -> None:
    accesses = {T("svc.in", "Read"), T("svc.in", "Describe"), G("svc", "Read")}
    doc = user(
        ("topic", "svc.in", "literal", ["Describe", "Read"]),
        ("topic", "svc.in.dlq", "literal", ["Describe", "Write"]),
        ("group", "svc", "literal", ["Read"]),
        ("topic", "other", "literal", ["Read"]),
        ("topic", "svc.", "prefix", ["Create"]),
    )
    found = unused(doc, accesses, dead_letter_accesses(["svc.in"]))
    assert found == [
        Acl("topic", "other", "literal", frozenset({"Read"})),
        Acl("topic", "svc.", "prefix", frozenset({"Create"})),
    ]
    result = check(doc, accesses, dead_letter_accesses(["svc.in"]))
    assert not result.ok
    assert result.uncovered == []
    assert "never used: allow Read on topic other" in result.explain()
    # Without the allowance the dead-letter rights show up too.
    assert Acl("topic", "svc.in.dlq", "literal", frozenset({"Write"})) in unused(doc, accesses)


def test_kafka_users_reads_files_directories_and_documents(tmp_path: Path) -> None:
    users = kafka_users(PLATFORM / "kafka-users.yaml")
    assert set(users) == {"enrollment", "review", "registry", "compensation", "mc-operator"}
    assert kafka_users(PLATFORM)["registry"] == users["registry"]
    docs = [users["registry"], {"kind": "ConfigMap", "metadata": {"name": "x"}}]
    assert kafka_users(docs) == {"registry": users["registry"]}
    assert acls_of(users["registry"]) == acls_of(users["registry"]["spec"])


# ---------------------------------------------------------------------------------------------
# The platform's users against what their clients do on a happy path


def service_accesses(
    publishes: list[str], subscribes: list[str], group: str
) -> tuple[set[Access], set[Access]]:
    """(happy path, dead-letter allowance) of a service: start-up describes its topics and
    their .dlq twins, the relay writes, the consumer group reads."""
    accesses: set[Access] = set()
    for name in publishes + subscribes:
        accesses |= {T(name, "Describe"), T(dlq_topic(name), "Describe")}
    accesses |= {T(name, "Write") for name in publishes}
    accesses |= {T(name, "Read") for name in subscribes}
    accesses |= {G(group, "Describe"), G(group, "Read")}
    return accesses, dead_letter_accesses(subscribes)


def fanout_accesses(district_id: str) -> tuple[set[Access], set[Access]]:
    names = sorted(district.topic_names(district_id))
    accesses = {T("registry.credentials", "Describe"), T("registry.credentials", "Read")}
    accesses |= {G("registry-district-fanout", "Describe"), G("registry-district-fanout", "Read")}
    accesses |= {T(name, op) for name in names for op in ("Describe", "Create", "Write")}
    return accesses, dead_letter_accesses(["registry.credentials"])


@pytest.mark.parametrize("service", list(SUBSCRIPTIONS))
def test_each_service_user_allows_its_accesses_and_nothing_more(service: str) -> None:
    users = kafka_users(PLATFORM / "kafka-users.yaml")
    publishes = [t.name for t in TOPICS if t.name.startswith(f"{service}.")]
    accesses, allowance = service_accesses(publishes, list(SUBSCRIPTIONS[service]), service)
    if service == "registry":
        more, more_allowance = fanout_accesses("D-0001")
        accesses |= more
        allowance |= more_allowance
    result = check(users[service], accesses, allowance)
    assert result.ok, result.explain()
    for i in range(len(acls_of(users[service]))):  # every rule is needed
        rules = acls_of(users[service])
        del rules[i]
        assert uncovered(accesses | allowance, rules), f"{service}: rule {i} is not needed"


def test_without_the_fanout_rights_the_registry_user_would_not_cover_the_fanout() -> None:
    registry = kafka_users(PLATFORM / "kafka-users.yaml")["registry"]
    rules = [
        rule
        for rule in acls_of(registry)
        if not (rule.resource == "group" and rule.name == "registry-district-fanout")
    ]
    accesses, _ = fanout_accesses("D-0001")
    assert uncovered(accesses, rules) == [
        G("registry-district-fanout", "Describe"),
        G("registry-district-fanout", "Read"),
    ]


def test_operator_user_allows_its_commands_and_nothing_more() -> None:
    operator = kafka_users(PLATFORM / "kafka-users.yaml")["mc-operator"]
    accesses: set[Access] = set()
    for t in TOPICS:  # pipeline status, dlq list, dlq replay
        accesses |= {T(t.name, "Describe"), T(t.name, "Write")}
        accesses |= {T(dlq_topic(t.name), "Describe"), T(dlq_topic(t.name), "Read")}
    accesses |= {G(group, "Describe") for group in SUBSCRIPTIONS}
    more, _ = fanout_accesses("D-0001")  # district republish: the same, without a group
    accesses |= {a for a in more if a.resource == "topic"}
    result = check(operator, accesses)
    assert result.ok, result.explain()
    assert uncovered([G("registry", "Read"), T("registry.catalog", "Create")], operator)


def test_example_district_user_covers_its_reference_consumer_and_no_other_district() -> None:
    (doc,) = kafka_users(PLATFORM / "district-user-example.yaml").values()
    district_id = doc["metadata"]["labels"]["mc-backbone/district"]
    group = f"district.{district.topic_id(district_id)}.reference"
    accesses = {G(group, "Describe"), G(group, "Read")}
    for name in district.topic_names(district_id):
        accesses |= {T(name, "Describe"), T(name, "Read")}
    assert check(doc, accesses).ok
    others = {T(name, "Read") for name in district.topic_names(f"{district_id}-2")}
    others |= {T("registry.credentials", "Read"), G("district.D-0001-2.reference", "Read")}
    others |= {T(name, "Write") for name in district.topic_names(district_id)}
    assert uncovered(others, doc) == sorted(others)
