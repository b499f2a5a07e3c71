"""The review HTTP API (routes stay thin: validate, call a handler, map errors)."""

from fastapi import APIRouter

from review.entrypoints.api import assessors, measures, misconduct, reviews, scoring

router = APIRouter()
router.include_router(assessors.router)
router.include_router(reviews.router)
router.include_router(scoring.router)
router.include_router(misconduct.router)
router.include_router(measures.router)
