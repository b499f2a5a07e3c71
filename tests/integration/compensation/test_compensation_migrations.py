"""The compensation migrations apply, roll back to the backbone, and apply again."""

from __future__ import annotations

import asyncio

from alembic import command

from compensation.bootstrap import MIGRATIONS
from mc_devstack.testing import fresh_database_async
from mc_platform import migrations


async def test_migrations_downgrade_and_upgrade_again(infra):
    url = await fresh_database_async(infra, "compensation_migrations")

    def round_trip() -> None:
        migrations.upgrade(MIGRATIONS, url)
        command.downgrade(migrations.config(MIGRATIONS, url), "0001")
        migrations.upgrade(MIGRATIONS, url)

    await asyncio.to_thread(round_trip)
