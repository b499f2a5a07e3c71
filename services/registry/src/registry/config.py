"""Registry settings, from ``REGISTRY_*`` environment variables (Kafka from ``KAFKA_*``)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mc_events.service import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/registry"
    port: int = 8003
    public_base_url: str = "http://127.0.0.1:8003"
    """Where verifiers reach this registry: credential, achievement, issuer and status-list
    URLs on issued credentials are built from it (they cannot change after issuance)."""
    evidence_base_url: str = "http://127.0.0.1:8001"
    """Where the gated evidence lives (the enrollment service); credentials only link to it."""
    issuer_name: str = "State Department of Education"
    """The credential issuer: the state, which runs the registry."""
    signing_kek: SecretStr | None = None
    """Key-encryption key (32 bytes, base64) sealing the issuer's private signing keys in the
    database; or ``signing_kek_file``. Neither: a public development KEK (warned)."""
    signing_kek_file: str | None = None
    """A file holding ``signing_kek`` (a mounted secret)."""
    credential_validity_days: int | None = Field(default=None, ge=1)
    """Credentials expire (``validUntil``) this many days after the award; None: never."""
    suspension_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    """How often ``serve`` lifts suspensions whose planned end (``until``) has passed."""
    district_fanout: bool = True
    """Run the district fan-out in ``serve``: ``registry.credentials`` republished to
    ``district.<id>.awards`` and ``district.<id>.awards.state`` (README, "District streams")."""
