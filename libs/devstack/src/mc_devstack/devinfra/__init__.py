"""Local infrastructure for ``make run`` and the tests: PostgreSQL and a Kafka-protocol broker,
from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``), from Docker
(testcontainers) or embedded (wheels), first match wins, per component.

Public API::

    from mc_devstack.devinfra import Infra, start_infra, infra_running, resolve_plan

    with infra_running(run_dir) as infra:
        url = infra.create_database("registry")   # postgresql://postgres@127.0.0.1:P/registry
        infra.kafka_bootstrap, infra.kafka_idempotence

Nothing here is needed in production images (the development stack, libs/devstack).
"""

from mc_devstack.devinfra.common import (
    DEFAULT_KAFKA_PORT,
    DEFAULT_PG_PORT,
    InfraError,
    dev_run_dir,
    find_repo_root,
    free_port,
    process_run_dir,
    run_root,
)
from mc_devstack.devinfra.infra import Infra, InfraHandle, InfraKind, infra_running, start_infra
from mc_devstack.devinfra.postgres import (
    create_database,
    create_database_async,
    database_url,
    drop_database,
    drop_database_async,
)
from mc_devstack.devinfra.resolve import Kind, Plan, docker_available, resolve_plan
from mc_devstack.devinfra.supervisor import DEFAULT_PORTS, ServiceSpec, Supervisor, default_services

__all__ = [
    "DEFAULT_KAFKA_PORT",
    "DEFAULT_PG_PORT",
    "DEFAULT_PORTS",
    "Infra",
    "InfraError",
    "InfraHandle",
    "InfraKind",
    "Kind",
    "Plan",
    "ServiceSpec",
    "Supervisor",
    "create_database",
    "create_database_async",
    "database_url",
    "default_services",
    "dev_run_dir",
    "docker_available",
    "drop_database",
    "drop_database_async",
    "find_repo_root",
    "free_port",
    "infra_running",
    "process_run_dir",
    "resolve_plan",
    "run_root",
    "start_infra",
]
