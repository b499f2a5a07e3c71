"""One transaction per command, the repositories on it, and what it has to announce."""

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from compensation.adapters.holds_repository import Holds
from compensation.adapters.lanes_repository import Lanes
from compensation.adapters.ledger_repository import Ledger
from compensation.adapters.payroll_repository import Payroll
from compensation.adapters.reissues_repository import Reissues
from compensation.adapters.roster_repository import Roster
from compensation.adapters.rules_repository import LANE_RULES, STIPEND_RULES, RuleVersions
from compensation.domain import ids
from compensation.domain.lanes import SalaryLaneRule
from compensation.domain.rules import StipendRule
from mc_events.contracts.base import Event
from mc_platform.unit_of_work import UnitOfWork as _BaseUnitOfWork


class UnitOfWork(_BaseUnitOfWork):
    """The compensation unit of work: ``async with uow: ...; await uow.commit()`` for a
    command, :meth:`joining` the consumer runtime's transaction for an event handler."""

    roster: Roster
    stipend_rules: RuleVersions[StipendRule]
    lane_rules: RuleVersions[SalaryLaneRule]
    ledger: Ledger
    holds: Holds
    reissues: Reissues
    lanes: Lanes
    payroll: Payroll

    def attach(self, session: AsyncSession) -> None:
        self.roster = Roster(session)
        self.stipend_rules = RuleVersions(session, STIPEND_RULES)
        self.lane_rules = RuleVersions(session, LANE_RULES)
        self.ledger = Ledger(session)
        self.holds = Holds(session)
        self.reissues = Reissues(session)
        self.lanes = Lanes(session)
        self.payroll = Payroll(session)

    def publish(self, event: Event, *, about: str) -> str:
        """Emit ``event`` under the id derived from its type and what it is ``about`` (a
        ledger entry, deferral, lane change or batch id): a retried or redelivered command
        emits the same event id, and the outbox keeps it once."""
        return self.emit(event, event_id=ids.event_id(event.event_type, about))

    def announce(
        self,
        event: Event,
        *,
        about: str,
        object_type: str,
        actor: str,
        action: str,
        details: dict[str, Any],
        chain: str,
        at: datetime,
    ) -> None:
        """A decision about one object (``about``, of ``object_type``): its event
        (:meth:`publish`) and its audit record."""
        self.publish(event, about=about)
        self.audit(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=about,
            details=details,
            chain=chain,
            at=at,
        )
