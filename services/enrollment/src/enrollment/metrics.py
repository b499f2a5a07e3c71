"""Business metrics of the enrollment service, on the process's Prometheus registry
(``/metrics``), named ``enrollment_<noun>_<unit>``."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, EnrollmentMetrics] = (
    weakref.WeakKeyDictionary()
)


class EnrollmentMetrics:
    @classmethod
    def of(cls, registry: CollectorRegistry) -> EnrollmentMetrics:
        """The metrics on ``registry``, defined on first use (a name is registered once)."""
        metrics = _BY_REGISTRY.get(registry)
        if metrics is None:
            metrics = _BY_REGISTRY[registry] = cls(registry)
        return metrics

    def __init__(self, registry: CollectorRegistry) -> None:
        self.roster_rows = Counter(
            "enrollment_roster_import_rows",
            "Rows read by roster imports, by outcome (accepted or rejected)",
            ["outcome"],
            registry=registry,
        )
        self.roster_changes = Counter(
            "enrollment_roster_changes",
            "Educators registered, updated or moved by roster imports",
            ["change"],
            registry=registry,
        )
        self.roster_import_seconds = Histogram(
            "enrollment_roster_import_seconds",
            "Duration of a roster import",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
            registry=registry,
        )
        self.enrollments = Counter(
            "enrollment_enrollments",
            "Enrollment transitions made through the API (enrolled, withdrawn)",
            ["transition"],
            registry=registry,
        )
        self.submissions = Counter(
            "enrollment_submissions",
            "Submissions by completeness (complete, incomplete)",
            ["result"],
            registry=registry,
        )
        self.evidence_bytes = Counter(
            "enrollment_evidence_bytes",
            "Bytes of evidence stored",
            registry=registry,
        )
        self.deadline_sweeps = Counter(
            "enrollment_deadline_sweeps",
            "Deadline sweep runs by outcome: done, skipped (another replica was sweeping), failed",
            ["outcome"],
            registry=registry,
        )
        self.deadline_sweep_last_success = Gauge(
            "enrollment_deadline_sweep_last_success_timestamp_seconds",
            "When the last deadline sweep finished (alert if it falls far behind the interval)",
            registry=registry,
        )
        self.deadline_events = Counter(
            "enrollment_deadline_events",
            "Events the deadline sweep emitted, by kind (expired, reminded)",
            ["kind"],
            registry=registry,
        )
