"""The enrollment domain: aggregates, rules and domain events in plain Python (no I/O)."""
