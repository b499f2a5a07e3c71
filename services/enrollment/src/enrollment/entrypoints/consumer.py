"""Inbound events of the enrollment service, mapped to service-layer handlers.

Handlers run in the consumer's transaction (with the inbox row): their unit of work joins it
and never commits. Topics are shared, so events about entities this service does not know
arrive; per event:

- ``registry.micro_credential_published``: upsert the version into the catalog read model.
- ``registry.micro_credential_retired``: mark the version retired; a version never seen
  published is skipped (logged), not dead-lettered: nothing here depends on it.
- ``review.assigned``: the first assignment puts the submission under review; unknown or
  already moved enrollments are skipped (a second rater's assignment is normal).
- ``review.assignment_escalated``: a ``reassigned`` outcome releases the overdue assignment,
  so its assessor no longer reads the evidence (recorded by assignment id: in whichever order
  this and the assignments arrive, a released assignment never grants access again);
  ``needs_state_admin`` changes nothing. Unknown enrollments are skipped.
- ``review.decided``: moves the enrollment (earned, revision requested, not earned; a
  misconduct decision is not earned with the misconduct kind kept for the educator). The same
  decision again changes nothing. Unknown enrollment, another submission, or a closed
  enrollment: NonRetryableError, so the decision goes to ``review.reviews.dlq`` for an
  operator instead of disappearing.
"""

from enrollment.service_layer import enrollments, evidence
from enrollment.service_layer.unit_of_work import UnitOfWork
from mc_events.consumer import Handler
from mc_events.contracts.base import Event
from mc_events.contracts.catalog import MicroCredentialPublished, MicroCredentialRetired
from mc_events.contracts.review import Assigned, AssignmentEscalated, Decided
from mc_platform.unit_of_work import consumer_handler

HANDLERS: dict[type[Event], Handler] = {
    MicroCredentialPublished: consumer_handler(UnitOfWork, enrollments.on_published),
    MicroCredentialRetired: consumer_handler(UnitOfWork, enrollments.on_retired),
    Assigned: consumer_handler(UnitOfWork, evidence.on_assigned),
    AssignmentEscalated: consumer_handler(UnitOfWork, evidence.on_assignment_escalated),
    Decided: consumer_handler(UnitOfWork, evidence.on_decided),
}
