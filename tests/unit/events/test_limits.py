"""Request limits: bodies over the limit get 413 and reach nothing; callers over their rate get
429 with Retry-After; probes are never limited."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from mc_platform.limits import RequestLimits, TokenBuckets


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(clock: FakeClock, *, rate: float = 1.0, burst: int = 2) -> tuple[FastAPI, list[int]]:
    stored: list[int] = []
    app = FastAPI()

    @app.post("/notes")
    async def notes(request: Request) -> dict[str, int]:
        body = await request.body()
        stored.append(len(body))
        return {"stored": len(body)}

    @app.post("/uploads/evidence")
    async def upload(request: Request) -> dict[str, int]:
        body = await request.body()
        stored.append(len(body))
        return {"stored": len(body)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        RequestLimits,
        max_body_bytes=100,
        rate_per_second=rate,
        burst=burst,
        body_limits={"/uploads": 1000},
        clock=clock,
    )
    return app, stored


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_body_one_byte_over_the_limit_is_413_and_nothing_is_stored():
    app, stored = make_app(FakeClock(), burst=100)
    async with client(app) as c:
        assert (await c.post("/notes", content=b"x" * 100)).status_code == 200
        response = await c.post("/notes", content=b"x" * 101)
    assert response.status_code == 413
    assert "100 bytes" in response.json()["detail"]
    assert stored == [100]


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit():
    app, stored = make_app(FakeClock(), burst=100)

    async def chunks():
        for _ in range(5):
            yield b"x" * 30

    async with client(app) as c:
        response = await c.post("/notes", content=chunks())
    assert response.status_code == 413
    assert stored == []


async def test_upload_routes_have_their_own_larger_limit():
    app, stored = make_app(FakeClock(), burst=100)
    async with client(app) as c:
        assert (await c.post("/uploads/evidence", content=b"x" * 1000)).status_code == 200
        assert (await c.post("/uploads/evidence", content=b"x" * 1001)).status_code == 413
    assert stored == [1000]


async def test_a_caller_over_its_rate_gets_429_with_retry_after_while_others_go_on():
    clock = FakeClock()
    app, _ = make_app(clock, rate=1.0, burst=2)
    alice = {"Authorization": "Bearer token-of-alice"}
    bob = {"Authorization": "Bearer token-of-bob"}
    async with client(app) as c:
        assert [(await c.post("/notes", headers=alice)).status_code for _ in range(2)] == [200, 200]
        limited = await c.post("/notes", headers=alice)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        assert (await c.post("/notes", headers=bob)).status_code == 200
        clock.now += 1.0  # one token back
        assert (await c.post("/notes", headers=alice)).status_code == 200


async def test_probes_are_never_rate_limited():
    app, _ = make_app(FakeClock(), rate=1.0, burst=1)
    async with client(app) as c:
        assert {(await c.get("/healthz")).status_code for _ in range(20)} == {200}


def test_idle_callers_are_forgotten():
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=5, clock=clock, idle_seconds=10)
    for i in range(100):
        buckets.take(f"caller-{i}")
    clock.now += 60
    buckets.take("fresh")
    assert set(buckets._buckets) == {"fresh"}
