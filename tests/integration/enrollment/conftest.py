"""The enrollment service the integration tests run: ``svc``, one fixture for every module.

It starts the service on a fresh, migrated database and the session's broker (no relay: the
tests read the outbox; the deadline sweep does not run by itself), on a settable clock given
to ``build(clock=...)`` (``svc.clock.now = ...`` moves the time of every route), with its
evidence under ``svc.evidence_dir``.

A test or module that needs other settings parametrizes the same fixture:
``@pytest.mark.enrollment_settings(evidence_max_bytes=4096)`` (or ``pytestmark = ...``); a
module whose settings come from other fixtures (a bucket) overrides ``svc_settings``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from enrollment_test_support import Clock

from enrollment.bootstrap import build
from enrollment.config import Settings
from mc_devstack.testing import running_service


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "enrollment_settings(**settings): settings of the enrollment service fixture svc",
    )


@pytest.fixture
def svc_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings a test's (or its module's) ``enrollment_settings`` marker gives."""
    marker = request.node.get_closest_marker("enrollment_settings")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
async def svc(infra, tmp_path, svc_settings):
    clock = Clock()
    settings: dict[str, Any] = {
        "evidence_dir": str(tmp_path / "evidence"),
        "deadline_sweep_enabled": False,
        **svc_settings,
    }
    async with running_service(
        functools.partial(build, clock=clock), Settings, infra, relay=False, **settings
    ) as running:
        running.clock = clock
        running.evidence_dir = Path(settings["evidence_dir"])
        yield running
