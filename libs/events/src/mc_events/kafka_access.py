"""Recorded Kafka accesses against Strimzi KafkaUser ACLs: is every access allowed, and is every
right used?

``KAFKA_ACCESS_LOG=<file>`` makes every client of :mod:`mc_events.kafka` append what it does as
JSON lines, one per distinct access per process (several processes may share a file)::

    {"resource": "topic", "name": "registry.credentials", "operation": "Write"}
    {"resource": "group", "name": "registry-district-fanout", "operation": "Read"}

``resource`` is ``topic``, ``group`` or ``cluster`` (name ``kafka-cluster``), ``operation`` a
Kafka ACL operation name (``Read``, ``Write``, ``Create``, ``Describe``, ...), and ``name`` the
exact resource (never a pattern). This module reads such logs and checks them against the
``spec.authorization.acls`` of a Strimzi KafkaUser (``kafka.strimzi.io/v1``)::

    users = kafka_users("deploy/k8s/platform/kafka-users.yaml")
    accesses = read_log(".run/registry-kafka-access.jsonl")
    result = check(users["registry"], accesses, allowance=dead_letter_accesses(consumed))
    assert result.ok, result.explain()

An access is covered when an ``allow`` ACL matches its resource type and name (``literal``: the
same name, or ``*``; ``prefix``: the name starts with it) and grants its operation, directly,
through ``All``, or through Kafka's implications (``Read``, ``Write``, ``Delete`` and ``Alter``
imply ``Describe``; ``AlterConfigs`` implies ``DescribeConfigs``), and no ``deny`` ACL denies
it. An ACL operation is unused when no access (nor any access of the ``allowance``: what only
an unhappy path does, such as dead-letter writes) needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc_events.topics import dlq_topic

RESOURCES = frozenset({"topic", "group", "cluster", "transactionalId"})
OPERATIONS = frozenset(
    {
        "Read",
        "Write",
        "Create",
        "Delete",
        "Alter",
        "Describe",
        "ClusterAction",
        "AlterConfigs",
        "DescribeConfigs",
        "IdempotentWrite",
        "All",
    }
)
IMPLIED_BY: Mapping[str, frozenset[str]] = {
    "Describe": frozenset({"Read", "Write", "Delete", "Alter"}),
    "DescribeConfigs": frozenset({"AlterConfigs"}),
}
"""Operations a grant of another operation implies (Kafka's ``AclAuthorizer``)."""


@dataclass(frozen=True, order=True)
class Access:
    """One access a client made: the ACL resource type, its exact name, the operation."""

    resource: str
    name: str
    operation: str

    def __str__(self) -> str:
        return f"{self.operation} {self.resource} {self.name}"


@dataclass(frozen=True)
class Acl:
    """One Strimzi ACL rule (``spec.authorization.acls[]`` of a KafkaUser)."""

    resource: str
    name: str
    pattern: str = "literal"
    operations: frozenset[str] = field(default_factory=frozenset)
    type: str = "allow"
    host: str = "*"

    def matches(self, resource: str, name: str) -> bool:
        """Whether this rule's resource pattern covers the resource ``name`` of type
        ``resource``."""
        if resource != self.resource:
            return False
        if resource == "cluster":
            return True  # one cluster: Strimzi cluster rules carry no name
        if self.pattern == "prefix":
            return name.startswith(self.name)
        return self.name in ("*", name)

    def grants(self, operation: str) -> bool:
        """Whether this rule's operations include ``operation`` (or imply it)."""
        if "All" in self.operations or operation in self.operations:
            return True
        return bool(IMPLIED_BY.get(operation, frozenset()) & self.operations)

    def allows(self, access: Access) -> bool:
        return (
            self.type == "allow"
            and self.matches(access.resource, access.name)
            and (self.grants(access.operation))
        )

    def denies(self, access: Access) -> bool:
        return (
            self.type == "deny"
            and self.matches(access.resource, access.name)
            and ("All" in self.operations or access.operation in self.operations)
        )

    def only(self, operation: str) -> Acl:
        """This rule narrowed to one of its operations."""
        return Acl(
            self.resource, self.name, self.pattern, frozenset({operation}), self.type, self.host
        )

    def __str__(self) -> str:
        ops = ",".join(sorted(self.operations))
        what = self.name if self.pattern == "literal" else f"{self.name}* (prefix)"
        return f"{self.type} {ops} on {self.resource} {what}"


@dataclass
class Check:
    """What :func:`check` found: accesses no ACL allows, ACL operations nothing used."""

    uncovered: list[Access]
    unused: list[Acl]

    @property
    def ok(self) -> bool:
        return not self.uncovered and not self.unused

    def explain(self) -> str:
        lines = [f"not allowed: {access}" for access in self.uncovered]
        lines += [f"never used: {acl}" for acl in self.unused]
        return "\n".join(lines) or "every access allowed, every right used"


def parse_line(line: str) -> Access:
    """One log line as an :class:`Access` (ValueError if it is not one)."""
    item = json.loads(line)
    if not isinstance(item, dict):
        raise ValueError(f"not a JSON object: {line!r}")
    try:
        access = Access(str(item["resource"]), str(item["name"]), str(item["operation"]))
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]!r}: {line!r}") from exc
    if access.resource not in RESOURCES or access.operation not in OPERATIONS:
        raise ValueError(f"unknown resource type or operation: {line!r}")
    return access


def read_log(path: str | Path) -> set[Access]:
    """The distinct accesses recorded in a ``KAFKA_ACCESS_LOG`` file (empty if it is missing:
    no client recorded anything)."""
    path = Path(path)
    if not path.exists():
        return set()
    accesses: set[Access] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            accesses.add(parse_line(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
    return accesses


def acls_of(kafka_user: Mapping[str, Any]) -> list[Acl]:
    """The ACL rules of a Strimzi KafkaUser (the whole resource, or its ``spec``)."""
    spec = kafka_user.get("spec", kafka_user)
    authorization = spec.get("authorization") or {}
    rules: list[Acl] = []
    for rule in authorization.get("acls") or ():
        resource = rule["resource"]
        operations = rule.get("operations")
        if operations is None and "operation" in rule:  # v1beta2's deprecated single form
            operations = [rule["operation"]]
        rules.append(
            Acl(
                resource=resource["type"],
                name=resource.get("name", "" if resource["type"] == "cluster" else "*"),
                pattern=resource.get("patternType", "literal"),
                operations=frozenset(operations or ()),
                type=rule.get("type", "allow"),
                host=rule.get("host", "*"),
            )
        )
    return rules


def _rules(acls: Mapping[str, Any] | Iterable[Acl]) -> list[Acl]:
    return acls_of(acls) if isinstance(acls, Mapping) else list(acls)


def is_allowed(access: Access, acls: Iterable[Acl]) -> bool:
    rules = list(acls)
    return any(rule.allows(access) for rule in rules) and not any(
        rule.denies(access) for rule in rules
    )


def uncovered(accesses: Iterable[Access], acls: Mapping[str, Any] | Iterable[Acl]) -> list[Access]:
    """The accesses the ACLs (a list of :class:`Acl`, or a KafkaUser) do not allow, sorted."""
    rules = _rules(acls)
    return sorted(access for access in set(accesses) if not is_allowed(access, rules))


def unused(
    acls: Mapping[str, Any] | Iterable[Acl],
    accesses: Iterable[Access],
    allowance: Iterable[Access] = (),
) -> list[Acl]:
    """Each ``allow`` rule's operations that no access of ``accesses`` or ``allowance`` needs,
    as one-operation rules: what is granted beyond need. ``allowance`` holds what a happy path
    legitimately never does (dead-letter writes: :func:`dead_letter_accesses`)."""
    needed = set(accesses) | set(allowance)
    found: list[Acl] = []
    for rule in _rules(acls):
        if rule.type != "allow":
            continue
        for operation in sorted(rule.operations):
            narrowed = rule.only(operation)
            if not any(narrowed.allows(access) for access in needed):
                found.append(narrowed)
    return found


def check(
    kafka_user: Mapping[str, Any] | Iterable[Acl],
    accesses: Iterable[Access],
    allowance: Iterable[Access] = (),
) -> Check:
    """Both checks at once: what ``accesses`` need that the user lacks, and what the user has
    that neither ``accesses`` nor ``allowance`` need."""
    rules = _rules(kafka_user)
    accesses = set(accesses)
    return Check(uncovered(accesses, rules), unused(rules, accesses, allowance))


def dead_letter_accesses(consumed_topics: Iterable[str]) -> set[Access]:
    """Write (and Describe) on ``<topic>.dlq`` of each consumed topic: what a consumer does only
    when a record fails, hence absent from a happy path's log."""
    return {
        Access("topic", dlq_topic(topic), operation)
        for topic in consumed_topics
        for operation in ("Describe", "Write")
    }


def kafka_users(source: str | Path | Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The KafkaUsers of a YAML file (or a directory of them, or parsed documents such as
    ``kubectl kustomize`` output), by ``metadata.name``: each the whole resource, which
    :func:`acls_of`, :func:`uncovered`, :func:`unused` and :func:`check` take."""
    documents: list[Any]
    if isinstance(source, str | Path):
        import yaml  # only here: PyYAML is a tooling dependency, not the library's

        path = Path(source)
        files = (
            sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        )
        documents = [doc for file in files for doc in yaml.safe_load_all(file.read_text())]
    else:
        documents = list(source)
    users: dict[str, dict[str, Any]] = {}
    for doc in documents:
        if isinstance(doc, Mapping) and doc.get("kind") == "KafkaUser":
            users[doc["metadata"]["name"]] = dict(doc)
    return users
