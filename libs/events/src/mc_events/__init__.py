"""Shared event backbone for the micro-credential services."""
