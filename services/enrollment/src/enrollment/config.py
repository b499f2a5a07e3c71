"""Enrollment settings, from ``ENROLLMENT_*`` environment variables (Kafka from ``KAFKA_*``)."""

from pydantic_settings import SettingsConfigDict

from mc_events.service import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLLMENT_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/enrollment"
    port: int = 8001
    evidence_dir: str = ".run/dev/evidence"
    """Root of the local-filesystem evidence store (private: never served as static files)."""
    evidence_max_bytes: int = 500 * 1024 * 1024
    """Largest artifact accepted (a few minutes of classroom video); larger uploads get 413."""
