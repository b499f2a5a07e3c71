"""Request limits every service applies: body size (413) and per-caller rate (429).

A pure ASGI middleware, so it sees bodies as they stream: a declared ``Content-Length`` over the
limit is refused before anything is read, and a body without one is counted while the app reads
it and cut off at the limit. Routes that take larger uploads (evidence files, roster imports) get
their own limit by path prefix. Callers are told apart by their bearer token (hashed) or, without
one, by their address; each has a token bucket (``rate`` per second, bursts up to ``burst``).
Probes and scrapers (/healthz, /readyz, /metrics) are never limited.

:func:`install_input_guards` covers what no Pydantic model states: a value PostgreSQL cannot
store (text with a NUL character, a number beyond its column's range, a date beyond what it
keeps) is the caller's error, answered 422 (the transaction rolled back: nothing changed), not
a 500. Every refusal here is a problem (:mod:`mc_platform.problems`): ``reason`` is
``body_too_large``, ``rate_limited`` or ``unstorable_value``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import DBAPIError

from mc_platform.problems import PROBLEM_MEDIA_TYPE, instance_of, problem, problem_response

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass
class TokenBuckets:
    """One bucket per caller; idle callers are forgotten so memory stays bounded."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    idle_seconds: float = 300.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _last_sweep: float = 0.0

    def take(self, key: str) -> float:
        """0 if the caller may go ahead now, else the seconds until it may."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        if now - self._last_sweep > self.idle_seconds:
            self._sweep(now)
        return wait

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key, (_, last) in list(self._buckets.items()):
            if now - last > self.idle_seconds:
                del self._buckets[key]


class _BodyTooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware enforcing body size and request rate."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        rate_per_second: float,
        burst: int,
        body_limits: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Longest prefix first, so /roster/imports/preview beats /roster.
        self.body_limits = sorted((body_limits or {}).items(), key=lambda kv: -len(kv[0]))
        self.buckets = TokenBuckets(rate=rate_per_second, burst=burst, clock=clock)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.body_limits:
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        wait = self.buckets.take(_caller(scope, headers))
        if wait > 0:
            await _reply(
                send,
                429,
                "rate limit exceeded: slow down",
                {"retry-after": str(max(1, math.ceil(wait)))},
            )
            return
        limit = self.limit_for(scope["path"])
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, f"request body over the limit of {limit} bytes")
            return

        received = 0
        started = exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app makes of a cut-off body (FastAPI: 400) is replaced
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _reply(send, 413, f"request body over the limit of {limit} bytes")


def _caller(scope: Scope, headers: Mapping[str, str]) -> str:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(authorization[7:].encode()).hexdigest()[:32]
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


async def _reply(
    send: Send, status: int, detail: str, extra: Mapping[str, str] | None = None
) -> None:
    body = json.dumps(problem(status, detail, reason=_LIMIT_REASONS.get(status))).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_LIMIT_REASONS = {413: "body_too_large", 429: "rate_limited"}

_DATA_EXCEPTIONS = {
    "22021": "text must not contain NUL characters or invalid UTF-8",
    "22P05": "text must not contain NUL characters",
    "22003": "a number is out of range",
    "22008": "a date or time is out of range",
}
"""PostgreSQL SQLSTATEs of class 22 ("data exception") and what to tell the caller."""


def install_input_guards(app: FastAPI) -> None:
    """Answer values the database refuses with 422 (a problem naming what was wrong)."""
    app.add_exception_handler(DBAPIError, _unstorable_value)


async def _unstorable_value(request: Request, exc: Exception) -> Response:
    """A class-22 error came from a value of the request (every other one is a fault: 500)."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if not isinstance(code, str) or not code.startswith("22"):
        raise exc
    message = _DATA_EXCEPTIONS.get(code, "a value cannot be stored")
    return problem_response(
        problem(
            422,
            message,
            reason="unstorable_value",
            instance=instance_of(request),
            errors=[{"loc": ["request"], "msg": message, "type": "unstorable_value"}],
        )
    )
