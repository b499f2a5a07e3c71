"""Errors the command handlers raise besides the domain's own (mapped to HTTP by the API)."""

from registry.domain.qa import CatalogError


class NotFound(CatalogError):
    """No such entry (or not one the caller may see)."""


class AlreadyExists(CatalogError):
    """The id is taken."""


class UnknownIssuer(CatalogError):
    """The caller's issuer id is not a provider registered with the state."""
