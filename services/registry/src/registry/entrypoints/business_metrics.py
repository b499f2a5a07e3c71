"""The registry's business gauges, read from its database by the ``business-metrics`` worker
(see :mod:`mc_platform.db_gauges`): the same figures on every replica, whatever restarted.

* ``registry_credentials_issued``: credentials issued, all time (a reissue is a new one);
* ``registry_credentials{status}``: credentials by current status (active, suspended,
  revoked, superseded);
* ``registry_renewal_credits{kind}``: renewal credits in the ledger, all time: ``posted``
  (awards, imports, reinstatements) and ``reversed`` (revocations, suspensions, reissues), both
  as positive amounts in the state's renewal unit.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Gauge

from mc_platform import db_gauges
from mc_platform.service import ServiceRuntime, Worker
from registry.adapters.figures import by_status_query, issued_query, renewal_credits_query
from registry.domain.awards import CredentialStatus

NAME = "registry"
REFRESH_SECONDS = 60.0


def define(registry: CollectorRegistry) -> Sequence[db_gauges.DbGauge]:
    issued = Gauge(
        "registry_credentials_issued",
        "Credentials issued, all time (a reissue counts as a new credential)",
        registry=registry,
    )
    by_status = Gauge(
        "registry_credentials",
        "Credentials by current status (active, suspended, revoked, superseded)",
        ["status"],
        registry=registry,
    )
    renewal = Gauge(
        "registry_renewal_credits",
        "Renewal credits in the ledger by kind (posted, reversed), all time",
        ["kind"],
        registry=registry,
    )
    return [
        db_gauges.DbGauge(issued, issued_query()),
        db_gauges.DbGauge(
            by_status, by_status_query(), always=[(s.value,) for s in CredentialStatus]
        ),
        db_gauges.DbGauge(renewal, renewal_credits_query(), always=[("posted",), ("reversed",)]),
    ]


async def refresh(runtime: ServiceRuntime) -> db_gauges.DbGauges:
    return await db_gauges.refresh(runtime, NAME, define)


def worker(interval_seconds: float = REFRESH_SECONDS) -> Worker:
    return db_gauges.worker(NAME, define, interval_seconds)
