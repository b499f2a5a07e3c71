"""The enrollment HTTP API, one module per capability: the roster, enrollments (and the catalog
they enroll from), evidence, operations. Routes stay thin: authorize, call one service-layer
function, shape the answer; refusals become problem details in the platform's one handler."""

from fastapi import APIRouter

from enrollment.entrypoints.api import enrollments, evidence, operations, roster

router = APIRouter()
router.include_router(roster.router)
router.include_router(enrollments.router)
router.include_router(evidence.router)
router.include_router(evidence.uploads_router)
router.include_router(evidence.artifacts_router)
router.include_router(operations.router)
