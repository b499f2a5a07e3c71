"""The registry HTTP API (routes stay thin: validate, call a handler, map errors)."""

from fastapi import APIRouter

router = APIRouter()
