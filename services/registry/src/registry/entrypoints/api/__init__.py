"""The registry HTTP API (routes stay thin: validate, call a handler, map errors)."""

from fastapi import APIRouter

from registry.entrypoints.api import (
    catalog,
    credentials,
    district_feed,
    licensure,
    ob_api,
    signing,
)
from registry.entrypoints.api.deps import ApiContext


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()
    router.include_router(catalog.router(ctx))
    router.include_router(credentials.router(ctx))
    router.include_router(signing.router(ctx))
    router.include_router(licensure.router(ctx))
    router.include_router(district_feed.router())
    router.include_router(ob_api.router(ctx))
    return router
