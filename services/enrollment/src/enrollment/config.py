"""Enrollment settings, from ``ENROLLMENT_*`` environment variables (Kafka from ``KAFKA_*``)."""

from pydantic_settings import SettingsConfigDict

from mc_events.service import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLLMENT_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/enrollment"
    port: int = 8001
