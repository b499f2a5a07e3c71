"""The service platform every micro-credential service runs on: the process model, settings,
the unit of work, refusals and problem details, auth, limits, audit, migrations."""
