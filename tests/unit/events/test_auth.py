"""Bearer tokens: what is accepted, and the attacks that must each end in 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI

from mc_platform.auth import (
    CurrentPrincipal,
    DevIssuer,
    Principal,
    Role,
    TokenVerifier,
    require,
)


@pytest.fixture
def issuer(tmp_path) -> DevIssuer:
    return DevIssuer(tmp_path / "auth")


@pytest.fixture
def app(issuer) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(issuer.settings())

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, object]:
        return {"sub": principal.subject, "roles": sorted(principal.roles)}

    @app.get("/admin")
    async def admin(
        principal: Annotated[Principal, Depends(require(Role.STATE_ADMIN))],
    ) -> dict[str, str]:
        return {"sub": principal.subject}

    return app


async def call(app: FastAPI, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(issuer: DevIssuer, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "TX-1",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "roles": ["educator"],
        **overrides,
    }


def kid_of(issuer: DevIssuer) -> str:
    return json.loads(issuer.jwks_path.read_text())["keys"][-1]["kid"]


async def test_a_valid_token_identifies_the_caller_with_roles_and_ids(app, issuer):
    token = issuer.mint(
        "TX-1", [Role.EDUCATOR], educator_id="TX-1", district_id="D-7", scope="credential.readonly"
    )
    response = await call(app, "/me", token)
    assert response.status_code == 200
    assert response.json() == {"sub": "TX-1", "roles": ["educator"]}
    principal = TokenVerifier(issuer.settings()).verify(token)
    assert principal.educator_id == "TX-1"
    assert principal.district_id == "D-7"
    assert principal.scopes == {"credential.readonly"}


async def test_no_token_is_401_with_a_bearer_challenge(app):
    response = await call(app, "/me", None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_valid_token_without_the_role_is_403(app, issuer):
    response = await call(app, "/admin", issuer.mint("TX-1", [Role.EDUCATOR]))
    assert response.status_code == 403
    assert "state_admin" in response.json()["detail"]


def unsigned(issuer: DevIssuer) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid_of(issuer)}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims(issuer)).encode())}."


def hs256_with_the_public_key(issuer: DevIssuer) -> str:
    key_path = sorted(issuer.directory.glob("*.pem"))[-1]
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": kid_of(issuer)}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims(issuer)).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def embedded_jwk(issuer: DevIssuer) -> str:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    return jwt.encode(
        claims(issuer), attacker, algorithm="RS256", headers={"kid": kid_of(issuer), "jwk": jwk}
    )


def signed_by_a_stranger(issuer: DevIssuer) -> str:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(issuer), attacker, algorithm="RS256", headers={"kid": kid_of(issuer)})


def with_claims(**overrides: object):
    def make(issuer: DevIssuer) -> str:
        key_path = sorted(issuer.directory.glob("*.pem"))[-1]
        private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return jwt.encode(
            claims(issuer, **overrides), private, algorithm="RS256", headers={"kid": key_path.stem}
        )

    return make


def unknown_kid(issuer: DevIssuer) -> str:
    key_path = sorted(issuer.directory.glob("*.pem"))[-1]
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return jwt.encode(claims(issuer), private, algorithm="RS256", headers={"kid": "no-such-key"})


ATTACKS = {
    "alg none": unsigned,
    "HS256 signed with the public key": hs256_with_the_public_key,
    "embedded jwk header": embedded_jwk,
    "signed by a key not in the JWKS": signed_by_a_stranger,
    "wrong audience": with_claims(aud="another-system"),
    "wrong issuer": with_claims(iss="https://evil.example"),
    "expired": with_claims(exp=int(time.time()) - 3600),
    "not yet valid": with_claims(nbf=int(time.time()) + 3600),
    "unknown kid": unknown_kid,
    "no subject": with_claims(sub=None),
    "garbage": lambda issuer: "not.a.jwt",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_attack_token_is_refused_with_401(app, issuer, attack):
    response = await call(app, "/me", ATTACKS[attack](issuer))
    assert response.status_code == 401, response.text


async def test_a_key_rotated_in_at_the_issuer_is_picked_up_without_a_restart(app, issuer):
    assert (await call(app, "/me", issuer.mint("TX-1", [Role.EDUCATOR]))).status_code == 200
    new_kid = issuer.rotate()  # the verifier has the old JWKS cached
    token = issuer.mint("TX-1", [Role.EDUCATOR], kid=new_kid)
    assert (await call(app, "/me", token)).status_code == 200
