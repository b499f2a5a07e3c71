"""The service-layer contract as a lint (part of ``make lint``), for what import rules cannot see:

- an entrypoint (route, consumer handler, scheduler) never commits or rolls back: the service
  layer owns the transaction (``uow.commit()``), the consumer runtime owns a handler's;
- the service layer and the domain never speak HTTP: they raise refusals
  (:mod:`mc_platform.refusals`), and one handler turns them into problem details.

    python -m mc_devstack.service_lint services/*/src
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

TRANSACTION_CALLS = frozenset({"commit", "rollback"})
HTTP_MODULES = ("fastapi", "starlette")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _layer(path: Path) -> str | None:
    for part in path.parts:
        if part in ("entrypoints", "service_layer", "domain"):
            return part
    return None


def check_source(path: Path, source: str) -> list[Finding]:
    """The findings of one module (``path`` decides its layer)."""
    layer = _layer(path)
    if layer is None:
        return []
    tree = ast.parse(source, filename=str(path))
    findings: list[Finding] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if (
            layer == "entrypoints"
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in TRANSACTION_CALLS
        ):
            findings.append(
                Finding(
                    path,
                    line,
                    f"an entrypoint calls .{node.func.attr}(): the service layer commits "
                    "(a route calls a service-layer command that ends with uow.commit())",
                )
            )
        if layer in ("service_layer", "domain"):
            for module in _imported(node):
                if module.split(".")[0] in HTTP_MODULES:
                    findings.append(
                        Finding(
                            path,
                            line,
                            f"the {layer.replace('_', ' ')} imports {module}: raise a refusal "
                            "from mc_platform.refusals and leave HTTP to the entrypoints",
                        )
                    )
    return findings


def _imported(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        yield node.module


def check(roots: Sequence[Path]) -> list[Finding]:
    findings: list[Finding] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            findings.extend(check_source(path, path.read_text(encoding="utf-8")))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mc_devstack.service_lint", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("roots", nargs="+", type=Path, help="source folders of services")
    args = parser.parse_args(argv)
    missing = [str(root) for root in args.roots if not root.is_dir()]
    if missing:
        print(f"no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    findings = check(args.roots)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} breach(es) of the service-layer contract", file=sys.stderr)
        return 1
    print(f"service-layer contract kept in {len(args.roots)} folder(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
