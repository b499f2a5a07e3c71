"""Fixtures shared by every test folder: real infrastructure (``infra``), fresh databases and
unique names, from mc_events.testing."""

pytest_plugins = ["mc_events.testing"]
