"""Adapters: the compensation service's tables and repositories (they query, never commit)."""
