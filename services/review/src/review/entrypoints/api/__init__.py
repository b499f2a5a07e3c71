"""The review HTTP API: a router per capability, collected (routes stay thin: validate the
request, call one service-layer function, shape its answer; refusals answer themselves)."""

from fastapi import APIRouter

from review.entrypoints.api import assessors, measures, misconduct, reviews, scoring

router = APIRouter()
router.include_router(assessors.router)
router.include_router(reviews.router)
router.include_router(scoring.router)
router.include_router(misconduct.router)
router.include_router(measures.router)
