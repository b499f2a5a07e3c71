"""License renewal (pure): the state's renewal rules as data, credit conversion, certificate
cycles, and the Ed-Fi ``Credential`` shape licensure and HR systems ingest.

The rules are data (one row per state in ``renewal_rules``; the migration seeds South
Carolina: a 5-year professional certificate, 120 renewal credits per cycle,
1 semester hour = 20 credits, 15 contact hours = 20 credits, 1 CEU = 10 credits; PD hours are
clock hours of professional development, so they convert as contact hours).

Amounts are :class:`~decimal.Decimal` end to end; converted credits are rounded half-up to
hundredths (``CREDIT_QUANTUM``), and a reversal is the exact negative of what was posted, so
a cycle's balance returns to what it was.

Which certificate cycle a posting counts for:

1. the educator's license on the roster (``enrollment.roster``): the cycle ends on the
   license's ``expires_on`` and spans ``cycle_years`` back; an award outside it falls in the
   neighbouring cycle of the same grid (the roster may lag a renewal);
2. without a license on record, the grid is anchored at the start of the educator's first
   cycle already in the ledger;
3. with neither, at the start of the school year (1 July) of the award.

A posting keeps the cycle it was posted to; its reversal goes to that same cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from mc_events.contracts.common import Credits, CreditUnit

CREDIT_QUANTUM = Decimal("0.01")
SCHOOL_YEAR_START = (7, 1)


class LicensureError(Exception):
    """A rule or amount that cannot be applied (the message says why)."""


class NoConversion(LicensureError):
    """The state's rules have no conversion for a credit unit."""


@dataclass(frozen=True)
class Conversion:
    """``per`` units of something are worth ``renewal_credits`` renewal credits."""

    per: Decimal
    renewal_credits: Decimal

    def __post_init__(self) -> None:
        if self.per <= 0 or self.renewal_credits < 0:
            raise LicensureError("a conversion needs per > 0 and renewal_credits >= 0")


@dataclass(frozen=True)
class Cycle:
    """A certificate cycle, both ends inclusive."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.start.year}-{self.end.year}"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def add_years(day: date, years: int) -> date:
    """``day`` shifted by whole years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def school_year_start(day: date) -> date:
    month, dom = SCHOOL_YEAR_START
    start = date(day.year, month, dom)
    return start if day >= start else date(day.year - 1, month, dom)


@dataclass(frozen=True)
class RenewalRules:
    """One state's renewal rules."""

    state: str
    """Two-letter state abbreviation (Ed-Fi ``StateAbbreviationDescriptor``)."""
    cycle_years: int
    required_credits: Decimal
    conversions: Mapping[CreditUnit, Conversion]

    def to_renewal_credits(self, credits: Credits) -> Decimal:
        conversion = self.conversions.get(credits.unit)
        if conversion is None:
            raise NoConversion(f"{self.state} has no conversion for {credits.unit.value}")
        amount = credits.value * conversion.renewal_credits / conversion.per
        return amount.quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)

    def _grid_cycle(self, first_start: date, day: date) -> Cycle:
        """The cycle containing ``day`` on the grid of ``cycle_years`` cycles from
        ``first_start``."""
        k = (day.year - first_start.year) // self.cycle_years
        for step in (k - 1, k, k + 1):
            start = add_years(first_start, step * self.cycle_years)
            end = add_years(first_start, (step + 1) * self.cycle_years) - timedelta(days=1)
            if start <= day <= end:
                return Cycle(start, end)
        raise AssertionError("unreachable: consecutive cycles cover every day")

    def cycle_for(
        self, day: date, *, license_expires_on: date | None, anchor: date | None
    ) -> Cycle:
        """The certificate cycle ``day`` counts for (see the module docstring)."""
        if license_expires_on is not None:
            first_start = add_years(license_expires_on, -self.cycle_years) + timedelta(days=1)
        elif anchor is not None:
            first_start = anchor
        else:
            first_start = school_year_start(day)
        return self._grid_cycle(first_start, day)

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "cycle_years": self.cycle_years,
            "required_credits": str(self.required_credits),
            "conversions": {
                unit.value: {"per": str(c.per), "renewal_credits": str(c.renewal_credits)}
                for unit, c in sorted(self.conversions.items())
            },
        }


def conversions_from_json(raw: Mapping[str, Any]) -> dict[CreditUnit, Conversion]:
    return {
        CreditUnit(unit): Conversion(Decimal(str(c["per"])), Decimal(str(c["renewal_credits"])))
        for unit, c in raw.items()
    }


# -- Ed-Fi -----------------------------------------------------------------------------------

EDFI_DESCRIPTORS = "uri://ed-fi.org"


def edfi_descriptor(kind: str, code: str, namespace: str = EDFI_DESCRIPTORS) -> str:
    """An Ed-Fi descriptor value, e.g. ``uri://ed-fi.org/CredentialTypeDescriptor#Endorsement``."""
    return f"{namespace}/{kind}#{code}"


@dataclass(frozen=True)
class EdFiCredentialSource:
    """What the registry knows of one credential, for its Ed-Fi view."""

    identifier: str
    field_code: str
    """The credential field (the micro-credential or the endorsement code)."""
    credential_type: str
    """``Certification`` for a micro-credential, ``Endorsement`` for an endorsement grant."""
    issued_on: date
    expires_on: date | None
    educator_id: str
    namespace: str
    """The state's descriptor namespace (e.g. ``uri://registry.sc.example``)."""
    name: str
    imported_from: str | None = None
    """For a credential issued elsewhere that the state recognised: its issuer's id."""
    external_credential_id: str | None = None
    """For a recognised import: the credential's id as its issuer issued it."""
    equivalent_micro_credential_id: str | None = None
    """For a recognised import: the state micro-credential it counts as, if any."""


def _extension(source: EdFiCredentialSource) -> dict[str, Any]:
    """The registry's own fields (``_ext.mc``): the name, and for a recognised import that it
    is one, who issued it and what the state counts it as."""
    extension: dict[str, Any] = {"name": source.name}
    if source.imported_from is not None:
        extension |= {
            "imported": True,
            "issuer": source.imported_from,
            "externalCredentialId": source.external_credential_id,
            "equivalentMicroCredentialId": source.equivalent_micro_credential_id,
        }
    return extension


def edfi_credential(source: EdFiCredentialSource, state: str) -> dict[str, Any]:
    """The Ed-Fi ``Credential`` (Data Standard v5/v6 field names, camelCase as the Ed-Fi ODS
    API serves them) with a ``staffCredentialAssociation`` reference: the Staff record of the
    educator (``staffUniqueId`` = state educator id) references the credential."""
    credential: dict[str, Any] = {
        "credentialIdentifier": source.identifier,
        "stateOfIssueStateAbbreviationDescriptor": edfi_descriptor(
            "StateAbbreviationDescriptor", state
        ),
        "credentialFieldDescriptor": edfi_descriptor(
            "CredentialFieldDescriptor", source.field_code, source.namespace
        ),
        "credentialTypeDescriptor": edfi_descriptor(
            "CredentialTypeDescriptor", source.credential_type
        ),
        "issuanceDate": source.issued_on.isoformat(),
        "effectiveDate": source.issued_on.isoformat(),
        "namespace": source.namespace,
        "credentialEndorsements": (
            [{"credentialEndorsement": source.name}]
            if source.credential_type == "Endorsement"
            else []
        ),
        "staffCredentialAssociation": {
            "staffReference": {"staffUniqueId": source.educator_id},
            "credentialReference": {
                "credentialIdentifier": source.identifier,
                "stateOfIssueStateAbbreviationDescriptor": edfi_descriptor(
                    "StateAbbreviationDescriptor", state
                ),
            },
        },
        "_ext": {"mc": _extension(source)},
    }
    if source.expires_on is not None:
        credential["expirationDate"] = source.expires_on.isoformat()
    return credential


# -- the ledger ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """One posting to an educator's renewal-credit ledger (append-only)."""

    entry_id: str
    posting_key: str
    educator_id: str
    district_id: str
    credential_id: str
    state: str
    credits: Decimal
    unit: CreditUnit
    renewal_credits: Decimal
    cycle: Cycle
    reason: str
    reverses_entry_id: str | None
    posted_at: datetime


@dataclass(frozen=True)
class CycleBalance:
    cycle: Cycle
    earned: Decimal
    required: Decimal
    entries: tuple[LedgerEntry, ...]

    @property
    def remaining(self) -> Decimal:
        return max(self.required - self.earned, Decimal(0))

    @property
    def met(self) -> bool:
        return self.earned >= self.required


def balances(entries: Iterable[LedgerEntry], required: Decimal) -> list[CycleBalance]:
    """Each cycle's balance (the sum of its signed entries), newest cycle first."""
    by_cycle: dict[Cycle, list[LedgerEntry]] = {}
    for entry in entries:
        by_cycle.setdefault(entry.cycle, []).append(entry)
    return [
        CycleBalance(
            cycle=cycle,
            earned=sum((e.renewal_credits for e in found), Decimal(0)),
            required=required,
            entries=tuple(sorted(found, key=lambda e: (e.posted_at, e.entry_id))),
        )
        for cycle, found in sorted(by_cycle.items(), key=lambda kv: kv[0].start, reverse=True)
    ]
