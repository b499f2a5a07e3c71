"""Every cross-service event contract (versioned: a published version only gains optional fields).

Importing this package imports every contract module, so :func:`all_contracts` sees them all.
One module per emitting service (the catalog and roster are split out of their services'
modules because other services build read models from them):

- :mod:`~mc_events.contracts.catalog`: registry, ``registry.catalog``
- :mod:`~mc_events.contracts.roster`: enrollment, ``enrollment.roster``
- :mod:`~mc_events.contracts.enrollment`: enrollment, ``enrollment.enrollments``
- :mod:`~mc_events.contracts.review`: review, ``review.reviews``
- :mod:`~mc_events.contracts.registry`: registry, ``registry.credentials``
- :mod:`~mc_events.contracts.compensation`: compensation, ``compensation.payments`` and
  ``compensation.payroll``

The JSON Schemas generated from them are checked in under ``libs/events/schemas``; see
:mod:`mc_events.schemas`.
"""

from mc_events.contracts.base import Event, all_contracts, contract_for
from mc_events.contracts.catalog import (
    MicroCredentialPublished,
    MicroCredentialRetired,
    StackPublished,
    StackRetired,
    StackRule,
    StackRuleKind,
)
from mc_events.contracts.common import (
    Credits,
    CreditUnit,
    CriterionResult,
    EvidenceKind,
    EvidenceRequirement,
    Fee,
    FeePayer,
    Grant,
    GrantKind,
    Level,
    Purpose,
    RubricCriterion,
)
from mc_events.contracts.compensation import (
    DeferralCancellationReason,
    DeferralReason,
    PayrollBatchAcknowledged,
    PayrollBatchExported,
    PayrollBatchStatus,
    SalaryLaneChanged,
    SalaryLaneChangeReason,
    StipendApproved,
    StipendBasis,
    StipendDeferralCancelled,
    StipendDeferred,
    StipendReversalReason,
    StipendReversed,
)
from mc_events.contracts.enrollment import (
    ArtifactRef,
    CompletenessProblem,
    CompletenessProblemKind,
    DeadlineApproaching,
    Enrolled,
    EvidenceSubmitted,
    Expired,
    NotEarned,
    NotEarnedReason,
    SubmissionReturnedIncomplete,
    Withdrawn,
)
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReinstated,
    CredentialReissued,
    CredentialRevoked,
    CredentialSuspended,
    CreditPostingReason,
    EndorsementEligible,
    RenewalCreditsPosted,
    RevocationReason,
    StackCompleted,
    StackCompletionReversed,
)
from mc_events.contracts.review import (
    AssessorRole,
    Assigned,
    AssignmentEscalated,
    Decided,
    EscalationOutcome,
    MisconductKind,
    ReviewOutcome,
    RevocationRequested,
)
from mc_events.contracts.roster import (
    EducatorMovedDistrict,
    EducatorRegistered,
    EducatorUpdated,
    License,
    StaffRole,
)

__all__ = [
    "ArtifactRef",
    "AssessorRole",
    "Assigned",
    "AssignmentEscalated",
    "CompletenessProblem",
    "CompletenessProblemKind",
    "CredentialAwarded",
    "CredentialReinstated",
    "CredentialReissued",
    "CredentialRevoked",
    "CredentialSuspended",
    "CreditPostingReason",
    "CreditUnit",
    "Credits",
    "CriterionResult",
    "DeadlineApproaching",
    "Decided",
    "DeferralCancellationReason",
    "DeferralReason",
    "EducatorMovedDistrict",
    "EducatorRegistered",
    "EducatorUpdated",
    "EndorsementEligible",
    "Enrolled",
    "EscalationOutcome",
    "Event",
    "EvidenceKind",
    "EvidenceRequirement",
    "EvidenceSubmitted",
    "Expired",
    "Fee",
    "FeePayer",
    "Grant",
    "GrantKind",
    "Level",
    "License",
    "MicroCredentialPublished",
    "MicroCredentialRetired",
    "MisconductKind",
    "NotEarned",
    "NotEarnedReason",
    "PayrollBatchAcknowledged",
    "PayrollBatchExported",
    "PayrollBatchStatus",
    "Purpose",
    "RenewalCreditsPosted",
    "ReviewOutcome",
    "RevocationReason",
    "RevocationRequested",
    "RubricCriterion",
    "SalaryLaneChangeReason",
    "SalaryLaneChanged",
    "StackCompleted",
    "StackCompletionReversed",
    "StackPublished",
    "StackRetired",
    "StackRule",
    "StackRuleKind",
    "StaffRole",
    "StipendApproved",
    "StipendBasis",
    "StipendDeferralCancelled",
    "StipendDeferred",
    "StipendReversalReason",
    "StipendReversed",
    "SubmissionReturnedIncomplete",
    "Withdrawn",
    "all_contracts",
    "contract_for",
]
