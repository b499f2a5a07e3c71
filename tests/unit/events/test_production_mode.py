"""Production mode (``MC_ENVIRONMENT=production``): the long-running commands refuse to start
while a development default remains, naming every offending variable in one message; the
development mode (the default) accepts them all, as ``make run`` needs."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from compensation.config import Settings as CompensationSettings
from enrollment.config import Settings as EnrollmentSettings
from mc_platform import service
from mc_platform.auth import DEV_ISSUER, AuthSettings
from mc_platform.service import ServiceDefinition, ServiceSettings, production_refusal
from registry.config import Settings as RegistrySettings

ROOT = Path(__file__).resolve().parents[3]

PROD_AUTH = {
    "issuer": "https://login.mc.example.gov/realms/educators",
    "audience": "mc-backbone",
    "jwks_url": "https://login.mc.example.gov/realms/educators/protocol/openid-connect/certs",
}
PROD_REGISTRY: dict[str, Any] = {
    "public_base_url": "https://registry.mc.example.gov",
    "evidence_base_url": "https://enrollment.mc.example.gov",
    "signing_kek": "c2l4dHktZm91ciBjaGFyYWN0ZXJzIG9mIGJhc2U2NCBrZXkhIQ==",
    "status_fetch_allowed_hosts": "registry.mc.example.gov",
}
PROD_ENROLLMENT: dict[str, Any] = {"evidence_s3_bucket": "mc-evidence"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: none of the variables under test may leak in."""
    for name in list(os.environ):
        if name.startswith(("MC_", "AUTH_", "REGISTRY_", "ENROLLMENT_", "COMPENSATION_")):
            monkeypatch.delenv(name)


def registry(auth: dict[str, Any] | None = None, **overrides: Any) -> RegistrySettings:
    return RegistrySettings(
        environment="production",
        auth=AuthSettings(**{**PROD_AUTH, **(auth or {})}),
        **{**PROD_REGISTRY, **overrides},
    )


def enrollment(**overrides: Any) -> EnrollmentSettings:
    return EnrollmentSettings(
        environment="production",
        auth=AuthSettings(**PROD_AUTH),
        **{**PROD_ENROLLMENT, **overrides},
    )


def names(problems: list[str]) -> list[str]:
    """The variable each problem starts with."""
    return [p.split("=", 1)[0].split(" ", 1)[0] for p in problems]


# -- the environment variable ---------------------------------------------------------------


def test_development_is_the_default_and_mc_environment_selects_production(monkeypatch):
    assert CompensationSettings().environment == "development"
    monkeypatch.setenv("MC_ENVIRONMENT", "production")
    assert CompensationSettings().environment == "production"
    assert RegistrySettings().environment == "production"


def test_the_variable_has_no_service_prefix(monkeypatch):
    monkeypatch.setenv("REGISTRY_ENVIRONMENT", "production")
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert RegistrySettings().environment == "development"


def test_an_unknown_environment_is_an_error(monkeypatch):
    monkeypatch.setenv("MC_ENVIRONMENT", "prod")
    with pytest.raises(ValueError, match="MC_ENVIRONMENT"):
        CompensationSettings()


# -- each rule alone ------------------------------------------------------------------------


def test_production_settings_without_dev_defaults_have_no_problem():
    assert registry().production_problems() == []
    assert enrollment().production_problems() == []
    assert CompensationSettings(auth=AuthSettings(**PROD_AUTH)).production_problems() == []
    assert production_refusal(registry()) is None


@pytest.mark.parametrize(
    ("auth", "variable", "why"),
    [
        ({"jwks_url": None}, "AUTH_JWKS_URL", "not set"),
        ({"jwks_url": "file:///tmp/dev/jwks.json"}, "AUTH_JWKS_URL", "local file"),
        ({"jwks_url": "http://idp:8080/jwks.json"}, "AUTH_JWKS_URL", "not https"),
        ({"issuer": DEV_ISSUER}, "AUTH_ISSUER", "development issuer"),
    ],
    ids=["jwks-unset", "jwks-file", "jwks-http", "dev-issuer"],
)
def test_each_auth_dev_default_is_named_by_every_service(auth, variable, why):
    for settings in (
        registry(auth=auth),
        enrollment().model_copy(update={"auth": AuthSettings(**{**PROD_AUTH, **auth})}),
        CompensationSettings(auth=AuthSettings(**{**PROD_AUTH, **auth})),
    ):
        problems = settings.production_problems()
        assert names(problems) == [variable], problems
        assert why in problems[0]


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"public_base_url": "http://registry.mc.example.gov"}, "REGISTRY_PUBLIC_BASE_URL"),
        ({"public_base_url": "http://127.0.0.1:8003"}, "REGISTRY_PUBLIC_BASE_URL"),
        ({"public_base_url": "https://localhost:8003"}, "REGISTRY_PUBLIC_BASE_URL"),
        ({"public_base_url": "https://127.0.0.1"}, "REGISTRY_PUBLIC_BASE_URL"),
        ({"evidence_base_url": "http://127.0.0.1:8001"}, "REGISTRY_EVIDENCE_BASE_URL"),
        ({"evidence_base_url": "https://[::1]:8001"}, "REGISTRY_EVIDENCE_BASE_URL"),
        ({"evidence_base_url": "https://api.localhost"}, "REGISTRY_EVIDENCE_BASE_URL"),
        ({"signing_kek": None}, "REGISTRY_SIGNING_KEK"),
        ({"status_fetch_allowed_hosts": ""}, "REGISTRY_STATUS_FETCH_ALLOWED_HOSTS"),
        ({"status_fetch_allowed_hosts": "  "}, "REGISTRY_STATUS_FETCH_ALLOWED_HOSTS"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()),
)
def test_each_registry_dev_default_is_named(overrides, variable):
    problems = registry(**overrides).production_problems()
    assert names(problems) == [variable], problems


def test_the_kek_problem_names_both_ways_to_set_it_and_a_kek_file_is_enough():
    (problem,) = registry(signing_kek=None).production_problems()
    assert "REGISTRY_SIGNING_KEK_FILE" in problem
    assert "development KEK" in problem
    assert (
        registry(signing_kek=None, signing_kek_file="/run/secrets/kek").production_problems() == []
    )


def test_the_registry_defaults_are_all_refused_at_once():
    settings = RegistrySettings(environment="production")
    assert names(settings.production_problems()) == [
        "AUTH_JWKS_URL",
        "AUTH_ISSUER",
        "REGISTRY_PUBLIC_BASE_URL",
        "REGISTRY_EVIDENCE_BASE_URL",
        "REGISTRY_SIGNING_KEK",
        "REGISTRY_STATUS_FETCH_ALLOWED_HOSTS",
    ]


def test_enrollment_evidence_in_a_relative_folder_without_a_bucket_is_named():
    (problem,) = enrollment(evidence_s3_bucket=None).production_problems()
    assert problem.startswith("ENROLLMENT_EVIDENCE_S3_BUCKET")
    assert "ENROLLMENT_EVIDENCE_DIR=.run/dev/evidence" in problem


@pytest.mark.parametrize(
    "overrides",
    [
        {"evidence_s3_bucket": None, "evidence_dir": "/var/lib/mc/evidence"},
        {"evidence_s3_bucket": "mc-evidence", "evidence_dir": ".run/dev/evidence"},
    ],
    ids=["absolute-folder", "bucket"],
)
def test_enrollment_evidence_in_a_bucket_or_an_absolute_folder_is_accepted(overrides):
    assert enrollment(**overrides).production_problems() == []


def test_the_refusal_is_one_message_listing_every_variable_and_development_refuses_nothing():
    settings = registry(auth={"jwks_url": None}, public_base_url="http://127.0.0.1:8003")
    message = production_refusal(settings)
    assert message is not None
    lines = message.splitlines()
    assert lines[0] == "production mode (MC_ENVIRONMENT=production) refuses dev defaults:"
    assert lines[1].startswith("  - AUTH_JWKS_URL is not set: ")
    assert lines[2].startswith("  - REGISTRY_PUBLIC_BASE_URL=http://127.0.0.1:8003 is ")
    assert len(lines) == 3
    assert production_refusal(settings.model_copy(update={"environment": "development"})) is None
    assert production_refusal(RegistrySettings()) is None


# -- the command line ------------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.served: list[Any] = []
        self.workers: list[dict[str, bool]] = []
        self.migrated: list[str] = []


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """What the commands would start, recorded instead of started."""
    seen = Calls()
    monkeypatch.setattr(service, "create_app", lambda definition, **kw: definition)
    monkeypatch.setattr(service.uvicorn, "run", lambda app, **kw: seen.served.append(app))

    async def run_workers(definition: ServiceDefinition, *, relay: bool, consumers: bool) -> None:
        seen.workers.append({"relay": relay, "consumers": consumers})

    monkeypatch.setattr(service, "_run_workers", run_workers)
    monkeypatch.setattr(
        service.migrations, "upgrade", lambda _dir, url, rev: seen.migrated.append(rev)
    )
    monkeypatch.setattr(service, "configure_logging", lambda *a, **kw: None)
    monkeypatch.setattr(service, "setup_tracing", lambda *a, **kw: None)
    return seen


def builder(settings: ServiceSettings, warn: str | None = None):
    def build() -> ServiceDefinition:
        if warn:
            logging.getLogger("test.build").warning(warn)
        return ServiceDefinition(
            name="registry",
            title="Registry",
            description="",
            settings=settings,
            migrations_dir=Path("unused"),
        )

    return build


@pytest.mark.parametrize("command", ["serve", "relay", "consume"])
def test_the_long_running_commands_exit_2_in_production_with_a_dev_default(calls, command):
    app = service.cli(builder(registry(signing_kek=None)))
    result = CliRunner().invoke(app, [command])
    assert result.exit_code == 2
    assert "REGISTRY_SIGNING_KEK" in result.stderr
    assert result.stderr.startswith("production mode (MC_ENVIRONMENT=production)")
    assert calls.served == []
    assert calls.workers == []


@pytest.mark.parametrize("command", ["serve", "relay", "consume"])
def test_the_long_running_commands_start_in_production_without_dev_defaults(calls, command):
    app = service.cli(builder(registry()))
    result = CliRunner().invoke(app, [command])
    assert result.exit_code == 0, result.output
    assert len(calls.served) + len(calls.workers) == 1


@pytest.mark.parametrize("command", ["serve", "relay", "consume"])
def test_development_mode_starts_with_every_dev_default(calls, command):
    app = service.cli(builder(RegistrySettings()))
    result = CliRunner().invoke(app, [command])
    assert result.exit_code == 0, result.output
    assert len(calls.served) + len(calls.workers) == 1


def test_migrate_is_not_guarded(calls):
    app = service.cli(builder(RegistrySettings(environment="production")))
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert calls.migrated == ["head"]


def test_what_the_build_logs_is_held_back_on_refusal_and_let_through_otherwise(calls, caplog):
    warning = "no REGISTRY_SIGNING_KEK(_FILE): development KEK"
    refused = CliRunner().invoke(
        service.cli(builder(registry(signing_kek=None), warn=warning)), ["serve"]
    )
    assert refused.exit_code == 2
    assert warning not in caplog.text
    started = CliRunner().invoke(service.cli(builder(RegistrySettings(), warn=warning)), ["serve"])
    assert started.exit_code == 0
    assert warning in caplog.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_python_m_registry_serve_refuses_production_with_one_dev_default(tmp_path):
    """The real process: everything production-ready but the signing KEK."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MC_", "AUTH_", "REGISTRY_", "KAFKA_"))
    }
    env.update(
        MC_ENVIRONMENT="production",
        AUTH_ISSUER=PROD_AUTH["issuer"],
        AUTH_JWKS_URL=PROD_AUTH["jwks_url"],
        REGISTRY_PUBLIC_BASE_URL=PROD_REGISTRY["public_base_url"],
        REGISTRY_EVIDENCE_BASE_URL=PROD_REGISTRY["evidence_base_url"],
        REGISTRY_STATUS_FETCH_ALLOWED_HOSTS=PROD_REGISTRY["status_fetch_allowed_hosts"],
        # Should the guard fail, nothing here is reachable and the timeout ends it.
        REGISTRY_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/registry",
        REGISTRY_PORT=str(free_port()),
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
    )
    result = subprocess.run(
        [sys.executable, "-m", "registry", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    # One message, nothing before it (the development-KEK warning is held back).
    assert lines[0] == "production mode (MC_ENVIRONMENT=production) refuses dev defaults:"
    assert len(lines) == 2
    assert lines[1].startswith("  - REGISTRY_SIGNING_KEK / REGISTRY_SIGNING_KEK_FILE is not set")
