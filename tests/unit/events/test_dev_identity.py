"""The development identity provider (``python -m mc_platform.dev_identity``), as the services
see it: a real process on a loopback port, over HTTP and HTTPS, whose tokens the services'
:class:`~mc_platform.auth.TokenVerifier` accepts with the JWKS it serves. Needs no ``mc-dev``."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mc_platform.auth import AuthError, AuthSettings, Role, TokenVerifier
from mc_platform.dev_identity import main, self_signed_tls

ISSUER_PATH = "idp.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(tmp_path: Path, port: int, scheme: str = "http") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "MC_", "SSL_"))}
    env.update(
        IDP_HOST="127.0.0.1",
        IDP_PORT=str(port),
        IDP_KEYS_DIR=str(tmp_path / "keys"),
        IDP_ISSUER=f"{scheme}://127.0.0.1:{port}",
    )
    return env


@contextmanager
def provider(env: Mapping[str, str], *, verify: ssl.SSLContext | bool = False) -> Iterator[str]:
    """The provider running in a child process; yields its base URL once it answers."""
    base = env["IDP_ISSUER"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mc_platform.dev_identity", "serve"],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/jwks.json", verify=verify, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"the provider did not start: {output[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_over_http_its_tokens_verify_with_the_jwks_it_serves(tmp_path):
    port = free_port()
    with provider(base_env(tmp_path, port)) as base:
        discovery = httpx.get(f"{base}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == base
        assert discovery["jwks_uri"] == f"{base}/jwks.json"
        assert discovery["token_endpoint"] == f"{base}/token"

        jwks = httpx.get(discovery["jwks_uri"]).json()
        assert [key["kty"] for key in jwks["keys"]] == ["RSA"]
        assert all("d" not in key for key in jwks["keys"])  # public halves only

        minted = httpx.post(
            discovery["token_endpoint"],
            json={"sub": "teacher-1", "roles": ["educator"], "educator_id": "E-1", "scope": "x y"},
        )
        assert minted.status_code == 200, minted.text
        body = minted.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600

        verifier = TokenVerifier(
            AuthSettings(issuer=base, audience="mc-backbone", jwks_url=discovery["jwks_uri"])
        )
        principal = verifier.verify(body["access_token"])
        assert principal.subject == "teacher-1"
        assert principal.roles == {Role.EDUCATOR}
        assert principal.educator_id == "E-1"
        assert principal.scopes == {"x", "y"}

        # A form works too, with roles comma-separated or repeated.
        form = httpx.post(
            f"{base}/token",
            data={"sub": "admin-1", "roles": "state_admin,district_admin", "district_id": "D-1"},
        ).json()
        admin = verifier.verify(form["access_token"])
        assert admin.roles == {Role.STATE_ADMIN, Role.DISTRICT_ADMIN}
        assert admin.district_id == "D-1"

        assert httpx.post(f"{base}/token", json={"roles": ["educator"]}).status_code == 422

        # Another issuer's verifier refuses it: the issuer is the one configured.
        stranger = TokenVerifier(
            AuthSettings(issuer="https://elsewhere", jwks_url=discovery["jwks_uri"])
        )
        with pytest.raises(AuthError):
            stranger.verify(body["access_token"])


def test_the_token_command_mints_with_the_same_keys(tmp_path, capsys):
    port = free_port()
    env = base_env(tmp_path, port)
    with provider(env) as base:
        assert (
            main(["token", "--role", "assessor", "--sub", "a-1", "--assessor-id", "A-1"], env) == 0
        )
        token = capsys.readouterr().out.strip()
        verifier = TokenVerifier(AuthSettings(issuer=base, jwks_url=f"{base}/jwks.json"))
        principal = verifier.verify(token)
        assert principal.roles == {Role.ASSESSOR}
        assert principal.assessor_id == "A-1"


def test_it_refuses_production_mode_and_missing_settings(tmp_path, capsys):
    env = {**base_env(tmp_path, free_port()), "MC_ENVIRONMENT": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "mc_platform.dev_identity", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MC_ENVIRONMENT=production" in result.stderr
    assert main(["token", "--role", "educator"], env) == 2
    del env["MC_ENVIRONMENT"], env["IDP_ISSUER"]
    assert main(["token", "--role", "educator"], env) == 2
    assert "IDP_ISSUER" in capsys.readouterr().err


def test_it_imports_nothing_outside_the_service_image():
    code = (
        "import sys, mc_platform.dev_identity\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'psutil', 'typer', 'sqlalchemy', 'aiokafka', 'asyncpg'} "
        "or m.startswith('mc_devstack.devinfra'))\n"
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_over_https_a_verifier_trusting_the_ca_through_ssl_cert_file_accepts_its_tokens(
    tmp_path,
):
    ca, cert, key = self_signed_tls(tmp_path / "tls", ["127.0.0.1", "localhost"])
    port = free_port()
    env = {
        **base_env(tmp_path, port, scheme="https"),
        "IDP_TLS_CERTFILE": str(cert),
        "IDP_TLS_KEYFILE": str(key),
    }
    with provider(env, verify=ssl.create_default_context(cafile=ca)) as base:
        assert base.startswith("https://")
        token = httpx.post(
            f"{base}/token",
            json={"sub": "p-1", "roles": ["payroll_system"]},
            verify=ssl.create_default_context(cafile=ca),
        ).json()["access_token"]
        # PyJWKClient fetches with urllib's default context, which trusts SSL_CERT_FILE
        # (read when a context is made). The verifier runs in a child process so the
        # variable is there as in a deployment, and leaks into no other test.
        check = textwrap.dedent(
            f"""
            import json, sys
            from mc_platform.auth import AuthSettings, TokenVerifier
            settings = AuthSettings(issuer={base!r}, jwks_url={base + "/jwks.json"!r})
            verifier = TokenVerifier(settings)
            principal = verifier.verify(sys.stdin.read().strip())
            print(json.dumps({{"sub": principal.subject, "roles": sorted(principal.roles)}}))
            """
        )
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_")}
        trusted = subprocess.run(
            [sys.executable, "-c", check],
            input=token,
            env={**child_env, "SSL_CERT_FILE": str(ca)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert trusted.returncode == 0, trusted.stderr[-2000:]
        assert json.loads(trusted.stdout) == {"sub": "p-1", "roles": ["payroll_system"]}

        # Without the CA the same check fails: the certificate really is checked.
        untrusted = subprocess.run(
            [sys.executable, "-c", check],
            input=token,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert untrusted.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr or "AuthError" in untrusted.stderr
