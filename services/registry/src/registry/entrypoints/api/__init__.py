"""The registry HTTP API: one route module per capability (routes stay thin: validate,
authorise, call one service-layer function)."""

from fastapi import APIRouter

from registry.entrypoints.api import (
    catalog,
    credentials,
    district_feed,
    licensure,
    ob_api,
    portability,
)

ROUTERS: tuple[APIRouter, ...] = (
    catalog.router,
    credentials.router,
    licensure.router,
    portability.router,
    district_feed.router,
    ob_api.router,
)
"""Every router of the registry, as the composition root mounts them."""
