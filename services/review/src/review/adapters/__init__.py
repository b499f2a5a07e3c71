"""Adapters: the review service's tables and repositories (they query, never commit)."""
