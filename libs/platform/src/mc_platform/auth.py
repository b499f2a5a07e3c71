"""Who is calling: OIDC/JWT bearer tokens, the roles of the system, and a development issuer.

Every non-public endpoint takes a bearer token signed with one pinned asymmetric algorithm
(RS256 by default; an ``alg`` in the token never chooses it), checks ``iss``, ``aud``, ``exp``
and ``nbf``, and finds the key by ``kid`` in the issuer's JWKS: cached, fetched again when an
unknown ``kid`` shows up (key rotation without a restart). Keys named inside the token
(``jwk``, ``jku``, ``x5u``, ``x5c`` headers) are refused: the issuer's JWKS is the only source.

Routes declare what they need with :func:`require` (roles) and then apply object-level rules
themselves (an educator sees only their own enrollments, a district admin only their district).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ISSUER = "https://dev-issuer.mc.invalid"
DEV_AUDIENCE = "mc-backbone"


class Role(StrEnum):
    """The roles a token can carry (claim ``roles``)."""

    EDUCATOR = "educator"
    ASSESSOR = "assessor"
    APPROVER = "approver"
    ISSUER = "issuer"
    DISTRICT_ADMIN = "district_admin"
    STATE_ADMIN = "state_admin"
    PAYROLL_SYSTEM = "payroll_system"
    LICENSURE_SYSTEM = "licensure_system"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from the token's claims."""

    subject: str
    roles: frozenset[Role]
    educator_id: str | None = None
    """State educator id (claim ``educator_id``) for educators."""
    assessor_id: str | None = None
    district_id: str | None = None
    """The district a district admin or payroll system acts for."""
    issuer_id: str | None = None
    """The provider organisation an issuer acts for."""
    scopes: frozenset[str] = field(default_factory=frozenset)
    """OAuth scopes (claim ``scope``), e.g. the OB 3.0 ``credential.readonly``."""

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


class AuthSettings(BaseSettings):
    """Token verification, from ``AUTH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    jwks_url: str | None = None
    """``https://idp.example/.well-known/jwks.json``, or ``file:///...`` for the dev issuer."""
    algorithm: Literal["RS256", "ES256", "EdDSA"] = "RS256"
    leeway_seconds: int = 30
    jwks_cache_seconds: int = 300


class AuthError(Exception):
    """The token is missing, malformed, or fails a check; the message says which."""


_FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c")


class TokenVerifier:
    """Verifies bearer tokens against the issuer's JWKS."""

    def __init__(self, settings: AuthSettings) -> None:
        if not settings.jwks_url:
            raise ValueError("AUTH_JWKS_URL is not set: no key to verify tokens with")
        self.settings = settings
        self._jwks: jwt.PyJWKClient | _FileJwks
        if settings.jwks_url.startswith("file://"):
            self._jwks = _FileJwks(Path(urllib.parse.urlparse(settings.jwks_url).path))
        else:
            self._jwks = jwt.PyJWKClient(
                settings.jwks_url, cache_keys=True, lifespan=settings.jwks_cache_seconds, timeout=5
            )

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"malformed token: {exc}") from exc
        if header.get("alg") != self.settings.algorithm:
            raise AuthError(f"token algorithm must be {self.settings.algorithm}")
        if any(name in header for name in _FORBIDDEN_HEADERS):
            raise AuthError("keys embedded in or referenced by the token are not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token has no key id (kid)")
        try:
            key = self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"unknown signing key {kid!r}") from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[self.settings.algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True},
            )
        except jwt.InvalidTokenError as exc:
            raise AuthError(str(exc)) from exc
        return principal_from_claims(claims)


class _FileJwks:
    """A JWKS file (the dev issuer's), re-read when a token names a key it does not have."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys: dict[str, jwt.PyJWK] = {}

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            try:
                jwk_set = jwt.PyJWKSet.from_json(self._path.read_text())
            except (OSError, jwt.PyJWKSetError) as exc:
                raise jwt.PyJWKClientError(f"cannot read {self._path}: {exc}") from exc
            self._keys = {key.key_id: key for key in jwk_set.keys if key.key_id}
        if kid not in self._keys:
            raise jwt.PyJWKClientError(f"no key {kid!r} in {self._path}")
        return self._keys[kid]


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_roles = claims.get("roles", [])
    if not isinstance(raw_roles, list):
        raise AuthError("claim 'roles' must be a list")
    roles = frozenset(Role(r) for r in raw_roles if r in Role._value2member_map_)
    scope = claims.get("scope", "")
    return Principal(
        subject=str(claims["sub"]),
        roles=roles,
        educator_id=_opt_str(claims.get("educator_id")),
        assessor_id=_opt_str(claims.get("assessor_id")),
        district_id=_opt_str(claims.get("district_id")),
        issuer_id=_opt_str(claims.get("issuer_id")),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
    )


def _opt_str(value: Any) -> str | None:
    return str(value) if value is not None else None


_bearer = HTTPBearer(auto_error=False, description="OIDC access token (JWT)")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, or 401. The app's verifier is ``app.state.token_verifier``."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise _unauthorized("this service has no token issuer configured (AUTH_JWKS_URL)")
    try:
        # The JWKS may need fetching (blocking I/O, rare); verification itself is quick.
        return await run_in_threadpool(verifier.verify, credentials.credentials)
    except AuthError as exc:
        raise _unauthorized(str(exc)) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: the caller, if they hold one of ``roles``; else 403."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            allowed = ", ".join(sorted(r.value for r in roles))
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"requires role: {allowed}")
        return principal

    return check


class DevIssuer:
    """A local identity provider for ``make run`` and tests: RSA keys on disk, a JWKS file,
    and tokens for any principal. Never for production (anyone with the folder can mint)."""

    def __init__(
        self, directory: Path, *, issuer: str = DEV_ISSUER, audience: str = DEV_AUDIENCE
    ) -> None:
        self.directory = directory
        self.issuer = issuer
        self.audience = audience
        self._loaded: dict[Path, Any] = {}
        directory.mkdir(parents=True, exist_ok=True)
        if not self._keys():
            self.rotate()

    @property
    def jwks_path(self) -> Path:
        return self.directory / "jwks.json"

    @property
    def jwks_url(self) -> str:
        return self.jwks_path.resolve().as_uri()

    def settings(self) -> AuthSettings:
        return AuthSettings(issuer=self.issuer, audience=self.audience, jwks_url=self.jwks_url)

    def env(self) -> dict[str, str]:
        return {
            "AUTH_ISSUER": self.issuer,
            "AUTH_AUDIENCE": self.audience,
            "AUTH_JWKS_URL": self.jwks_url,
        }

    def _keys(self) -> list[Path]:
        return sorted(self.directory.glob("*.pem"), key=lambda p: p.stat().st_mtime)

    def rotate(self) -> str:
        """Add a new signing key (the newest signs); old keys stay in the JWKS. Returns its kid."""
        kid = f"dev-{uuid.uuid4().hex[:12]}"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.directory / f"{kid}.pem"
        path.write_bytes(pem)
        path.chmod(0o600)
        self._loaded[path] = key
        self._write_jwks()
        return kid

    def _write_jwks(self) -> None:
        keys = []
        for path in self._keys():
            private = self._private(path)
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            jwk.update(kid=path.stem, use="sig", alg="RS256")
            keys.append(jwk)
        tmp = self.jwks_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": keys}, indent=1))
        tmp.replace(self.jwks_path)

    def mint(
        self,
        subject: str,
        roles: Iterable[Role | str],
        *,
        expires_in: int = 3600,
        not_before: int | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token for ``subject`` with ``roles`` and any extra claims
        (``educator_id``, ``district_id``, ``scope``...)."""
        keys = self._keys()
        path = next(p for p in keys if p.stem == kid) if kid else keys[-1]
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": not_before if not_before is not None else now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "roles": [str(r) for r in roles],
            **claims,
        }
        return jwt.encode(
            payload, self._private(path), algorithm="RS256", headers={"kid": path.stem}
        )

    def _private(self, path: Path) -> Any:
        """The signing key, loaded once: loading checks the RSA key (tens of ms a time)."""
        if path not in self._loaded:
            self._loaded[path] = serialization.load_pem_private_key(
                path.read_bytes(), password=None
            )
        return self._loaded[path]
