"""The storage guard: a value the database refuses as data (SQLSTATE class 22) is the caller's
error, 422, a problem that names what was wrong and no SQL; any other database error stays a
server fault, 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from mc_platform.limits import install_input_guards


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def app_failing_with(sqlstate: str) -> FastAPI:
    app = FastAPI()
    install_input_guards(app)

    @app.post("/things")
    async def things(name: str) -> dict[str, str]:
        raise DBAPIError("INSERT INTO things ...", {}, PgError(sqlstate))

    return app


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("22021", "text must not contain NUL characters or invalid UTF-8"),
        ("22P05", "text must not contain NUL characters"),
        ("22003", "a number is out of range"),
        ("22008", "a date or time is out of range"),
        ("22007", "a value cannot be stored"),
    ],
)
async def test_a_data_exception_is_a_422_that_names_no_sql(sqlstate, message):
    transport = httpx.ASGITransport(app=app_failing_with(sqlstate))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/things", params={"name": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["reason"], body["detail"]) == (422, "unstorable_value", message)
    assert body["errors"] == [{"loc": ["request"], "msg": message, "type": "unstorable_value"}]
    assert "INSERT" not in response.text


@pytest.mark.parametrize("sqlstate", ["23505", "40001", "08006"])
async def test_any_other_database_error_stays_a_500(sqlstate):
    transport = httpx.ASGITransport(app=app_failing_with(sqlstate), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/things", params={"name": "x"})
    assert response.status_code == 500
