"""The time source: rules take ``now`` from a clock the composition root (or a test) picks."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
