"""Adapters: the registry service's tables and repositories (they query, never commit)."""
