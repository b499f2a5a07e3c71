"""The Kubernetes manifests are valid against their schemas, offline, and the platform (Strimzi
Kafka, its topics and users, CloudNativePG, NetworkPolicies) agrees with the code.

* Core kinds: the upstream Kubernetes JSON schemas shipped by the ``kubernetes-validate``
  package (strict: unknown fields fail).
* Strimzi and CloudNativePG resources: the hand-written CRD subsets in
  ``deploy/k8s/crd-schemas`` (see its README), with ``jsonschema``.
* KafkaTopics are generated from ``mc_events.topics``; KafkaUser ACLs are checked against what
  each service's ``bootstrap.py`` publishes and subscribes to.
"""

from __future__ import annotations

import ast
import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")
jsonschema = pytest.importorskip("jsonschema")

from mc_events import topics as topic_registry  # noqa: E402
from mc_events.operations import strimzi_topics  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PLATFORM = K8S / "platform"
SCHEMAS = K8S / "crd-schemas"
KUBERNETES_VERSION = "1.33"
SERVICES = {"enrollment": 8001, "review": 8002, "registry": 8003, "compensation": 8004}

Doc = dict[str, Any]


def load_all(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def crd_schema(doc: Doc) -> dict[str, Any] | None:
    group_version = doc["apiVersion"].replace("/", "_")
    path = SCHEMAS / f"{group_version}_{doc['kind']}.json"
    return json.loads(path.read_text()) if path.exists() else None


def validate(doc: Doc) -> None:
    """Raise if ``doc`` breaks its schema (Kubernetes' own, or the vendored CRD subset)."""
    schema = crd_schema(doc)
    if schema is not None:
        jsonschema.validate(doc, schema)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def kustomize(directory: Path) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


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


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rendered_overlay_is_valid_against_the_kubernetes_schemas(overlay: str) -> None:
    for doc in kustomize(K8S / "overlays" / overlay):
        try:
            validate(doc)
        except Exception as exc:  # name the resource in the failure
            raise AssertionError(f"{overlay}: {name_of(doc)}: {exc}") from exc


def test_rendered_platform_is_valid_against_the_crd_schemas() -> None:
    docs = kustomize(PLATFORM)
    for doc in docs:
        validate(doc)
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        "mc-data"
    }


def test_every_custom_resource_has_a_vendored_schema() -> None:
    for _, doc in source_documents():
        if "strimzi.io" in doc["apiVersion"] or "cnpg.io" in doc["apiVersion"]:
            assert crd_schema(doc) is not None, name_of(doc)


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
    assert acl_rights(user) == expected


def test_every_service_has_a_kafka_user_and_none_may_create_or_alter() -> None:
    users = {doc["metadata"]["name"]: doc for doc in platform_docs("KafkaUser")}
    assert set(SERVICES) | {"mc-operator"} <= set(users)
    for name in SERVICES:
        for operations in acl_rights(users[name]).values():
            assert not operations & {"Create", "Delete", "Alter", "All", "AlterConfigs"}


def test_example_district_user_reads_only_its_own_district_streams() -> None:
    (user,) = load_all(PLATFORM / "district-user-example.yaml")
    validate(user)
    district = user["metadata"]["labels"]["mc-backbone/district"]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert acl_rights(user) == {
        ("topic", f"district.{district}.", "prefix"): {"Describe", "Read"},
        ("group", f"district.{district}.", "prefix"): {"Describe", "Read"},
    }


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
    assert egress_ports(dev["services-egress-dev-infrastructure"]) == {9092, 5432}
    kustomization = yaml.safe_load((K8S / "overlays" / "dev" / "kustomization.yaml").read_text())
    assert "network-policies.yaml" in kustomization["resources"]
