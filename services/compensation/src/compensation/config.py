"""Compensation settings, from ``COMPENSATION_*`` environment variables (Kafka from ``KAFKA_*``)."""

from pydantic_settings import SettingsConfigDict

from mc_platform.service import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMPENSATION_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/compensation"
    port: int = 8004
