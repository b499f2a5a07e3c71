"""The registry domain: aggregates, rules and domain events in plain Python (no I/O)."""
