"""Fixtures shared by every test folder: real infrastructure (``infra``), fresh databases and
unique names, from mc_devstack.testing; and the tiers, one folder each:

- ``unit``: one module's rules, no broker, no database, no service (``make test-fast``);
- ``contract``: the event contracts and their JSON Schemas (``make test-fast``);
- ``integration``: a service or the backbone on a real PostgreSQL and a real broker;
- ``e2e``: the whole system, as ``make run`` starts it;
- ``deploy``: the production manifests run as they are written (``make rehearse``).

Each test is marked with its tier (``pytest -m integration``). A unit or contract test that
asks for the infrastructure fails at collection: it belongs in ``integration``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["mc_devstack.testing"]

TIERS = ("unit", "contract", "integration", "e2e", "deploy")
NO_INFRASTRUCTURE = ("unit", "contract")
HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: a test of the {tier} tier (tests/{tier}/)")


def tier_of(path: Path) -> str | None:
    try:
        first = path.relative_to(HERE).parts[0]
    except ValueError:
        return None
    return first if first in TIERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
        tier = tier_of(item.path)
        if tier is None:
            continue
        item.add_marker(getattr(pytest.mark, tier))
        if tier in NO_INFRASTRUCTURE and "infra" in getattr(item, "fixturenames", ()):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "tests of the unit and contract tiers use no broker or database; move these to "
            "tests/integration: " + ", ".join(misplaced)
        )
