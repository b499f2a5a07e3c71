"""Alembic, the same way for every service: one migrations folder per service, run async.

A service's ``migrations/env.py`` is two lines::

    from mc_platform.migrations import run_env
    from <service>.adapters.tables import metadata
    run_env(metadata)

and its first revision calls :func:`mc_events.storage.create_backbone_schema`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection

from mc_events.db import async_url, create_engine
from mc_events.storage import BACKBONE_METADATA


def config(migrations_dir: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(config(migrations_dir, database_url), revision)


def run_env(target_metadata: sa.MetaData) -> None:
    """Body of every service's ``env.py`` (online mode, asyncpg)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set: run migrations through `migrate`")
    metadata = [target_metadata, BACKBONE_METADATA]

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            # Two replicas starting at once must not migrate concurrently.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7262100)"))
            context.run_migrations()

    async def online() -> None:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
                await connection.commit()
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(online())
