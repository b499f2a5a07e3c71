"""Registry settings, from ``REGISTRY_*`` environment variables (Kafka from ``KAFKA_*``)."""

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
