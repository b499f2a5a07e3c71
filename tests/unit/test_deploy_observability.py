"""Every PromQL expression the operators rely on (alert rules and Grafana dashboard panels) names
only metrics, and labels, that the services really export.

What is exported is read from the code, not from a list kept by hand: every prometheus_client
``Counter``/``Gauge``/``Histogram``/``Summary`` defined under ``libs/*/src`` and
``services/*/src`` (``f"{prefix}_..."`` names are the backbone's per-service metrics, so they
expand to the four services), plus the process and platform collectors a live
``BackboneMetrics`` registry reports. A metric renamed in the code without its dashboards and
alerts fails here.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
SERVICES = ("enrollment", "review", "registry", "compensation")

# Labels Prometheus attaches at scrape time (prometheus.yml sets `service` per job).
SCRAPE_LABELS = {"job", "instance", "service"}
# Series Prometheus itself makes for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


# ---------------------------------------------------------------------------------------------
# What the code exports


@dataclass
class Exported:
    labels: dict[str, set[str]] = field(default_factory=dict)
    """Series name -> label names it carries."""

    def add(self, kind: str, name: str, labels: set[str]) -> None:
        base = name.removesuffix("_total") if kind == "Counter" else name
        suffixes = {
            "Counter": ["_total", "_created"],
            "Gauge": [""],
            "Histogram": ["_bucket", "_count", "_sum", "_created"],
            "Summary": ["_count", "_sum", "_created"],
        }[kind]
        for suffix in suffixes:
            self.labels[base + suffix] = labels | ({"le"} if suffix == "_bucket" else set())


METRIC_KINDS = {"Counter", "Gauge", "Histogram", "Summary"}


def _metric_definitions(path: Path) -> Iterator[tuple[str, list[str], set[str]]]:
    """(kind, names, label names) of every prometheus_client metric built in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        kind = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if kind not in METRIC_KINDS:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names = [first.value]
        elif (
            isinstance(first, ast.JoinedStr)
            and isinstance(first.values[0], ast.FormattedValue)
            and all(isinstance(v, ast.Constant) for v in first.values[1:])
        ):
            # f"{service}_events_published": one metric per service process.
            suffix = "".join(str(v.value) for v in first.values[1:] if isinstance(v, ast.Constant))
            names = [f"{service}{suffix}" for service in SERVICES]
        else:
            continue  # collections.Counter(...) and friends
        labels: set[str] = set()
        label_arg = node.args[2] if len(node.args) > 2 else None
        for keyword in node.keywords:
            if keyword.arg == "labelnames":
                label_arg = keyword.value
        if isinstance(label_arg, ast.List | ast.Tuple):
            labels = {e.value for e in label_arg.elts if isinstance(e, ast.Constant)}
        yield kind, names, labels


def fanout_prefixes() -> list[str]:
    """Metric prefixes of the fan-outs the services build: ``FanOut(name=f"{runtime.name}-x")``
    in services/<service>/src names its metrics ``<service>_x_...`` (fanout.py's _Metrics)."""
    prefixes = []
    for path in sorted((ROOT / "services").glob("*/src/**/*.py")):
        service = path.relative_to(ROOT / "services").parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "FanOut"):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "name" and isinstance(value, ast.JoinedStr):
                    rest = "".join(str(v.value) for v in value.values[1:])  # type: ignore[attr-defined]
                    prefixes.append(f"{service}{rest}".replace("-", "_"))
    return prefixes


def exported_metrics() -> Exported:
    exported = Exported()
    sources = [*sorted((ROOT / "libs").glob("*/src")), *sorted((ROOT / "services").glob("*/src"))]
    for source in sources:
        for path in sorted(source.rglob("*.py")):
            for kind, names, labels in _metric_definitions(path):
                if path.name == "fanout.py":
                    # f"{name}_records_sent": named after each FanOut the services build.
                    names = [
                        prefix + name.removeprefix(SERVICES[0])
                        for prefix in fanout_prefixes()
                        for name in names[:1]
                    ]
                for name in names:
                    exported.add(kind, name, labels)
    # The default collectors every service registers (process_*, python_*), as reported.
    from mc_events.telemetry import BackboneMetrics

    for family in BackboneMetrics("enrollment").registry.collect():
        for sample in family.samples:
            exported.labels.setdefault(sample.name, set(sample.labels))
    for name in PROMETHEUS_SERIES:
        exported.labels[name] = set()
    return exported


EXPORTED = exported_metrics()


def test_exported_metrics_are_read_from_the_code() -> None:
    # The backbone's, the HTTP middleware's and the services' own metrics are all found.
    for name in (
        "registry_events_published_total",
        "compensation_consumer_lag",
        "review_outbox_oldest_age_seconds",
        "enrollment_http_requests_total",
        "registry_http_request_seconds_bucket",
        "review_decisions_total",
        "review_sla_breaches",
        "enrollment_deadline_sweep_last_success_timestamp_seconds",
        "process_resident_memory_bytes",
        "registry_district_fanout_records_sent_total",
        "registry_district_fanout_records_dead_lettered_total",
        "registry_dependency_up",
    ):
        assert name in EXPORTED.labels, name
    assert EXPORTED.labels["compensation_consumer_lag"] == {"consumer", "topic", "partition"}
    assert EXPORTED.labels["review_handler_seconds_bucket"] == {"consumer", "event_type", "le"}
    # collections.Counter(...) in the domain code is not a metric.
    assert not any(name.startswith("keys") for name in EXPORTED.labels)


# ---------------------------------------------------------------------------------------------
# What a PromQL expression uses

_STRING = r'"(?:[^"\\]|\\.)*"'
_MATCHER = re.compile(rf"([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*({_STRING})")
_SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}


@dataclass(frozen=True)
class Use:
    metric: str
    labels: frozenset[str]


def _expand_name_regex(pattern: str) -> list[str]:
    """``(a|b)_x`` -> [a_x, b_x]; the only regex shape the rules use on ``__name__``."""
    match = re.fullmatch(r"\(([\w|]+)\)(\w+)", pattern)
    if match:
        return [alt + match.group(2) for alt in match.group(1).split("|")]
    assert re.fullmatch(r"[\w:]+", pattern), f"unsupported __name__ regex {pattern!r}"
    return [pattern]


def metric_uses(expr: str) -> list[Use]:
    """Every metric (with the labels matched on it) an expression selects."""
    uses: list[Use] = []

    def selector(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)
        labels, names = set(), [name] if name else []
        for label, _op, value in _MATCHER.findall(body):
            if label == "__name__":
                names = _expand_name_regex(json.loads(value))
            else:
                labels.add(label)
        assert names, f"selector without a metric name in {expr!r}"
        uses.extend(Use(n, frozenset(labels)) for n in names)
        return " "

    rest = _GROUPING.sub(" ", expr)
    rest = _SELECTOR.sub(selector, rest)
    rest = re.sub(_STRING, " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)  # ranges and subqueries: [5m], [$__range]
    for ident in _IDENT.finditer(rest):
        name = ident.group(1)
        after = rest[ident.end() :].lstrip()
        if after.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function call or an operator keyword
        if re.fullmatch(r"\d+\w*", name):
            continue
        uses.append(Use(name, frozenset()))
    return uses


def test_metric_uses_reads_names_from_plain_regex_and_nested_selectors() -> None:
    expr = (
        'sum by (service, le) (rate({__name__=~"(review|registry)_handler_seconds_bucket",'
        ' service=~"$service"}[5m])) / on (service) group_left up{job="x"}'
        " + time() - enrollment_deadline_sweep_last_success_timestamp_seconds offset 5m > 0.5"
    )
    assert set(metric_uses(expr)) == {
        Use("review_handler_seconds_bucket", frozenset({"service"})),
        Use("registry_handler_seconds_bucket", frozenset({"service"})),
        Use("up", frozenset({"job"})),
        Use("enrollment_deadline_sweep_last_success_timestamp_seconds", frozenset()),
    }


def test_a_metric_the_code_does_not_export_is_caught() -> None:
    problems = check_expression('sum(rate(review_awards_total{outcome="x"}[5m]))')
    assert problems == ["review_awards_total is not exported"]
    problems = check_expression('increase(review_overdue_sweeps_total{outcome="failed"}[1h])')
    assert problems == ["review_overdue_sweeps_total has no label outcome"]


def check_expression(expr: str) -> list[str]:
    problems = []
    uses = metric_uses(expr)
    if not uses:
        problems.append(f"no metric found in {expr!r}")
    for use in uses:
        if use.metric not in EXPORTED.labels:
            problems.append(f"{use.metric} is not exported")
            continue
        for label in sorted(use.labels - EXPORTED.labels[use.metric] - SCRAPE_LABELS):
            problems.append(f"{use.metric} has no label {label}")
    return problems


# ---------------------------------------------------------------------------------------------
# Alert rules


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_rule_uses_only_metrics_and_labels_the_services_export(rule: dict[str, Any]) -> None:
    assert check_expression(rule["expr"]) == []


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------------------------------------
# Grafana dashboards


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def panel_targets() -> list[tuple[str, str, str]]:
    return [
        (name, panel["title"], target["expr"])
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def test_dashboards_for_pipeline_flow_business_and_service_health_exist() -> None:
    assert {"pipeline-flow", "business", "service-health"} <= set(dashboards())


@pytest.mark.parametrize(
    ("dashboard", "panel", "expr"), panel_targets(), ids=lambda v: v if len(v) < 60 else ""
)
def test_dashboard_panel_uses_only_metrics_and_labels_the_services_export(
    dashboard: str, panel: str, expr: str
) -> None:
    assert check_expression(expr) == [], f"{dashboard} / {panel}"


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_is_provisionable(name: str) -> None:
    dashboard = dashboards()[name]
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"].strip()
    assert "mc-backbone" in dashboard["tags"]
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text()
    )["datasources"]
    uids = {source["uid"] for source in datasources}
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in uids
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            for used in re.findall(r"\$(\w+)", target["expr"]):
                assert used.startswith("__") or used in variables, f"{panel['title']}: ${used}"


def test_dashboard_uids_are_unique() -> None:
    uids = [d["uid"] for d in dashboards().values()]
    assert len(uids) == len(set(uids))


def _metrics_of(name: str) -> set[str]:
    dashboard = dashboards()[name]
    return {
        use.metric
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        for use in metric_uses(target["expr"])
    }


def test_pipeline_dashboard_shows_flow_outbox_lag_and_dead_letters() -> None:
    used = _metrics_of("pipeline-flow")
    for suffix in (
        "events_published_total",
        "events_consumed_total",
        "outbox_backlog",
        "outbox_oldest_age_seconds",
        "consumer_lag",
        "events_dead_lettered_total",
    ):
        assert {f"{s}_{suffix}" for s in SERVICES} <= used, suffix


def test_business_dashboard_shows_decisions_pass_rates_sla_awards_and_payments() -> None:
    used = _metrics_of("business")
    assert {
        "review_decisions_total",
        "review_pass_rate_ratio",
        "review_sla_breaches",
        "review_assignments_overdue",
        "review_time_to_decision_seconds_bucket",
        "enrollment_enrollments_total",
        "compensation_handler_seconds_count",
        "compensation_events_published_total",
    } <= used


def test_business_dashboard_shows_ledger_totals_in_dollars_from_the_database_gauges() -> None:
    used = _metrics_of("business")
    assert {
        "compensation_stipends_dollars",
        "compensation_payments_held",
        "registry_credentials_issued",
        "registry_credentials",
        "registry_renewal_credits",
    } <= used
    money = [
        panel
        for panel in panels(dashboards()["business"])
        for target in panel.get("targets", [])
        if "compensation_stipends_dollars" in target["expr"]
    ]
    assert money
    for panel in money:
        # Dollars, and never summed over replicas: each exports the same database total.
        assert panel["fieldConfig"]["defaults"]["unit"] == "currencyUSD", panel["title"]
        assert all(not t["expr"].startswith("sum") for t in panel["targets"]), panel["title"]


def test_service_health_dashboard_shows_up_errors_latency_and_resources() -> None:
    used = _metrics_of("service-health")
    assert {"up", "process_cpu_seconds_total", "process_resident_memory_bytes"} <= used
    assert {f"{s}_http_requests_total" for s in SERVICES} <= used
    assert {f"{s}_http_request_seconds_bucket" for s in SERVICES} <= used


def test_grafana_loads_the_dashboards_from_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]


def test_alerts_and_a_panel_watch_the_district_fan_out_and_the_broker() -> None:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    rules = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    assert (
        "registry_district_fanout_records_dead_lettered_total"
        in (rules["DistrictFanOutDeadLettering"]["expr"])
    )
    assert "registry_district_fanout_records_sent_total" in rules["DistrictFanOutStalled"]["expr"]
    broker = rules["BrokerUnreachable"]
    assert "_dependency_up" in broker["expr"]
    assert 'dependency="broker"' in broker["expr"]
    assert re.search(r"==\s*0\s*$", broker["expr"].strip())
    assert int(broker["for"].removesuffix("m")) >= 2
    exprs = [
        target["expr"]
        for panel in dashboards()["pipeline-flow"]["panels"]
        for target in panel.get("targets", [])
    ]
    assert any("registry_district_fanout_records_sent_total" in e for e in exprs)
    assert any("registry_district_fanout_records_dead_lettered_total" in e for e in exprs)
    assert any("_dependency_up" in e and 'dependency="broker"' in e for e in exprs)
