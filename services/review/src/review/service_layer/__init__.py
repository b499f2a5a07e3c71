"""Command handlers and the unit of work of the review service."""
