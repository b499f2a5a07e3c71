"""The registry HTTP API (routes stay thin: validate, call a handler, map errors)."""

from fastapi import APIRouter

from registry.entrypoints.api import catalog, credentials
from registry.entrypoints.api.deps import ApiContext


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter()
    router.include_router(catalog.router(ctx))
    router.include_router(credentials.router(ctx))
    return router
