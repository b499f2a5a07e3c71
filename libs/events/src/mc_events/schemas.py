"""JSON Schemas of the event contracts, and the check that keeps them compatible.

Every contract in :mod:`mc_events.contracts` has a JSON Schema (draft 2020-12) generated from
its Pydantic model, plus what the wire needs to know (``x-event-type``, ``x-version``,
``x-topic``, ``x-key``) and ``$id`` = the CloudEvents ``dataschema`` the envelope sends. They
are checked in as ``libs/events/schemas/<ce_type>.json``: those files are the *published*
contracts, the ones consumers (ours, and districts' integrations) rely on.

    python -m mc_events.schemas write    # regenerate; refuses an incompatible change
    python -m mc_events.schemas check    # CI: files up to date, and compatible
    python -m mc_events.schemas check --base origin/main   # also against another ref's files

Compatibility within one version (the contract rule: "a change within a version only adds
optional fields; a breaking change is a new version"). Two things must hold:

1. every event valid under the published schema stays valid under the new one, because topics
   are replayed from the beginning with the current code (no newly required property, no
   narrowed type, no removed enum value, no tightened constraint);
2. every property the published schema promises is still there, typed as before, because
   consumers written against it read it (no removed property, no property that stops being
   required, no changed type, including a newly nullable one).

Accepted: a new optional property, a new contract or a new version of one, a changed title,
description or default, a widened enum or loosened constraint. A widened enum is accepted as
the rule says, but a consumer still on the old contract rejects the new value (the record goes
to its dead-letter topic), so deploy consumers before the producer that sends new values.

Removing a published version (its file stays, its contract goes) is rejected too: old records
of that type are still on the topics.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mc_events.contracts.base import Event, all_contracts
from mc_events.envelope import SCHEMA_BASE

Schema = dict[str, Any]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
"""``libs/events/schemas`` in the source tree (the workspace installs this package editable)."""

DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONTRACTS_PACKAGE = "mc_events.contracts"
WRITE_HINT = "run `python -m mc_events.schemas write`"


# --- generation ---------------------------------------------------------------------------


def published_contracts() -> dict[str, type[Event]]:
    """The contracts of :mod:`mc_events.contracts` by CloudEvents type.

    Other ``Event`` subclasses (test doubles) register in the same registry; they are not
    published and have no schema file.
    """
    importlib.import_module(CONTRACTS_PACKAGE)
    prefix = f"{CONTRACTS_PACKAGE}."
    return {
        ce_type: contract
        for ce_type, contract in all_contracts().items()
        if contract.__module__.startswith(prefix)
    }


def schema_for(contract: type[Event]) -> Schema:
    """The JSON Schema of one contract, with its wire metadata."""
    schema = contract.model_json_schema()
    doc = inspect.cleandoc(contract.__doc__ or "")
    schema.update(
        {
            "$schema": DIALECT,
            "$id": f"{SCHEMA_BASE}{contract.schema_name()}",
            "title": doc.split("\n", 1)[0] or contract.__name__,
            "description": doc,
            "x-event-type": contract.event_type,
            "x-version": contract.version,
            "x-topic": contract.topic,
            "x-key": contract.key_field,
        }
    )
    return schema


def generate() -> dict[str, Schema]:
    """The schema of every published contract, by schema name (``<ce_type>``)."""
    return {
        contract.schema_name(): schema_for(contract) for contract in published_contracts().values()
    }


def render(schema: Mapping[str, Any]) -> str:
    """The checked-in text of a schema: sorted keys, indent 2, trailing newline."""
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def load_schemas(directory: Path) -> dict[str, Schema]:
    """The checked-in schemas in ``directory``, by file stem."""
    if not directory.is_dir():
        return {}
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


# --- compatibility ------------------------------------------------------------------------

# Only the keywords below (and type, enum/const, properties, required, items,
# additionalProperties) are compared: annotations such as title, description, default and
# examples never break anyone.

# A larger value accepts less.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
# A smaller value accepts less.
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Any new or different value may accept less (no attempt to compare regexes or formats).
_EXACT = ("pattern", "format", "multipleOf")


@dataclass(frozen=True)
class _Branch:
    """One alternative of a schema (an ``anyOf`` member, or one of a ``type`` list)."""

    kind: str
    """JSON type it admits: string, number, integer, boolean, null, object, array, or any."""
    schema: Schema
    ref: str | None


def check_compatibility(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why ``new`` cannot replace the published schema ``old`` within the same version.

    Pure: compares two schema documents (each resolving its own ``$defs``/``$ref``). Returns
    human-readable problems, empty when the change is compatible.
    """
    name = _schema_name(old)
    comparison = _Comparison(dict(old), dict(new))
    details: list[str] = []
    for key, what in (
        ("x-event-type", "event type"),
        ("x-version", "version"),
        ("x-topic", "topic"),
        ("x-key", "key field"),
    ):
        if old.get(key) != new.get(key):
            details.append(f"{what} changed from {old.get(key)!r} to {new.get(key)!r}")
    comparison.node(dict(old), dict(new), "", frozenset())
    details.extend(comparison.problems)
    version = old.get("x-version")
    advice = (
        f"breaking changes need a new version (v{version + 1})"
        if isinstance(version, int)
        else "breaking changes need a new version"
    )
    return [f"{name}: {detail}; {advice}" for detail in dict.fromkeys(details)]


def compare_catalogs(
    published: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Problems of replacing every published schema by the current one of the same name.

    A name only in ``current`` is a new contract or version: always fine. A name only in
    ``published`` is a removed version: rejected.
    """
    problems: list[str] = []
    for name in sorted(published):
        if name not in current:
            problems.append(
                f"{name}: published schema has no contract any more; a published version must "
                "stay while its records can be read (topics are replayed from the beginning)"
            )
            continue
        problems.extend(check_compatibility(published[name], current[name]))
    return problems


def _schema_name(schema: Mapping[str, Any]) -> str:
    event_type, version = schema.get("x-event-type"), schema.get("x-version")
    if event_type is not None and version is not None:
        return f"{event_type}.v{version}"
    return str(schema.get("title", "schema"))


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []

    def node(
        self, old: Schema, new: Schema, where: str, active: frozenset[tuple[str, str]]
    ) -> None:
        old_branches = _branches(self.old_root, old)
        new_branches = _branches(self.new_root, new)
        old_kinds = sorted({b.kind for b in old_branches})
        new_kinds = sorted({b.kind for b in new_branches})
        if old_kinds != new_kinds:
            self.problems.append(
                f"type of {_show(where)} changed from {' | '.join(old_kinds)} "
                f"to {' | '.join(new_kinds)}"
            )
        for kind in old_kinds:
            olds = [b for b in old_branches if b.kind == kind]
            news = [b for b in new_branches if b.kind == kind]
            if not news:
                continue
            pairs, unmatched = _pair(olds, news)
            for each in unmatched:
                label = each.schema.get("title", kind)
                self.problems.append(f"alternative {label!r} of {_show(where)} removed")
            for old_branch, new_branch in pairs:
                self._same_kind(old_branch, new_branch, where, active)

    def _same_kind(
        self, old: _Branch, new: _Branch, where: str, active: frozenset[tuple[str, str]]
    ) -> None:
        if old.ref is not None and new.ref is not None:
            # Recursive models: stop when this pair of definitions is already being compared.
            if (old.ref, new.ref) in active:
                return
            active = active | {(old.ref, new.ref)}
        o, n = old.schema, new.schema
        self._values(o, n, where)
        self._constraints(o, n, where)
        if old.kind == "object":
            self._object(o, n, where, active)
        elif old.kind == "array":
            self._array(o, n, where, active)

    def _values(self, old: Schema, new: Schema, where: str) -> None:
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            shown = ", ".join(repr(v) for v in new_values.values())
            self.problems.append(f"{_show(where)} is now restricted to {shown}")
            return
        removed = [value for key, value in old_values.items() if key not in new_values]
        if removed:
            shown = ", ".join(repr(v) for v in removed)
            self.problems.append(f"value {shown} removed from the allowed values of {_show(where)}")

    def _constraints(self, old: Schema, new: Schema, where: str) -> None:
        def tightened(keyword: str) -> None:
            before = old.get(keyword)
            change = (
                f"added {new[keyword]!r}" if before is None else f"{before!r} -> {new[keyword]!r}"
            )
            self.problems.append(f"constraint {keyword} of {_show(where)} tightened ({change})")

        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                tightened(keyword)
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                tightened(keyword)
        for keyword in _EXACT:
            if keyword in new and new[keyword] != old.get(keyword):
                tightened(keyword)
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            tightened("uniqueItems")

    def _object(
        self, old: Schema, new: Schema, where: str, active: frozenset[tuple[str, str]]
    ) -> None:
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name, old_prop in old_props.items():
            path = _child(where, name)
            if name not in new_props:
                self.problems.append(f"property '{path}' removed")
            else:
                self.node(old_prop, new_props[name], path, active)
        for name in sorted(new_required - old_required):
            path = _child(where, name)
            if name in old_props:
                self.problems.append(f"property '{path}' became required")
            else:
                self.problems.append(f"new required property '{path}'")
        for name in sorted(old_required - new_required):
            if name in new_props:
                self.problems.append(f"property '{_child(where, name)}' is no longer required")
        self._additional(old, new, where, active)

    def _additional(
        self, old: Schema, new: Schema, where: str, active: frozenset[tuple[str, str]]
    ) -> None:
        before = old.get("additionalProperties", True)
        after = new.get("additionalProperties", True)
        if after is False and before is not False:
            self.problems.append(f"{_show(where)} no longer allows additional properties")
        elif isinstance(after, dict):
            if isinstance(before, dict):
                self.node(before, after, _child(where, "*"), active)
            elif before is True:
                self.problems.append(f"additional properties of {_show(where)} are now constrained")

    def _array(
        self, old: Schema, new: Schema, where: str, active: frozenset[tuple[str, str]]
    ) -> None:
        old_prefix: Sequence[Schema] = old.get("prefixItems", ())
        new_prefix: Sequence[Schema] = new.get("prefixItems", ())
        if len(old_prefix) != len(new_prefix):
            self.problems.append(f"tuple shape of {_show(where)} changed")
        for index, (o, n) in enumerate(zip(old_prefix, new_prefix, strict=False)):
            self.node(o, n, f"{where}[{index}]", active)
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(new_items, dict):
            if isinstance(old_items, dict):
                self.node(old_items, new_items, f"{where}[]", active)
            else:
                self.problems.append(f"items of {_show(where)} are now constrained")
        elif new_items is False and old_items is not False:
            self.problems.append(f"{_show(where)} no longer allows extra items")


def _show(where: str) -> str:
    return f"'{where}'" if where else "the event"


def _child(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _resolve(root: Schema, schema: Schema) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (and single-member ``allOf`` wrappers); siblings override the target."""
    ref: str | None = None
    seen: set[str] = set()
    while True:
        if "$ref" in schema:
            ref = str(schema["$ref"])
            if ref in seen:
                raise ValueError(f"$ref cycle at {ref}")
            seen.add(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**_pointer(root, ref), **siblings}
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            siblings = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**schema["allOf"][0], **siblings}
        else:
            return schema, ref


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    target: Any = root
    for token in ref[1:].lstrip("/").split("/") if ref != "#" else ():
        target = target[token.replace("~1", "/").replace("~0", "~")]
    if not isinstance(target, dict):
        raise ValueError(f"$ref {ref!r} does not point at a schema")
    return target


def _branches(root: Schema, schema: Schema) -> list[_Branch]:
    resolved, ref = _resolve(root, schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in resolved:
            return [b for member in resolved[combinator] for b in _branches(root, member)]
    declared = resolved.get("type")
    if isinstance(declared, list):
        return [_Branch(str(t), {**resolved, "type": t}, ref) for t in declared]
    if declared is not None:
        return [_Branch(str(declared), resolved, ref)]
    values = _allowed_values(resolved)
    if values is not None:
        kinds = sorted({_json_type(v) for v in values.values()})
        if len(kinds) == 1:
            return [_Branch(kinds[0], resolved, ref)]
        return [
            _Branch(
                kind,
                {**resolved, "enum": [v for v in values.values() if _json_type(v) == kind]},
                ref,
            )
            for kind in kinds
        ]
    if "properties" in resolved or "additionalProperties" in resolved:
        return [_Branch("object", resolved, ref)]
    if "items" in resolved or "prefixItems" in resolved:
        return [_Branch("array", resolved, ref)]
    return [_Branch("any", resolved, ref)]


def _pair(
    olds: list[_Branch], news: list[_Branch]
) -> tuple[list[tuple[_Branch, _Branch]], list[_Branch]]:
    """Match alternatives of one JSON type: by title (model name), the rest by position.

    Returns the pairs and the old alternatives left without a match.
    """
    pairs: list[tuple[_Branch, _Branch]] = []
    left_old: list[_Branch] = []
    left_new = list(news)
    for old in olds:
        title = old.schema.get("title")
        match = next((n for n in left_new if title and n.schema.get("title") == title), None)
        if match is None:
            left_old.append(old)
        else:
            left_new.remove(match)
            pairs.append((old, match))
    pairs.extend(zip(left_old, left_new, strict=False))
    return pairs, left_old[len(left_new) :]


def _allowed_values(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """``enum``/``const`` values keyed by their canonical JSON, or None if unrestricted."""
    if "const" in schema:
        values = [schema["const"]]
    elif "enum" in schema:
        values = list(schema["enum"])
    else:
        return None
    return {json.dumps(v, sort_keys=True): v for v in values}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- the checked-in files -----------------------------------------------------------------


def check_schemas(directory: Path = SCHEMA_DIR, *, base: str | None = None) -> list[str]:
    """Everything wrong with the checked-in schemas: missing or outdated files, and changes
    incompatible with the published schemas (the files, and those at git ref ``base``)."""
    current = generate()
    problems: list[str] = []
    for name, schema in current.items():
        path = directory / f"{name}.json"
        if not path.exists():
            problems.append(f"{path.name}: missing; {WRITE_HINT}")
        elif path.read_text(encoding="utf-8") != render(schema):
            problems.append(f"{path.name}: out of date; {WRITE_HINT}")
    problems.extend(compare_catalogs(load_schemas(directory), current))
    if base is not None:
        problems.extend(compare_catalogs(load_schemas_at_ref(directory, base), current))
    return list(dict.fromkeys(problems))


def write_schemas(
    directory: Path = SCHEMA_DIR, *, allow_breaking: bool = False
) -> tuple[list[str], list[str]]:
    """Regenerate the schema files. Returns (files written, compatibility problems).

    Nothing is written if the change is incompatible with the files already there, unless
    ``allow_breaking`` (for a contract never released). Files are never deleted: removing a
    published version is a deliberate ``git rm``.
    """
    current = generate()
    problems = compare_catalogs(load_schemas(directory), current)
    if problems and not allow_breaking:
        return [], problems
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for name, schema in current.items():
        path = directory / f"{name}.json"
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path.name)
    return written, problems


def load_schemas_at_ref(directory: Path, ref: str) -> dict[str, Schema]:
    """The schemas checked in under ``directory`` at git ``ref`` (e.g. ``origin/main``)."""
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not on PATH")
    directory = directory.resolve()

    def run(*args: str) -> str:
        # Arguments are a ref and paths of our own tree, never passed through a shell.
        done = subprocess.run(  # noqa: S603
            [git, "-C", str(directory), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    schemas: dict[str, Schema] = {}
    # Not recursive: the entries of this one directory, named from the top of the tree.
    for line in run("ls-tree", "--name-only", "--full-name", ref, "--", ".").splitlines():
        if line.endswith(".json"):
            schemas[Path(line).stem] = json.loads(run("show", f"{ref}:{line}"))
    return schemas


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mc_events.schemas",
        description="Generate the event contracts' JSON Schemas and check their compatibility.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="regenerate the checked-in schemas")
    write.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    write.add_argument(
        "--allow-breaking",
        action="store_true",
        help="write even if incompatible with the files there (only for unreleased contracts)",
    )
    check = commands.add_parser(
        "check", help="fail if a schema is missing, out of date or incompatible"
    )
    check.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema directory")
    check.add_argument(
        "--base",
        metavar="GIT_REF",
        help="also check compatibility with the schemas at this git ref (e.g. origin/main)",
    )
    args = parser.parse_args(argv)

    if args.command == "write":
        written, problems = write_schemas(args.dir, allow_breaking=args.allow_breaking)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems and not args.allow_breaking:
            print("nothing written: incompatible changes (see above)", file=sys.stderr)
            return 1
        print(f"{len(written)} schema files written to {args.dir}")
        return 0

    try:
        problems = check_schemas(args.dir, base=args.base)
    except (RuntimeError, ValueError) as exc:  # git failed, or a file is not JSON
        print(exc, file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{len(generate())} schemas up to date and compatible")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
