"""``mc-events pipeline status`` and ``mc-events topics strimzi`` without a broker: where the
command looks for each service, how it prints what it found, and the generated KafkaTopics."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from mc_events import topics as topic_registry
from mc_events.cli import app, pipeline_targets, render_status
from mc_events.operations import (
    SUBSCRIPTIONS,
    PipelineStatus,
    ServiceStatus,
    TopicLag,
    strimzi_topics,
    to_yaml,
)

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[3]


def bootstrap_subscriptions(service: str) -> set[str]:
    path = ROOT / "services" / service / "src" / service / "bootstrap.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "subscribes":
            assert isinstance(node.value, ast.List | ast.Tuple)
            return {
                getattr(topic_registry, e.attr).name
                for e in node.value.elts
                if isinstance(e, ast.Attribute)
            }
    raise AssertionError(f"{service}: no subscribes= in bootstrap.py")


@pytest.mark.parametrize("service", sorted(SUBSCRIPTIONS))
def test_status_reads_the_topics_each_service_subscribes_to(service: str) -> None:
    assert set(SUBSCRIPTIONS[service]) == bootstrap_subscriptions(service)


def test_every_service_is_covered() -> None:
    services = {p.name for p in (ROOT / "services").iterdir() if (p / "src").is_dir()}
    assert set(SUBSCRIPTIONS) == services


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", *(f"{s.upper()}_DATABASE_URL" for s in SUBSCRIPTIONS)):
        monkeypatch.delenv(name, raising=False)
    for name in SUBSCRIPTIONS:
        monkeypatch.delenv(f"{name.upper()}_CONSUMER_GROUP", raising=False)
    return monkeypatch


def test_targets_default_to_the_four_services_and_their_own_groups(
    clean_env: pytest.MonkeyPatch,
) -> None:
    targets, subscriptions = pipeline_targets(None, None, None, None)
    assert [t.name for t in targets] == list(SUBSCRIPTIONS)
    assert all(t.group_id == t.name for t in targets)
    assert all(t.database_url is None for t in targets)
    assert subscriptions == SUBSCRIPTIONS


def test_database_url_comes_from_the_flag_then_the_service_setting_then_the_server(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://postgres:pw@db:5432/postgres")
    clean_env.setenv("REVIEW_DATABASE_URL", "postgresql://review:x@reviewdb:5432/review")
    clean_env.setenv("REGISTRY_CONSUMER_GROUP", "registry-blue")
    targets, _ = pipeline_targets(
        None, ["enrollment=postgresql://e@flag/enrollment"], ["compensation=comp-2"], None
    )
    by_name = {t.name: t for t in targets}
    assert by_name["enrollment"].database_url == "postgresql://e@flag/enrollment"
    assert by_name["review"].database_url == "postgresql://review:x@reviewdb:5432/review"
    assert by_name["registry"].database_url == "postgresql://postgres:pw@db:5432/registry"
    assert by_name["registry"].group_id == "registry-blue"
    assert by_name["compensation"].group_id == "comp-2"


def test_a_service_outside_the_four_needs_its_topics(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(typer.BadParameter, match="unknown service audit"):
        pipeline_targets(["audit"], None, None, None)
    targets, subscriptions = pipeline_targets(["audit"], None, None, ["audit=a.b,c.d"])
    assert [t.name for t in targets] == ["audit"]
    assert subscriptions == {"audit": ("a.b", "c.d")}
    with pytest.raises(typer.BadParameter, match="SERVICE=VALUE"):
        pipeline_targets(None, ["no-equals-sign"], None, None)


def test_status_table_shows_backlog_age_lag_problems_and_dead_letters() -> None:
    status = PipelineStatus(
        services=[
            ServiceStatus(
                "registry",
                outbox_backlog=12,
                outbox_oldest_age_seconds=3.25,
                lag=[
                    TopicLag("review.reviews", 7, 93, 100, 12),
                    TopicLag("registry.catalog", 0, 5, 5, 6),
                ],
            ),
            ServiceStatus("review", errors=["outbox: OSError: refused"]),
        ],
        dead_letters={"review.reviews.dlq": 2, "registry.catalog.dlq": 0},
        checked_at="2026-01-01T00:00:00+00:00",
    )
    console = Console(record=True, width=200)
    render_status(status, console)
    text = console.export_text()
    assert "registry" in text
    assert "12" in text
    assert "3.2 s" in text
    assert "7 (93/100)" in text
    assert "outbox: OSError: refused" in text
    assert "review.reviews.dlq" in text
    assert "12 events in outboxes, 7 records of consumer lag, 2 dead letters" in text
    report = status.to_json()
    assert report["services"][0]["total_lag"] == 7
    assert report["dead_letters_total"] == 2


def test_topics_strimzi_prints_one_kafka_topic_per_topic_and_dead_letter_twin() -> None:
    result = CliRunner().invoke(app, ["topics", "strimzi", "--replicas", "5"])
    assert result.exit_code == 0, result.output
    docs = [d for d in yaml.safe_load_all(result.output) if d]
    assert docs == strimzi_topics(replicas=5)
    names = [d["spec"]["topicName"] for d in docs]
    assert names == [t.name for t in topic_registry.all_topics()]
    reviews = docs[names.index("review.reviews")]
    assert reviews["spec"]["partitions"] == topic_registry.REVIEWS.partitions
    assert reviews["spec"]["config"]["retention.ms"] == "-1"
    assert reviews["metadata"]["labels"] == {"strimzi.io/cluster": "mc-kafka"}


def test_to_yaml_round_trips_plain_documents() -> None:
    documents = [
        {
            "a": "-1",
            "b": "true",
            "c": 'quote " and: colon',
            "d": [1, {"e": [], "f": {}}, [2, 3]],
            "g": {"h": True, "i": 1.5, "j": "é"},
        },
        {"k": []},
    ]
    text = to_yaml(documents, "a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\n---\n")
    assert [d for d in yaml.safe_load_all(text) if d] == documents
