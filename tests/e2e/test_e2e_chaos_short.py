"""The short version of `make chaos` that runs in ``make test``: a hundred awards while API, relay
and consumer processes of the four services are killed with SIGKILL and restarted, and the
database is shut down immediately once and started again, then the run reconciles exactly
from the public APIs and the streams (``make chaos`` is the long run: 5,000 awards, 50 kills,
two database crashes).
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from mc_devstack.devinfra.common import find_repo_root, run_root
from mc_devstack.pipeline.chaos import ChaosOptions, cluster_for, drive

pytestmark = pytest.mark.timeout(600)


async def test_a_hundred_awards_under_sigkills_and_a_database_crash_reconcile_exactly_once():
    options = ChaosOptions(
        awards=100,
        kills=6,
        concurrency=8,
        revision_share=0.1,
        revocation_share=0.1,
        db_crashes=1,
        seed=9,
        step_timeout=180,
        settle_timeout=240,
    )
    run_dir = run_root(find_repo_root()) / f"e2e-chaos-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    log: list[str] = []
    try:
        with cluster_for(options, run_dir) as cluster:
            result = await drive(cluster, options, say=log.append)
    finally:
        if not os.environ.get("MC_KEEP_RUN_DIR"):
            shutil.rmtree(run_dir, ignore_errors=True)
    report = result.render() + "\n" + "\n".join(log[-20:])
    print(report)

    assert sum(result.kills.values()) >= options.kills, report
    killed_roles = {name.rsplit("-", 1)[1] for name, n in result.kills.items() if n}
    assert killed_roles == {"api", "relay", "consume"}, report
    assert (result.database_restartable, result.database_crashes) == (True, 1), report
    figures = result.reconciliation.figures
    assert figures["passed reviews on review.reviews"] == options.awards, report
    assert figures["revocations requested"] == options.awards * options.revocation_share, report
    assert result.reconciliation.ok, report
