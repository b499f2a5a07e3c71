"""Business metrics of the review service, on the runtime's Prometheus registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ReviewMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "review_decisions",
            "Review decisions by outcome",
            ["outcome"],
            registry=registry,
        )
        self.time_to_decision = Histogram(
            "review_time_to_decision_seconds",
            "From evidence submitted to decision",
            buckets=(3600, 86400, 3 * 86400, 5 * 86400, 7 * 86400, 14 * 86400, 30 * 86400),
            registry=registry,
        )
        self.disagreements = Counter(
            "review_rater_disagreements",
            "Double-rated submissions sent to an approver",
            registry=registry,
        )
        self.calibration_runs = Counter(
            "review_calibration_runs",
            "Calibration runs by result",
            ["result"],
            registry=registry,
        )
