"""Recognised imports in the Ed-Fi view, and the dates an import counts between."""

from __future__ import annotations

from datetime import UTC, date, datetime

from registry.domain import licensure
from registry.domain.portability import validity_window


def source(**overrides) -> licensure.EdFiCredentialSource:
    data = {
        "identifier": "imp-1",
        "field_code": "mc-checks",
        "credential_type": "Certification",
        "issued_on": date(2026, 2, 1),
        "expires_on": None,
        "educator_id": "SC-1",
        "namespace": "uri://registry.example",
        "name": "Checks for Understanding",
    }
    data.update(overrides)
    return licensure.EdFiCredentialSource(**data)


def test_an_imported_credential_is_marked_with_its_issuer_and_state_equivalent():
    record = licensure.edfi_credential(
        source(
            imported_from="did:key:z6MkOther",
            external_credential_id="urn:uuid:abc",
            equivalent_micro_credential_id="mc-checks",
        ),
        "SC",
    )
    assert record["_ext"]["mc"] == {
        "name": "Checks for Understanding",
        "imported": True,
        "issuer": "did:key:z6MkOther",
        "externalCredentialId": "urn:uuid:abc",
        "equivalentMicroCredentialId": "mc-checks",
    }
    assert record["credentialFieldDescriptor"] == (
        "uri://registry.example/CredentialFieldDescriptor#mc-checks"
    )


def test_a_credential_issued_here_carries_no_import_marks():
    assert licensure.edfi_credential(source(), "SC")["_ext"]["mc"] == {
        "name": "Checks for Understanding"
    }


def test_an_imports_window_runs_from_its_award_to_its_valid_until():
    imported_at = datetime(2026, 5, 1, tzinfo=UTC)
    earned, until = validity_window(
        {"awardedDate": "2026-02-01T00:00:00Z", "validUntil": "2027-02-01T00:00:00Z"},
        imported_at,
    )
    assert (earned, until) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2027, 2, 1, tzinfo=UTC),
    )
    assert validity_window({"validFrom": "2026-03-01T00:00:00+00:00"}, imported_at) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        None,
    )
    assert validity_window({"validUntil": "not a date"}, imported_at) == (imported_at, None)
    assert validity_window({"validUntil": "2027-01-01T00:00:00"}, imported_at)[1] == datetime(
        2027, 1, 1, tzinfo=UTC
    )
