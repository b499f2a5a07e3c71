"""Adapters: the enrollment service's tables and repositories (they query, never commit)."""
