"""Fixtures of the security tests: the four services running in-process, once per session, each
on its own fresh, migrated database (no relay, no consumers: these tests drive the HTTP APIs and
seed what they need through the service layer). Helpers live in security_support."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from security_support import SERVICES, service_factory

from mc_devstack.testing import RunningService, running_service


@pytest.fixture(scope="session")
async def services(infra, tmp_path_factory) -> AsyncIterator[dict[str, RunningService]]:
    """name -> RunningService for enrollment, review, registry and compensation."""
    async with AsyncExitStack() as stack:
        running: dict[str, RunningService] = {}
        for name in SERVICES:
            build, settings_class = service_factory(name)
            running[name] = await stack.enter_async_context(
                running_service(
                    build,
                    settings_class,
                    infra,
                    relay=False,
                    consumers=False,
                    # The matrix and Schemathesis send thousands of requests from one test.
                    rate_limit_per_second=1_000_000.0,
                    rate_limit_burst=1_000_000,
                    **(
                        {"evidence_dir": str(tmp_path_factory.mktemp("evidence"))}
                        if name == "enrollment"
                        else {}
                    ),
                )
            )
        yield running
