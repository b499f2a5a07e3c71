"""Business metrics of the review service, on the runtime's Prometheus registry.

Counters count what this process did (decisions, escalations...). The research measures
(queue depth, SLA breaches, pass rates, attempts to pass, inter-rater agreement) are gauges
read from the database by the sweep worker, so every replica exports the same state-wide
figures and a restart loses nothing.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, ReviewMetrics] = WeakKeyDictionary()


class ReviewMetrics:
    @classmethod
    def of(cls, registry: CollectorRegistry) -> ReviewMetrics:
        """The metrics on ``registry``, defined on first use (a name is registered once)."""
        metrics = _BY_REGISTRY.get(registry)
        if metrics is None:
            metrics = _BY_REGISTRY[registry] = cls(registry)
        return metrics

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
        self.sweeps = Counter(
            "review_overdue_sweeps",
            "Overdue sweeps by result (done, skipped: another replica, failed)",
            ["result"],
            registry=registry,
        )
        self.escalations = Counter(
            "review_escalations",
            "Overdue assignments escalated, by outcome (reassigned, needs_state_admin)",
            ["outcome"],
            registry=registry,
        )
        self.misconduct = Counter(
            "review_misconduct_cases",
            "Misconduct cases by step (flagged, confirmed, dismissed)",
            ["step"],
            registry=registry,
        )
        # -- research measures, from the database (all time, state-wide) --
        self.queue_depth = Gauge(
            "review_queue_depth",
            "Submissions not yet decided, by review status",
            ["status"],
            registry=registry,
        )
        self.sla_breaches = Gauge(
            "review_sla_breaches",
            "Rater assignments not scored by their SLA due date (ever)",
            registry=registry,
        )
        self.overdue_open = Gauge(
            "review_assignments_overdue",
            "Open rater assignments past their SLA due date now",
            registry=registry,
        )
        self.mean_time_to_decision = Gauge(
            "review_mean_time_to_decision_seconds",
            "Mean time from evidence submitted to decision, by micro-credential",
            ["micro_credential_id"],
            registry=registry,
        )
        self.pass_rate = Gauge(
            "review_pass_rate_ratio",
            "Share of decisions that passed, by micro-credential",
            ["micro_credential_id"],
            registry=registry,
        )
        self.criterion_met_rate = Gauge(
            "review_criterion_met_ratio",
            "Share of decided results meeting the criterion, by micro-credential and criterion",
            ["micro_credential_id", "criterion_id"],
            registry=registry,
        )
        self.attempts_to_pass = Gauge(
            "review_mean_attempts_to_pass",
            "Mean attempt number of passing decisions, by micro-credential",
            ["micro_credential_id"],
            registry=registry,
        )
        self.inter_rater_agreement = Gauge(
            "review_inter_rater_agreement_ratio",
            "Share of criteria two raters scored alike (double-rated submissions)",
            registry=registry,
        )
        self.inter_rater_kappa = Gauge(
            "review_inter_rater_kappa",
            "Cohen's kappa between the two raters of double-rated submissions",
            registry=registry,
        )
