"""Publishing stipend rules: every change is a new version; a rule keeps its scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from compensation.adapters import repository as repo
from compensation.domain.rules import StipendRule
from compensation.service_layer.errors import Conflict, Forbidden, NotFound
from mc_events import audit


class PublishedRule(Protocol):
    @property
    def rule_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def district_id(self) -> str | None: ...


def rule_chain(rule: PublishedRule) -> str:
    """The audit chain of a rule's publications: its district's, or its state's."""
    return f"district:{rule.district_id}" if rule.district_id else f"state:{rule.state}"


async def ensure_publishable(
    session: AsyncSession,
    rule: PublishedRule,
    latest: PublishedRule | None,
    acting_for_district: str | None,
) -> None:
    """Refuse a new version of a (stipend or lane) rule that the caller may not publish: a
    district admin publishes their own district's rules only; a version never changes its rule
    id's state or district (else a district could take over a statewide rule id); a district
    rule names a registered district of the rule's state."""
    if acting_for_district is not None and rule.district_id != acting_for_district:
        raise Forbidden("a district admin publishes rules of their own district only")
    if latest is not None and (latest.state, latest.district_id) != (rule.state, rule.district_id):
        raise Conflict(
            f"rule {rule.rule_id} belongs to {latest.state}/{latest.district_id or '*'}; "
            "a new version cannot change its state or district"
        )
    if rule.district_id is not None:
        state = await repo.district_state(session, rule.district_id)
        if state is None:
            raise NotFound(f"district {rule.district_id} is not registered")
        if state != rule.state:
            raise Conflict(f"district {rule.district_id} is in {state}, not {rule.state}")


async def publish_rule(
    session: AsyncSession,
    rule: StipendRule,
    *,
    published_by: str,
    acting_for_district: str | None,
    at: datetime,
) -> StipendRule:
    """Store ``rule`` as the next version of its rule id (the given version is ignored).

    ``acting_for_district``: a district admin's district (they may publish only rules of their
    own district); None for a state admin.
    """
    latest = await repo.latest_rule_version(session, rule.rule_id)
    await ensure_publishable(session, rule, latest, acting_for_district)
    versioned = replace(rule, version=(latest.version + 1) if latest else 1)
    if not await repo.insert_rule(session, versioned, created_by=published_by, at=at):
        raise Conflict(f"version {versioned.version} of {rule.rule_id} was published concurrently")
    await audit.append(
        session,
        actor=published_by,
        action="rule.published",
        object_type="stipend_rule",
        object_id=f"{versioned.rule_id}@v{versioned.version}",
        details={
            "amount_cents": versioned.amount_cents,
            "state": versioned.state,
            "district_id": versioned.district_id,
        },
        chain=rule_chain(versioned),
        at=at,
    )
    return versioned


async def versions(session: AsyncSession, rule_id: str) -> list[StipendRule]:
    found = await repo.rule_versions(session, rule_id)
    if not found:
        raise NotFound(f"no stipend rule {rule_id}")
    return found
