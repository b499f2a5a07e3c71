"""The Kubernetes manifests are valid against their schemas, offline, and the platform (Strimzi
Kafka, its topics and users, CloudNativePG, NetworkPolicies) agrees with the code.

* Core kinds: the upstream Kubernetes JSON schemas shipped by the ``kubernetes-validate``
  package (strict: unknown fields fail).
* Strimzi and CloudNativePG resources: the operators' own CRDs (``openAPIV3Schema`` of the
  served version), vendored unchanged in ``deploy/k8s/crd-schemas`` (see its README), with
  ``jsonschema`` (tests/deploy_support.py).
* KafkaTopics are generated from ``mc_events.topics``; KafkaUser ACLs are checked against what
  each service's ``bootstrap.py`` publishes and subscribes to.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import (
    CRDS,
    crds,
    is_operator_kind,
    load_all,
    render_overlay,
    sha256,
    validate,
)

from mc_events import district as district_topics
from mc_events import topics as topic_registry
from mc_events.operations import strimzi_topics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PLATFORM = K8S / "platform"
SERVICES = {"enrollment": 8001, "review": 8002, "registry": 8003, "compensation": 8004}

Doc = dict[str, Any]


def name_of(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


# ---------------------------------------------------------------------------------------------
# Schemas


def source_documents() -> list[tuple[str, Doc]]:
    """Every complete resource in the tree (kustomize patches are partial and left out)."""
    docs = []
    for path in sorted((K8S / "base").glob("*.yaml")) + sorted(PLATFORM.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(f"{path.relative_to(K8S)}:{name_of(doc)}", doc) for doc in load_all(path)]
    dev = K8S / "overlays" / "dev" / "network-policies.yaml"
    docs += [(f"{dev.relative_to(K8S)}:{name_of(doc)}", doc) for doc in load_all(dev)]
    return docs


@pytest.mark.parametrize(
    ("where", "doc"), source_documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_manifest_is_valid_against_its_schema(where: str, doc: Doc) -> None:
    validate(doc)


@pytest.mark.parametrize("rendering", ["platform", "dev", "prod"])
def test_every_rendered_resource_is_valid_against_its_schema(rendering: str) -> None:
    docs = render_overlay(rendering)
    assert docs
    for doc in docs:
        try:
            validate(doc)
        except Exception as exc:  # name the resource in the failure
            raise AssertionError(f"{rendering}: {name_of(doc)}: {exc}") from exc


def test_rendered_platform_lives_in_the_data_namespace() -> None:
    docs = render_overlay("platform")
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        "mc-data"
    }


def test_every_operator_resource_uses_a_served_version_of_a_vendored_crd() -> None:
    for rendering in ("platform", "dev", "prod"):
        for doc in render_overlay(rendering):
            if is_operator_kind(doc):
                group, version = doc["apiVersion"].split("/")
                crd = crds()[(group, doc["kind"])]
                served = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]
                assert version in served, f"{rendering}: {name_of(doc)}"


def test_vendored_crds_are_the_upstream_files_listed_in_the_readme() -> None:
    readme = (CRDS / "README.md").read_text()
    listed = dict(
        (name, digest)
        for digest, name in re.findall(r"^\s*([0-9a-f]{64})\s+(\S+\.yaml)\s*$", readme, re.M)
    )
    files = {path.name: sha256(path) for path in CRDS.glob("*.yaml")}
    assert files == listed
    assert {kind for _, kind in crds()} >= {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "KafkaUser",
        "Cluster",
        "Database",
        "Pooler",
        "ScheduledBackup",
    }


def test_schemas_reject_misspelt_and_mistyped_fields() -> None:
    (deployment,) = [d for d in load_all(K8S / "base" / "review.yaml") if d["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)

    user = load_all(PLATFORM / "kafka-users.yaml")[0]
    user["apiVersion"] = "kafka.strimzi.io/v1"  # the only version Strimzi 1.x serves
    broken = copy.deepcopy(user)
    broken["spec"]["authorization"]["acls"][0]["operations"] = ["Writ"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = copy.deepcopy(user)
    broken["spec"]["authorisation"] = broken["spec"].pop("authorization")
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    cluster = load_all(PLATFORM / "postgres.yaml")[0]
    broken = copy.deepcopy(cluster)
    broken["spec"]["instance"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    (kafka,) = [d for d in load_all(PLATFORM / "kafka.yaml") if d["kind"] == "Kafka"]
    broken = copy.deepcopy(kafka)
    broken["spec"]["kafka"]["listeners"][0]["type"] = "external"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = copy.deepcopy(kafka)
    broken["apiVersion"] = "kafka.strimzi.io/v1beta2"  # removed in Strimzi 1.0
    with pytest.raises(AssertionError, match="not served"):
        validate(broken)


# ---------------------------------------------------------------------------------------------
# Strimzi Kafka, topics, users


def platform_docs(kind: str) -> list[Doc]:
    return [
        doc
        for path in sorted(PLATFORM.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_all(path)
        if doc["kind"] == kind
    ]


def test_platform_kustomization_applies_every_platform_file_but_the_district_example() -> None:
    kustomization = yaml.safe_load((PLATFORM / "kustomization.yaml").read_text())
    files = {p.name for p in PLATFORM.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files - {"district-user-example.yaml"}


def test_kafka_runs_kraft_with_controller_and_broker_pools_and_scram_over_tls() -> None:
    (cluster,) = platform_docs("Kafka")
    assert cluster["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert cluster["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    pools = platform_docs("KafkaNodePool")
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    for pool in pools:
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"]
        assert pool["spec"]["replicas"] >= 3
    kafka = cluster["spec"]["kafka"]
    assert "zookeeper" not in cluster["spec"]
    assert kafka["authorization"]["type"] == "simple"
    listeners = kafka["listeners"]
    assert all(listener["tls"] for listener in listeners)
    assert all(listener["authentication"]["type"] == "scram-sha-512" for listener in listeners)
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert kafka["config"]["min.insync.replicas"] == 2
    assert cluster["spec"]["entityOperator"].keys() >= {"topicOperator", "userOperator"}
    # The prod overlay talks to this listener.
    prod = yaml.safe_load((K8S / "overlays" / "prod" / "kustomization.yaml").read_text())
    settings = dict(item.split("=", 1) for item in prod["configMapGenerator"][0]["literals"])
    port = listeners[0]["port"]
    assert settings["KAFKA_BOOTSTRAP_SERVERS"] == (
        f"{cluster['metadata']['name']}-kafka-bootstrap.mc-data.svc:{port}"
    )


def test_kafka_topics_are_generated_from_the_topic_registry() -> None:
    checked_in = load_all(PLATFORM / "kafka-topics.yaml")
    assert checked_in == strimzi_topics(), (
        "regenerate: mc-events topics strimzi > deploy/k8s/platform/kafka-topics.yaml"
    )
    names = {doc["spec"]["topicName"] for doc in checked_in}
    assert names == {t.name for t in topic_registry.all_topics()}
    for doc in checked_in:
        assert int(doc["spec"]["config"]["min.insync.replicas"]) < doc["spec"]["replicas"]


def service_topics(service: str) -> dict[str, set[str]]:
    """What services/<name>/src/<name>/bootstrap.py passes as publishes= and subscribes=."""
    path = ROOT / "services" / service / "src" / service / "bootstrap.py"
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg in ("publishes", "subscribes"):
            assert isinstance(node.value, ast.List | ast.Tuple), f"{service}: {node.arg}"
            names = set()
            for element in node.value.elts:
                assert isinstance(element, ast.Attribute), f"{service}: {node.arg}"
                names.add(getattr(topic_registry, element.attr).name)
            found[node.arg] = names
    return found


def acl_rights(user: Doc) -> dict[tuple[str, str, str], set[str]]:
    rights: dict[tuple[str, str, str], set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        key = (resource["type"], resource.get("name", ""), resource.get("patternType", "literal"))
        rights.setdefault(key, set()).update(acl["operations"])
    return rights


def fanout_rights(service: str) -> dict[tuple[str, str, str], set[str]]:
    """What a service's district fan-out worker needs, when its settings run one (the registry,
    ``district_fanout``): read its source topics in its own consumer group, dead-letter to their
    .dlq twins, create and write the district topics (the cluster does not auto-create them)."""
    if service != "registry":
        return {}
    from prometheus_client import CollectorRegistry

    from registry.config import Settings
    from registry.entrypoints import district_fanout

    settings = Settings()
    if not settings.district_fanout:
        return {}
    runtime = SimpleNamespace(
        name=service,
        definition=SimpleNamespace(settings=settings),
        metrics=SimpleNamespace(registry=CollectorRegistry()),
    )
    worker = district_fanout.fanout(runtime)  # type: ignore[arg-type]
    rights: dict[tuple[str, str, str], set[str]] = {}
    for name in worker.source_topics:
        rights[("topic", name, "literal")] = {"Describe", "Read"}
        rights[("topic", topic_registry.dlq_topic(name), "literal")] = {"Describe", "Write"}
    rights[("group", worker.group_id, "literal")] = {"Describe", "Read"}
    rights[("topic", district_topics.PREFIX, "prefix")] = {"Create", "Describe", "Write"}
    return rights


def test_the_registry_fanout_needs_its_group_and_the_district_topics() -> None:
    rights = fanout_rights("registry")
    assert rights[("group", "registry-district-fanout", "literal")] == {"Describe", "Read"}
    assert rights[("topic", "district.", "prefix")] == {"Create", "Describe", "Write"}
    assert rights[("topic", "registry.credentials", "literal")] == {"Describe", "Read"}


@pytest.mark.parametrize("service", SERVICES)
def test_kafka_user_of_a_service_has_exactly_the_rights_its_bootstrap_needs(service: str) -> None:
    users = {doc["metadata"]["name"]: doc for doc in platform_docs("KafkaUser")}
    user = users[service]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    wanted = service_topics(service)
    expected: dict[tuple[str, str, str], set[str]] = {}
    for name in wanted["publishes"]:
        expected.setdefault(("topic", name, "literal"), {"Describe"}).add("Write")
        # Start-up lists every topic the service needs, its own .dlq twins included: a topic
        # it may not describe looks missing, and creating it is (rightly) denied.
        expected.setdefault(("topic", topic_registry.dlq_topic(name), "literal"), {"Describe"})
    for name in wanted["subscribes"]:
        expected.setdefault(("topic", name, "literal"), {"Describe"}).add("Read")
        # The consumer runtime dead-letters to the consumed topic's .dlq twin.
        dlq = topic_registry.dlq_topic(name)
        expected.setdefault(("topic", dlq, "literal"), {"Describe"}).add("Write")
    expected[("group", service, "literal")] = {"Describe", "Read"}
    for key, operations in fanout_rights(service).items():
        expected.setdefault(key, set()).update(operations)
    assert acl_rights(user) == expected


def test_every_service_has_a_kafka_user_and_none_may_create_or_alter() -> None:
    users = {doc["metadata"]["name"]: doc for doc in platform_docs("KafkaUser")}
    assert set(SERVICES) | {"mc-operator"} <= set(users)
    for name in SERVICES:
        fanout = fanout_rights(name)
        for key, operations in acl_rights(users[name]).items():
            # Only the fan-out creates topics: the district topics, which appear with districts.
            allowed = fanout.get(key, set()) & {"Create"}
            assert not (operations - allowed) & {"Create", "Delete", "Alter", "All", "AlterConfigs"}


def test_operator_user_has_exactly_what_its_commands_need() -> None:
    """mc-events pipeline status (describe topics, .dlq twins, the services' groups), dlq list
    (read a .dlq without a group), dlq replay (write the original topic), district republish
    (read the router's sources without a group, create and write district topics)."""
    from mc_events.district import installed_router
    from mc_events.operations import SUBSCRIPTIONS

    users = {doc["metadata"]["name"]: doc for doc in platform_docs("KafkaUser")}
    expected: dict[tuple[str, str, str], set[str]] = {}
    for t in topic_registry.TOPICS:
        expected[("topic", t.name, "literal")] = {"Describe", "Write"}
        expected[("topic", topic_registry.dlq_topic(t.name), "literal")] = {"Describe", "Read"}
    for name in installed_router().source_topics:
        expected[("topic", name, "literal")].add("Read")
    expected[("topic", district_topics.PREFIX, "prefix")] = {"Create", "Describe", "Write"}
    for service in SUBSCRIPTIONS:
        expected[("group", service, "literal")] = {"Describe"}
    user = users["mc-operator"]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert acl_rights(user) == expected


def test_example_district_user_reads_only_its_own_district_streams() -> None:
    (user,) = load_all(PLATFORM / "district-user-example.yaml")
    validate(user)
    district = user["metadata"]["labels"]["mc-backbone/district"]
    prefix = f"{district_topics.PREFIX}{district_topics.topic_id(district)}."
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert acl_rights(user) == {
        ("topic", prefix, "prefix"): {"Describe", "Read"},
        ("group", prefix, "prefix"): {"Describe", "Read"},
    }
    assert district_topics.topic_names(district) == {
        district_topics.awards_topic(district).name,
        district_topics.state_topic(district).name,
    }
    assert all(name.startswith(prefix) for name in district_topics.topic_names(district))
    # An external reader: every per-user quota the KafkaUser CRD offers is set.
    quotas = user["spec"]["quotas"]
    assert set(quotas) == {
        "producerByteRate",
        "consumerByteRate",
        "requestPercentage",
        "controllerMutationRate",
    }
    assert 0 < quotas["consumerByteRate"] <= 16 * 1024 * 1024
    assert 0 < quotas["producerByteRate"] <= quotas["consumerByteRate"]
    assert 0 < quotas["requestPercentage"] <= 25


def test_district_group_prefix_is_the_same_in_the_user_the_example_and_the_docs() -> None:
    (user,) = load_all(PLATFORM / "district-user-example.yaml")
    district = user["metadata"]["labels"]["mc-backbone/district"]
    (group_prefix,) = [
        acl["resource"]["name"]
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == "group"
    ]
    spec = importlib.util.spec_from_file_location(
        "district_consumer_example",
        ROOT / "examples" / "district_consumer" / "district_consumer.py",
    )
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.default_group(district).startswith(group_prefix)
    assert example.topic_for(district) == district_topics.awards_topic(district).name
    # The prefix is unambiguous: the escaped id has no ".", so no district's prefix covers
    # another district's groups ("district-D-1-" would cover district D-1-2's).
    for other in ("D-1-2", "D-12", "D.1"):
        assert not example.default_group(other).startswith(
            f"district.{district_topics.topic_id('D-1')}."
        )
    docs = (ROOT / "docs" / "security.md").read_text()
    assert "`district.<id>.`" in docs
    assert "district.<id>.reference" in docs
    assert "name: district.leon., patternType: prefix" in docs
    assert "--group district.leon. --resource-pattern-type prefixed" in docs
    assert "district-<id>-*" not in docs
    assert "district-leon-," not in docs


# ---------------------------------------------------------------------------------------------
# CloudNativePG


def test_postgres_cluster_has_a_role_and_a_database_per_service_and_no_superuser() -> None:
    (cluster,) = platform_docs("Cluster")
    spec = cluster["spec"]
    assert spec["instances"] >= 3
    assert spec["enableSuperuserAccess"] is False
    assert spec["imageName"].split(":")[-1].split(".")[0] in {"16", "17", "18"}
    roles = {role["name"]: role for role in spec["managed"]["roles"]}
    assert set(roles) == set(SERVICES)
    for name, role in roles.items():
        assert role["login"] is True
        assert not role.get("superuser", False)
        assert role["passwordSecret"]["name"] == f"{name}-db-credentials"
    databases = {doc["spec"]["name"]: doc["spec"] for doc in platform_docs("Database")}
    assert set(databases) == set(SERVICES)
    for name, database in databases.items():
        assert database["owner"] == name
        assert database["cluster"]["name"] == cluster["metadata"]["name"]


# ---------------------------------------------------------------------------------------------
# NetworkPolicies


def policies(path: Path) -> dict[str, Doc]:
    return {
        doc["metadata"]["name"]: doc for doc in load_all(path) if doc["kind"] == "NetworkPolicy"
    }


def egress_ports(policy: Doc) -> set[int]:
    return {port["port"] for rule in policy["spec"].get("egress", []) for port in rule["ports"]}


def test_namespace_denies_all_traffic_by_default() -> None:
    deny = policies(K8S / "base" / "network-policies.yaml")["default-deny"]
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_accepts_traffic_only_on_its_own_port(service: str) -> None:
    base = policies(K8S / "base" / "network-policies.yaml")
    ingress = [
        p
        for p in base.values()
        if "Ingress" in p["spec"]["policyTypes"] and p["spec"].get("ingress")
    ]
    selecting = [
        p
        for p in ingress
        if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == service
    ]
    assert len(selecting) == 1
    assert len(ingress) == len(SERVICES)  # no other ingress is opened
    ports = [port for rule in selecting[0]["spec"]["ingress"] for port in rule["ports"]]
    assert ports == [{"protocol": "TCP", "port": SERVICES[service]}]


def test_services_reach_dns_postgres_kafka_and_the_collector_and_nothing_else() -> None:
    base = policies(K8S / "base" / "network-policies.yaml")
    dns = base["allow-dns"]
    assert egress_ports(dns) == {53}
    egress = base["services-egress"]
    assert egress["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "service"
    }
    assert egress_ports(egress) == {5432, 9093, 4317, 4318}
    by_port = {
        port["port"]: rule["to"] for rule in egress["spec"]["egress"] for port in rule["ports"]
    }
    assert by_port[5432][0]["podSelector"]["matchLabels"] == {"cnpg.io/cluster": "mc-postgres"}
    assert by_port[9093][0]["podSelector"]["matchLabels"]["strimzi.io/cluster"] == "mc-kafka"
    for port in (5432, 9093):
        assert by_port[port][0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "mc-data"
        }
    # Every Deployment's pods carry the label the egress policy selects.
    for service in SERVICES:
        for doc in load_all(K8S / "base" / f"{service}.yaml"):
            if doc["kind"] == "Deployment":
                labels = doc["spec"]["template"]["metadata"]["labels"]
                assert labels["app.kubernetes.io/component"] == "service"


def test_dev_overlay_opens_only_its_in_namespace_kafka_and_postgres() -> None:
    dev = policies(K8S / "overlays" / "dev" / "network-policies.yaml")
    # Kafka, PostgreSQL and the development identity provider (identity-provider.yaml).
    assert egress_ports(dev["services-egress-dev-infrastructure"]) == {9092, 5432, 8080}
    kustomization = yaml.safe_load((K8S / "overlays" / "dev" / "kustomization.yaml").read_text())
    assert "network-policies.yaml" in kustomization["resources"]


# ---------------------------------------------------------------------------------------------
# PostgreSQL connection budget: pooler, direct LISTEN connections, max_connections


def test_connection_budget_fits_the_clusters_max_connections() -> None:
    """HPA maxReplicas x direct connections per pod (the relay's LISTEN) + every PgBouncer
    server pool <= max_connections - reserve; and the clients fit the pooler's max_client_conn."""
    import inspect

    from mc_events.db import create_engine

    platform = render_overlay("platform")
    prod = render_overlay("prod")
    (cluster,) = [d for d in platform if d["kind"] == "Cluster"]
    (pooler,) = [d for d in platform if d["kind"] == "Pooler"]
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    reserve = int(cluster["metadata"]["annotations"]["mc-backbone/connection-reserve"])
    assert reserve >= int(
        cluster["spec"]["postgresql"]["parameters"].get("superuser_reserved_connections", 3)
    )
    databases = [d for d in platform if d["kind"] == "Database"]
    bouncer = pooler["spec"]["pgbouncer"]
    assert bouncer["poolMode"] == "transaction"
    assert int(bouncer["parameters"]["max_prepared_statements"]) > 0  # asyncpg, PgBouncer 1.21+
    parameters = {k: int(v) for k, v in bouncer["parameters"].items() if v.isdigit()}
    per_database = min(
        parameters["max_db_connections"],
        parameters["default_pool_size"] + parameters.get("reserve_pool_size", 0),
    )
    server = pooler["spec"]["instances"] * len(databases) * per_database

    hpas = {
        d["spec"]["scaleTargetRef"]["name"]: d
        for d in prod
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    deployments = {d["metadata"]["name"]: d for d in prod if d["kind"] == "Deployment"}
    overflow = inspect.signature(create_engine).parameters["max_overflow"].default
    direct = clients = 0
    for service in SERVICES:
        env = {
            e["name"]: e
            for e in deployments[service]["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        prefix = service.upper()
        assert env[f"{prefix}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
        listen = env[f"{prefix}_DATABASE_LISTEN_URL"]["valueFrom"]["secretKeyRef"]
        assert listen == {"name": f"{service}-db", "key": "database-listen-url"}
        pool_size = int(env[f"{prefix}_DB_POOL_SIZE"]["value"])
        max_replicas = hpas[service]["spec"]["maxReplicas"]
        direct += max_replicas * 1  # one LISTEN connection per pod
        clients += max_replicas * (pool_size + overflow)
    assert direct + server <= max_connections - reserve, (direct, server, max_connections, reserve)
    # Every client connection fits one PgBouncer instance (a rollout may land them all there).
    assert clients <= parameters["max_client_conn"]


def test_services_may_reach_the_pooler() -> None:
    base = policies(K8S / "base" / "network-policies.yaml")
    peers = [
        peer["podSelector"]["matchLabels"]
        for rule in base["services-egress"]["spec"]["egress"]
        if any(port["port"] == 5432 for port in rule["ports"])
        for peer in rule["to"]
    ]
    assert {"cnpg.io/poolerName": "mc-postgres-pooler-rw"} in peers


def test_postgres_is_backed_up_nightly_with_wal_archiving() -> None:
    platform = render_overlay("platform")
    (cluster,) = [d for d in platform if d["kind"] == "Cluster"]
    store = cluster["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    (scheduled,) = [d for d in platform if d["kind"] == "ScheduledBackup"]
    assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert scheduled["spec"]["method"] == "barmanObjectStore"
    assert len(scheduled["spec"]["schedule"].split()) == 6
