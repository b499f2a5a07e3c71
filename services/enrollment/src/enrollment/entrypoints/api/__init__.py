"""The enrollment HTTP API (routes stay thin: validate, call a handler, map errors)."""

from fastapi import APIRouter

from enrollment.entrypoints.api import enrollments, evidence, operations, roster

router = APIRouter()
router.include_router(roster.router)
router.include_router(enrollments.router)
router.include_router(evidence.router)
router.include_router(evidence.uploads_router)
router.include_router(evidence.artifacts_router)
router.include_router(operations.router)
