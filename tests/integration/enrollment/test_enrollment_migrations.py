"""The enrollment migrations apply, roll back to the backbone (the released-assignments and
misconduct revision included), and apply again."""

from __future__ import annotations

import asyncio

from alembic import command

from enrollment.bootstrap import MIGRATIONS
from mc_devstack.testing import fresh_database_async
from mc_platform import migrations


async def test_enrollment_migrations_downgrade_and_upgrade_again(infra):
    url = await fresh_database_async(infra, "enrollment_migrations")

    def round_trip() -> None:
        migrations.upgrade(MIGRATIONS, url)
        command.downgrade(migrations.config(MIGRATIONS, url), "0001")
        migrations.upgrade(MIGRATIONS, url)

    await asyncio.to_thread(round_trip)
