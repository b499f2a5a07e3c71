"""Enrollment settings, from ``ENROLLMENT_*`` environment variables (Kafka from ``KAFKA_*``)."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from mc_platform.service import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLLMENT_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/enrollment"
    port: int = 8001
    evidence_dir: str = ".run/dev/evidence"
    """Root of the local-filesystem evidence store (private: never served as static files)."""
    evidence_max_bytes: int = 500 * 1024 * 1024
    """Largest artifact accepted (a few minutes of classroom video); larger uploads get 413."""

    evidence_s3_bucket: str | None = None
    """When set, evidence goes to this bucket of an S3-compatible store instead of the local
    folder (``ENROLLMENT_EVIDENCE_S3_BUCKET``). The bucket must exist and be private."""
    evidence_s3_endpoint_url: str | None = None
    """S3-compatible endpoint (MinIO, Ceph, a state data centre); None for AWS S3 itself."""
    evidence_s3_region: str = "us-east-1"
    evidence_s3_access_key_id: str | None = None
    """None: the standard AWS credential chain (environment, instance or pod role)."""
    evidence_s3_secret_access_key: SecretStr | None = None
    evidence_s3_prefix: str = "evidence/"
    """Key prefix inside the bucket."""

    reminder_days: list[int] = Field(default_factory=lambda: [14, 3])
    """Deadline reminders: one ``enrollment.deadline_approaching`` event per enrollment when
    this many days are left (``ENROLLMENT_REMINDER_DAYS='[14, 3]'``)."""
    deadline_sweep_enabled: bool = True
    """Run the deadline sweep (expiries and reminders) periodically in ``serve``; off when a
    cron job runs ``python -m enrollment sweep-deadlines`` instead."""
    deadline_sweep_interval_seconds: float = Field(default=300.0, gt=0)

    @field_validator("reminder_days")
    @classmethod
    def _positive_days(cls, days: list[int]) -> list[int]:
        if any(d < 1 for d in days):
            raise ValueError("reminder_days must be whole days of at least 1")
        return sorted(set(days), reverse=True)

    def production_problems(self) -> list[str]:
        """Besides ``AUTH_*``: evidence in a bucket, or at least in an absolute folder (a
        mounted volume), never the development folder relative to the working directory."""
        problems = super().production_problems()
        if not self.evidence_s3_bucket and not Path(self.evidence_dir).is_absolute():
            problems.append(
                f"{self.env_name('evidence_s3_bucket')} is not set and "
                f"{self.env_name('evidence_dir')}={self.evidence_dir} is relative: evidence "
                "would land in the working directory (set a bucket, or an absolute mounted path)"
            )
        return problems
