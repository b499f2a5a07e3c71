"""The checked-in JSON Schemas are the published contracts: up to date, and never broken.

Also covers ``python -m mc_events.schemas write|check`` on scratch directories.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mc_events.contracts import Event
from mc_events.schemas import (
    SCHEMA_DIR,
    check_schemas,
    compare_catalogs,
    generate,
    load_schemas,
    main,
    published_contracts,
    render,
    schema_for,
    write_schemas,
)

CONTRACTS = sorted(published_contracts().values(), key=lambda c: c.ce_type())
WRITE = "python -m mc_events.schemas write"


def _id(contract: type[Event]) -> str:
    return contract.ce_type()


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_checked_in_schema_equals_the_generated_one(contract: type[Event]):
    path = SCHEMA_DIR / f"{contract.schema_name()}.json"

    assert path.exists(), f"{path.name} is missing: run `{WRITE}`"
    assert path.read_text(encoding="utf-8") == render(schema_for(contract)), (
        f"{path.name} is out of date: run `{WRITE}` and commit the result"
    )


def test_current_contracts_are_compatible_with_the_checked_in_schemas():
    assert compare_catalogs(load_schemas(SCHEMA_DIR), generate()) == []


def test_every_checked_in_schema_has_a_contract():
    assert set(load_schemas(SCHEMA_DIR)) == set(published_contracts())


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_schema_is_a_valid_json_schema_with_the_wire_metadata(contract: type[Event]):
    schema = schema_for(contract)
    doc = inspect.getdoc(contract) or ""

    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:mc-events:schema:{contract.ce_type()}"
    assert schema["x-event-type"] == contract.event_type
    assert schema["x-version"] == contract.version
    assert schema["x-topic"] == contract.topic
    assert schema["x-key"] == contract.key_field
    assert schema["title"] == doc.splitlines()[0]
    assert schema["description"] == doc


def test_schema_files_are_formatted_stably():
    text = (SCHEMA_DIR / "registry.credential_awarded.v1.json").read_text(encoding="utf-8")

    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_check_passes_on_the_checked_in_schemas(capsys):
    assert main(["check"]) == 0
    assert "up to date and compatible" in capsys.readouterr().out


# --- the command on scratch directories --------------------------------------------------


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, directory)
    return directory


def _edit(path: Path, change) -> None:
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(render(schema))


def test_write_creates_every_schema_file_in_an_empty_directory(tmp_path: Path):
    written, problems = write_schemas(tmp_path / "fresh")

    assert problems == []
    assert sorted(written) == sorted(f"{name}.json" for name in published_contracts())
    assert check_schemas(tmp_path / "fresh") == []


def test_check_fails_when_a_schema_file_is_missing(schema_dir: Path, capsys):
    (schema_dir / "review.decided.v1.json").unlink()

    assert main(["check", "--dir", str(schema_dir)]) == 1
    assert f"review.decided.v1.json: missing; run `{WRITE}`" in capsys.readouterr().err


def test_check_fails_when_a_schema_file_is_out_of_date(schema_dir: Path, capsys):
    _edit(
        schema_dir / "review.decided.v1.json",
        lambda s: s.update(description="An older wording."),
    )

    assert main(["check", "--dir", str(schema_dir)]) == 1
    err = capsys.readouterr().err
    assert f"review.decided.v1.json: out of date; run `{WRITE}`" in err
    assert "breaking" not in err, "a description change is compatible"


def test_check_fails_when_the_contracts_broke_the_published_schema(schema_dir: Path, capsys):
    # As if the published schema had a property the current contract dropped.
    def published_with_extra_property(schema: dict) -> None:
        schema["properties"]["legacy_score"] = {"type": "integer"}

    _edit(schema_dir / "review.decided.v1.json", published_with_extra_property)

    assert main(["check", "--dir", str(schema_dir)]) == 1
    assert (
        "review.decided.v1: property 'legacy_score' removed; breaking changes need a new "
        "version (v2)" in capsys.readouterr().err
    )


def test_check_fails_when_a_published_version_has_no_contract(schema_dir: Path, capsys):
    old = json.loads((schema_dir / "review.decided.v1.json").read_text())
    old.update({"x-event-type": "review.scored", "$id": "urn:mc-events:schema:review.scored.v1"})
    (schema_dir / "review.scored.v1.json").write_text(render(old))

    assert main(["check", "--dir", str(schema_dir)]) == 1
    assert "review.scored.v1: published schema has no contract any more" in (
        capsys.readouterr().err
    )


def test_write_refuses_an_incompatible_change_and_leaves_the_files_alone(schema_dir: Path, capsys):
    path = schema_dir / "registry.credential_awarded.v1.json"
    _edit(path, lambda s: s["properties"].update(legacy={"type": "string"}))
    before = path.read_text()

    assert main(["write", "--dir", str(schema_dir)]) == 1
    assert path.read_text() == before
    assert "property 'legacy' removed" in capsys.readouterr().err


def test_write_updates_a_compatible_change(schema_dir: Path):
    _edit(schema_dir / "review.decided.v1.json", lambda s: s.update(description="Older words."))

    assert main(["write", "--dir", str(schema_dir)]) == 0
    assert check_schemas(schema_dir) == []


# --- against the schemas published at a git ref ------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_check_against_a_git_ref_catches_a_break_hidden_by_rewriting_the_files(
    tmp_path: Path, capsys
):
    repo = tmp_path / "repo"
    schema_dir = repo / "libs" / "events" / "schemas"
    shutil.copytree(SCHEMA_DIR, schema_dir)
    _edit(
        schema_dir / "registry.credential_awarded.v1.json",
        lambda s: s["properties"].update(legacy={"type": "string"}),
    )
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "published")
    # Someone regenerates the files over the published ones: the files alone look fine now.
    write_schemas(schema_dir, allow_breaking=True)
    assert check_schemas(schema_dir) == []

    assert main(["check", "--dir", str(schema_dir), "--base", "HEAD"]) == 1
    assert "registry.credential_awarded.v1: property 'legacy' removed" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_check_against_a_git_ref_accepts_a_compatible_tree(tmp_path: Path):
    repo = tmp_path / "repo"
    schema_dir = repo / "schemas"
    shutil.copytree(SCHEMA_DIR, schema_dir)
    (schema_dir / "review.decided.v1.json").unlink()  # a contract added since
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "published")
    write_schemas(schema_dir)

    assert check_schemas(schema_dir, base="HEAD") == []
