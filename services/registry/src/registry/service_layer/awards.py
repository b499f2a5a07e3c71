"""Award commands: a passed review decision becomes exactly one credential per enrollment, and
the state can revoke it. The credential, its status-list index and the outgoing event commit
in one transaction."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from mc_events import audit
from mc_events.contracts.registry import CredentialAwarded, CredentialRevoked, RevocationReason
from mc_events.contracts.review import Decided, ReviewOutcome
from mc_events.outbox import add_event
from registry.adapters.awards_repository import AwardsRepository
from registry.adapters.catalog_repository import CatalogRepository
from registry.domain import awards, openbadges
from registry.domain.awards import Award, NotAwardable, PassedDecision
from registry.domain.status_list import StatusPurpose
from registry.service_layer import licensure
from registry.service_layer.catalog import event_id
from registry.service_layer.errors import NotFound
from registry.service_layer.signing import Issuance
from registry.service_layer.unit_of_work import UnitOfWork


async def record_award(
    session: AsyncSession,
    decision: Decided,
    urls: openbadges.PublicUrls,
    now: datetime,
    issuance: Issuance | None = None,
) -> Award | None:
    """Record the credential a passed decision earns, in the caller's transaction; None when
    there is nothing to do (not a pass, or the enrollment already has its credential).
    The document is recorded without its proof and signed after this transaction commits (by
    the ``credential-signer`` worker, or by the first reader of the credential: see
    :func:`~registry.service_layer.signing.sign_awaiting`), so neither the award nor its
    ``credential_awarded`` event waits on signing. ``issuance`` gives the validity period.
    Raises :class:`~registry.domain.awards.AwardError` for a
    decision that can never be awarded."""
    issuance = issuance or Issuance()
    if decision.outcome is not ReviewOutcome.PASSED:
        return None
    repo = AwardsRepository(session)
    context = await repo.award_context(
        decision.enrollment_id, decision.micro_credential_id, decision.micro_credential_version
    )
    if context.credential_id is not None:
        return None  # a second decision (or a redelivery) for an enrollment already awarded
    found = await CatalogRepository(session).version_for_award(
        decision.micro_credential_id, decision.micro_credential_version, context.version_digest
    )
    if found is None:
        raise NotAwardable(
            f"unknown micro-credential {decision.micro_credential_id} "
            f"version {decision.micro_credential_version}"
        )
    mc, provider_name = found
    passed = PassedDecision(
        decision_id=decision.decision_id,
        enrollment_id=decision.enrollment_id,
        submission_id=decision.submission_id,
        educator_id=decision.educator_id,
        district_id=decision.district_id,
        micro_credential_id=decision.micro_credential_id,
        micro_credential_version=decision.micro_credential_version,
        results=decision.results,
        decided_at=decision.decided_at,
    )
    award = awards.award(passed, mc, context.enrolled_purpose)
    if issuance.validity is not None:
        award.valid_until = award.awarded_at + issuance.validity
    status = await repo.allocate_status_index(StatusPurpose.REVOCATION, now)
    document = openbadges.open_badge_credential(
        award,
        mc,
        provider_name if provider_name is not None else mc.issuer_id,
        urls,
        status,
        salt=secrets.token_hex(16),
    )
    if not await repo.add_credential(award, status, document, now):
        return None
    await add_event(
        session,
        CredentialAwarded(
            credential_id=award.credential_id,
            educator_id=award.educator_id,
            district_id=award.district_id,
            micro_credential_id=award.micro_credential_id,
            micro_credential_version=award.micro_credential_version,
            enrollment_id=award.enrollment_id,
            decision_id=award.decision_id,
            issuer_id=award.issuer_id,
            achievement_name=award.achievement_name,
            purpose=award.purpose,
            credits=award.credits,
            awarded_at=award.awarded_at,
            valid_until=award.valid_until,
            credential_url=urls.credential(award.credential_id),  # type: ignore[arg-type]
            results=award.results,
        ),
        event_id=event_id("credential_awarded", award.credential_id),
    )
    trail = audit.Appender(session)
    await trail.append(
        actor=f"review-decision:{decision.decision_id}",
        action="credential.awarded",
        object_type="credential",
        object_id=award.credential_id,
        details={
            "enrollment_id": award.enrollment_id,
            "micro_credential": f"{award.micro_credential_id}@v{award.micro_credential_version}",
            "assessors": list(decision.assessor_ids),
            "approver": decision.approver_id,
        },
        chain=f"educator:{award.educator_id}",
        at=now,
    )
    # Stacks, endorsements, renewal credits; their audit records join the award's.
    await licensure.after_award(session, award, now, trail=trail)
    await trail.flush()
    return award


async def revoke_credential(
    uow: UnitOfWork,
    *,
    credential_id: str,
    reason: RevocationReason,
    detail: str,
    actor: str,
    now: datetime,
) -> Award:
    async with uow:
        repo = AwardsRepository(uow.session)
        stored = await repo.get(credential_id, for_update=True)
        if stored is None:
            raise NotFound(f"no credential {credential_id}")
        award = stored.award
        award.revoke(reason, detail, now, actor)
        await repo.save_revocation(award)
        await repo.set_status(stored.status, True, now)
        await add_event(
            uow.session,
            CredentialRevoked(
                credential_id=award.credential_id,
                educator_id=award.educator_id,
                district_id=award.district_id,
                micro_credential_id=award.micro_credential_id,
                micro_credential_version=award.micro_credential_version,
                enrollment_id=award.enrollment_id,
                reason=reason,
                reason_detail=detail.strip(),
                revoked_at=now,
            ),
            event_id=event_id("credential_revoked", award.credential_id),
        )
        await audit.append(
            uow.session,
            actor=actor,
            action="credential.revoked",
            object_type="credential",
            object_id=award.credential_id,
            details={"reason": str(reason), "detail": detail.strip()},
            chain=f"educator:{award.educator_id}",
            at=now,
        )
        await licensure.after_revocation(uow.session, award, now)  # stacks, credits reversed
        await uow.commit()
    return award
