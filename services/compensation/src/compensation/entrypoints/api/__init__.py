"""The compensation HTTP API: one module per capability, each a module-level router (routes
stay thin: check who calls, call one service-layer function, shape the answer; refusals become
problem details in one handler, installed by the platform)."""

from fastapi import APIRouter

from compensation.entrypoints.api import lanes, payroll, rules, stipends

routers: list[APIRouter] = [rules.router, stipends.router, payroll.router, lanes.router]
