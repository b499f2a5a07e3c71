"""A development identity provider over HTTP(S), for docker compose and rehearsals: the
:class:`~mc_platform.auth.DevIssuer` (RSA keys in a folder) behind an OIDC discovery document, a
JWKS endpoint and a token endpoint that mints a token for whoever asks. Never for production:
it refuses to start when ``MC_ENVIRONMENT=production``.

    python -m mc_platform.dev_identity serve     # IDP_KEYS_DIR and IDP_ISSUER required
    python -m mc_platform.dev_identity token --role state_admin --sub admin-1

Environment: ``IDP_HOST`` (127.0.0.1), ``IDP_PORT`` (8080), ``IDP_KEYS_DIR`` (the keys; made
with a first key when missing), ``IDP_ISSUER`` (the ``iss`` of the tokens, also the base of the
URLs in the discovery document: the address the services reach this server at, e.g.
``http://idp:8080``), ``IDP_AUDIENCE`` (mc-backbone), ``IDP_TLS_CERTFILE`` /
``IDP_TLS_KEYFILE`` (both: serve https).

Routes: ``GET /.well-known/openid-configuration``, ``GET /jwks.json``, ``POST /token`` (JSON
or form: ``sub``, ``roles`` (a list, or comma-separated), ``educator_id``, ``district_id``,
``assessor_id``, ``issuer_id``, ``scope``, ``expires_in``) answering ``{"access_token",
"token_type", "expires_in"}``. The services point ``AUTH_JWKS_URL`` at ``<issuer>/jwks.json``.

Only the service image's own dependencies are imported (FastAPI, uvicorn, PyJWT, cryptography).
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from mc_platform.auth import DEV_AUDIENCE, DevIssuer

CLAIMS = ("educator_id", "district_id", "assessor_id", "issuer_id", "scope")
"""Optional claims ``POST /token`` copies into the token."""

MAX_EXPIRES_IN = 24 * 3600


class RefusedError(Exception):
    """The provider must not run here (production mode, missing settings); the message says why."""


def issuer_from_env(env: Mapping[str, str]) -> DevIssuer:
    """The :class:`DevIssuer` the ``IDP_*`` variables describe."""
    if env.get("MC_ENVIRONMENT", "development").strip().lower() == "production":
        raise RefusedError(
            "mc_platform.dev_identity refuses to run with MC_ENVIRONMENT=production: anyone "
            "reaching it can mint tokens for any role (use the real identity provider)"
        )
    missing = [name for name in ("IDP_KEYS_DIR", "IDP_ISSUER") if not env.get(name)]
    if missing:
        raise RefusedError(f"set {' and '.join(missing)}")
    return DevIssuer(
        Path(env["IDP_KEYS_DIR"]),
        issuer=env["IDP_ISSUER"].rstrip("/"),
        audience=env.get("IDP_AUDIENCE") or DEV_AUDIENCE,
    )


def create_app(issuer: DevIssuer) -> FastAPI:
    """The provider's ASGI app."""
    app = FastAPI(title="Development identity provider", docs_url=None, redoc_url=None)

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer.issuer,
            "jwks_uri": f"{issuer.issuer}/jwks.json",
            "token_endpoint": f"{issuer.issuer}/token",
            "grant_types_supported": ["urn:mc:dev:any-principal"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }

    @app.get("/jwks.json")
    async def jwks() -> JSONResponse:
        # Read per request: a `rotate` by another process shows at once.
        return JSONResponse(
            json.loads(issuer.jwks_path.read_text()), headers={"Cache-Control": "max-age=60"}
        )

    @app.post("/token")
    async def token(request: Request) -> dict[str, Any]:
        fields = await _request_fields(request)
        subject = fields.get("sub")
        if not isinstance(subject, str) or not subject:
            raise HTTPException(422, detail="sub is required")
        try:
            expires_in = int(fields.get("expires_in", 3600))
        except (TypeError, ValueError) as exc:
            raise HTTPException(422, detail="expires_in must be a number of seconds") from exc
        if not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise HTTPException(422, detail=f"expires_in must be 1..{MAX_EXPIRES_IN}")
        claims: dict[str, Any] = {
            name: str(fields[name]) for name in CLAIMS if fields.get(name) is not None
        }
        access_token = issuer.mint(
            subject, _roles(fields.get("roles")), expires_in=expires_in, **claims
        )
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}

    return app


async def _request_fields(request: Request) -> dict[str, Any]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            fields = json.loads(body or b"{}")
        except ValueError as exc:
            raise HTTPException(400, detail="the body is not JSON") from exc
        if not isinstance(fields, dict):
            raise HTTPException(400, detail="the body must be a JSON object")
        return fields
    # A form (application/x-www-form-urlencoded), parsed here: no multipart dependency.
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=False)
    form: dict[str, Any] = {name: values[-1] for name, values in parsed.items()}
    if "roles" in parsed:
        form["roles"] = parsed["roles"]
    return form


def _roles(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [role.strip() for item in items for role in str(item).split(",") if role.strip()]


def self_signed_tls(directory: Path, hosts: Sequence[str]) -> tuple[Path, Path, Path]:
    """A throwaway certificate authority and a server certificate it signed for ``hosts``
    (IP addresses or DNS names), written to ``directory`` as PEM: ``(ca.crt, server.crt,
    server.key)``. For tests and rehearsals; trust the CA with ``SSL_CERT_FILE``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mc development CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = directory / "ca.crt"
    cert_path = directory / "server.crt"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


def serve(env: Mapping[str, str]) -> None:
    import uvicorn

    issuer = issuer_from_env(env)
    certfile, keyfile = env.get("IDP_TLS_CERTFILE"), env.get("IDP_TLS_KEYFILE")
    if bool(certfile) != bool(keyfile):
        raise RefusedError("set both IDP_TLS_CERTFILE and IDP_TLS_KEYFILE, or neither")
    uvicorn.run(
        create_app(issuer),
        host=env.get("IDP_HOST") or "127.0.0.1",
        port=int(env.get("IDP_PORT") or 8080),
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
        log_level="info",
        access_log=False,
    )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="python -m mc_platform.dev_identity",
        description="Development identity provider (never for production).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve discovery, JWKS and /token (IDP_* variables)")
    token = commands.add_parser("token", help="print a token minted with IDP_KEYS_DIR's key")
    token.add_argument("--sub", default="dev-user", help="subject (default: dev-user)")
    token.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    for claim in CLAIMS:
        token.add_argument(f"--{claim.replace('_', '-')}", dest=claim)
    token.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            serve(env)
        else:
            issuer = issuer_from_env(env)
            claims: dict[str, Any] = {
                c: getattr(args, c) for c in CLAIMS if getattr(args, c) is not None
            }
            print(issuer.mint(args.sub, _roles(args.role), expires_in=args.expires_in, **claims))
    except RefusedError as exc:
        print(f"dev_identity: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
