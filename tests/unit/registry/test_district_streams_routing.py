"""What one ``registry.credentials`` record becomes in its district's topics."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat

from mc_events.contracts.base import Event
from mc_events.contracts.common import Credits, CreditUnit, CriterionResult, Purpose
from mc_events.contracts.registry import (
    CredentialAwarded,
    CredentialReissued,
    CredentialRevoked,
    RevocationReason,
    StackCompleted,
)
from mc_events.envelope import EnvelopeError, to_record
from mc_events.fanout import Outgoing, SourceRecord
from mc_platform.refusals import Refusal
from registry.entrypoints.api.district_feed import decode_cursor, encode_cursor
from registry.entrypoints.district_fanout import STATE_TYPE, route

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def awarded(credential_id: str = "cred-1", district_id: str = "D-1") -> CredentialAwarded:
    return CredentialAwarded(
        credential_id=credential_id,
        educator_id="TX-0001",
        district_id=district_id,
        micro_credential_id="mc-wait",
        micro_credential_version=1,
        enrollment_id="enr-1",
        decision_id="dec-1",
        issuer_id="iss-1",
        achievement_name="Wait Time",
        purpose=Purpose.LICENSE_RENEWAL,
        credits=Credits(value=Decimal("15"), unit=CreditUnit.PD_HOURS),
        awarded_at=AT,
        credential_url="https://creds.example/credentials/cred-1",
        results=(CriterionResult(criterion_id="c1", achieved_level_id="l2", met=True),),
    )


def source(event: Event, offset: int = 7) -> SourceRecord:
    record = to_record(event, source="/mc/registry", time=AT)
    return SourceRecord(record.topic, 3, offset, record.key, record.value, record.headers)


def read(out: Outgoing) -> tuple[dict[str, object], dict[str, object]]:
    event = ce_kafka.from_binary(
        ce_kafka.KafkaMessage(headers=dict(out.headers), key=out.key, value=out.value or b""),
        JSONFormat(),
    )
    data = event.get_data()
    assert isinstance(data, dict)
    return event.get_attributes(), data


def test_an_award_is_copied_unchanged_to_its_district_topic() -> None:
    record = source(awarded())
    copy, _ = route(record)
    assert copy.topic.name == "district.D-1.awards"
    assert (copy.key, copy.value, copy.headers) == (record.key, record.value, record.headers)


def test_an_award_writes_the_credentials_active_state_keyed_by_credential() -> None:
    _, state = route(source(awarded()))
    assert state.topic.name == "district.D-1.awards.state"
    assert state.topic.compacted
    assert state.key == b"cred-1"
    attributes, data = read(state)
    assert attributes["type"] == STATE_TYPE
    assert attributes["subject"] == "cred-1"
    assert data["status"] == "active"
    assert data["educator_id"] == "TX-0001"
    assert data["event_type"] == "registry.credential_awarded.v1"
    assert data["event"]["achievement_name"] == "Wait Time"  # type: ignore[index]


def test_a_resent_record_yields_the_same_state_event_id() -> None:
    record = source(awarded())
    first = read(route(record)[1])[0]["id"]
    again = read(route(record)[1])[0]["id"]
    assert first == again
    other = read(route(source(awarded("cred-2")))[1])[0]["id"]
    assert other != first


def test_a_revocation_leaves_a_revoked_state_never_a_tombstone() -> None:
    revoked = CredentialRevoked(
        credential_id="cred-1",
        educator_id="TX-0001",
        district_id="D-1",
        micro_credential_id="mc-wait",
        micro_credential_version=1,
        enrollment_id="enr-1",
        reason=RevocationReason.PLAGIARISM,
        revoked_at=AT,
    )
    copy, state = route(source(revoked))
    assert copy.topic.name == "district.D-1.awards"
    assert state.value is not None
    assert read(state)[1]["status"] == "revoked"


def test_a_reissue_activates_the_new_credential_and_supersedes_the_old() -> None:
    reissued = CredentialReissued(
        credential_id="cred-2",
        educator_id="TX-0001",
        district_id="D-1",
        micro_credential_id="mc-wait",
        micro_credential_version=1,
        enrollment_id="enr-1",
        previous_credential_id="cred-1",
        reason="new key",
        awarded_at=AT,
        credential_url="https://creds.example/credentials/cred-2",
        reissued_at=AT,
    )
    _, new, old = route(source(reissued))
    assert (new.key, read(new)[1]["status"]) == (b"cred-2", "active")
    assert (old.key, read(old)[1]["status"]) == (b"cred-1", "superseded")
    assert read(old)[1]["superseded_by"] == "cred-2"


def test_events_that_are_not_credential_states_only_go_to_the_awards_topic() -> None:
    completed = StackCompleted(
        stack_completion_id="sc-1",
        stack_id="st-1",
        stack_version=1,
        stack_name="Questioning",
        educator_id="TX-0001",
        district_id="D.9",
        grants=(),
        member_credential_ids=("cred-1",),
        completed_at=AT,
    )
    (copy,) = route(source(completed))
    assert copy.topic.name == "district.D_2e9.awards"


def test_a_record_that_is_not_a_cloudevent_cannot_be_routed() -> None:
    with pytest.raises(EnvelopeError):
        route(SourceRecord("registry.credentials", 0, 1, b"k", b"{}", []))


def test_cursors_round_trip_and_garbage_is_a_bad_request() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    assert decode_cursor(None) == 0
    for bad in ("nope", encode_cursor(1)[:-2] + "!!", "ZGZjMTotMQ"):
        with pytest.raises(Refusal) as refused:
            decode_cursor(bad)
        assert refused.value.status == 400
