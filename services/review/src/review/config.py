"""Review settings, from ``REVIEW_*`` environment variables (Kafka from ``KAFKA_*``)."""

from datetime import date
from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mc_platform.service import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:55432/review"
    port: int = 8002
    raters_per_submission: int = Field(default=1, ge=1, le=2)
    """1, or 2 for double rating (BloomBoard practice: two raters, an approver breaks ties)."""
    sla_business_days: int = Field(default=5, ge=1)
    """Review SLA: an assignment is due this many business days after it is made."""
    holidays: list[date] = Field(default_factory=list)
    """State holidays skipped by the SLA (``REVIEW_HOLIDAYS='["2026-05-25"]'``)."""
    assign_pending_batch: int = Field(default=200, ge=1)
    """How many waiting submissions one roster change tries to assign."""
    calibration_agreement_threshold: Decimal = Field(default=Decimal("0.80"), ge=0, le=1)
    """Share of criteria an assessor must score exactly as the reference to be assigned."""
    calibration_min_samples: int = Field(default=5, ge=1)
    """Fewer scored criteria than this never calibrate an assessor."""
    overdue_sweep_enabled: bool = True
    """Off switch of the overdue sweep in ``serve`` (``sweep-overdue`` still runs it once)."""
    sweep_interval_seconds: float = Field(default=300.0, gt=0)
    """How often ``serve`` sweeps overdue assignments and refreshes the research gauges."""
    overdue_sweep_batch: int = Field(default=100, ge=1)
    """Overdue assignments handled per transaction."""
