"""Every cross-service contract follows the house rules: versioned, documented, exact types."""

from __future__ import annotations

import inspect
import re
import types
import typing
from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import AwareDatetime, BaseModel

import mc_events.contracts as contracts
from mc_events import topics
from mc_events.contracts import Event, contract_for
from mc_events.schemas import published_contracts

CONTRACTS = sorted(published_contracts().values(), key=lambda c: c.ce_type())
SERVICES = ("registry", "enrollment", "review", "compensation")

EXPECTED_EVENT_TYPES = {
    # catalog
    "registry.micro_credential_published",
    "registry.micro_credential_retired",
    "registry.stack_published",
    "registry.stack_retired",
    # roster
    "enrollment.educator_registered",
    "enrollment.educator_updated",
    "enrollment.educator_moved_district",
    # enrollments
    "enrollment.enrolled",
    "enrollment.evidence_submitted",
    "enrollment.submission_returned_incomplete",
    "enrollment.withdrawn",
    "enrollment.expired",
    "enrollment.deadline_approaching",
    "enrollment.not_earned",
    # reviews
    "review.assigned",
    "review.decided",
    "review.revocation_requested",
    "review.assignment_escalated",
    # credentials
    "registry.credential_awarded",
    "registry.credential_revoked",
    "registry.credential_suspended",
    "registry.credential_reinstated",
    "registry.credential_reissued",
    "registry.stack_completed",
    "registry.stack_completion_reversed",
    "registry.renewal_credits_posted",
    "registry.endorsement_eligible",
    # compensation
    "compensation.stipend_approved",
    "compensation.stipend_reversed",
    "compensation.stipend_deferred",
    "compensation.payroll_batch_exported",
    "compensation.payroll_batch_acknowledged",
    "compensation.stipend_deferral_cancelled",
    "compensation.salary_lane_changed",
}

# The field that carries each topic's key rule (mc_events.topics).
KEY_FIELD_BY_RULE = {
    "micro-credential id or stack id": {"micro_credential_id", "stack_id"},
    "state educator id": {"educator_id"},
    "enrollment id": {"enrollment_id"},
    "district id": {"district_id"},
}


def _id(contract: type[Event]) -> str:
    return contract.ce_type()


def test_every_cross_service_event_has_a_contract():
    assert {c.event_type for c in CONTRACTS} == EXPECTED_EVENT_TYPES


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_contract_is_registered_under_its_cloudevents_type(contract: type[Event]):
    assert contract_for(contract.ce_type()) is contract
    assert contract.ce_type() == f"{contract.event_type}.v{contract.version}"


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_contract_is_exported_by_the_contracts_package(contract: type[Event]):
    assert getattr(contracts, contract.__name__) is contract
    assert contract.__name__ in contracts.__all__


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_contract_docstring_says_when_and_by_whom_it_is_emitted(contract: type[Event]):
    doc = inspect.getdoc(contract) or ""
    service = contract.event_type.split(".")[0]

    assert contract.__doc__, "the docstring must be the contract's own, not inherited"
    assert "Emitted by the" in doc
    assert f"{service} service" in doc


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_event_type_is_service_dot_past_tense_matching_the_class_name(contract: type[Event]):
    service, _, happened = contract.event_type.partition(".")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", contract.__name__).lower()

    assert service in SERVICES
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", happened)
    assert happened == snake


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_contract_is_published_on_a_known_topic_of_its_own_service(contract: type[Event]):
    topic = topics.topic(contract.topic)

    assert topic in topics.TOPICS
    assert contract.topic.split(".")[0] == contract.event_type.split(".")[0]


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_key_field_is_a_required_string_field_following_the_topic_key_rule(
    contract: type[Event],
):
    field = contract.model_fields.get(contract.key_field)

    assert field is not None, f"{contract.key_field} is not a field of {contract.__name__}"
    assert field.is_required()
    assert field.annotation is str
    assert contract.key_field in KEY_FIELD_BY_RULE[topics.topic(contract.topic).key]


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_subject_field_if_any_is_a_field(contract: type[Event]):
    assert contract.subject_field is None or contract.subject_field in contract.model_fields


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_contract_is_frozen_and_ignores_unknown_fields(contract: type[Event]):
    assert contract.model_config.get("frozen") is True
    assert contract.model_config.get("extra") == "ignore"


def _models_and_fields(model: type[BaseModel], seen: set[type] | None = None):
    """Every (model, field name, annotation leaf) reachable from ``model``."""
    seen = seen if seen is not None else set()
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        for leaf in _leaves(field.annotation):
            yield model, name, leaf
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                yield from _models_and_fields(leaf, seen)


def _leaves(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _leaves(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType, tuple, list, frozenset, set):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _leaves(arg)
    else:
        yield annotation


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_money_is_integer_cents_and_never_float(contract: type[Event]):
    for model, name, leaf in _models_and_fields(contract):
        assert leaf is not float, f"{model.__name__}.{name} is a float"
        if "cents" in name:
            assert leaf is int, f"{model.__name__}.{name} must be integer cents"
        if "amount" in name:
            assert name.endswith("_cents"), f"{model.__name__}.{name}: say the unit (_cents)"


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_datetimes_are_timezone_aware(contract: type[Event]):
    for model, name, leaf in _models_and_fields(contract):
        assert leaf is not datetime, f"{model.__name__}.{name}: use AwareDatetime"
        if name.endswith("_at") or name == "valid_until":
            assert leaf in (AwareDatetime, type(None)), f"{model.__name__}.{name}"


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_ids_are_strings(contract: type[Event]):
    for model, name, leaf in _models_and_fields(contract):
        if name == "id" or name.endswith("_id") or name.endswith("_ids"):
            assert leaf in (str, type(None)), f"{model.__name__}.{name} is {leaf}"


@pytest.mark.parametrize("contract", CONTRACTS, ids=_id)
def test_collections_are_immutable_tuples(contract: type[Event]):
    for model, name, field in (
        (m, n, f) for m in _all_models(contract) for n, f in m.model_fields.items()
    ):
        origin = typing.get_origin(field.annotation)
        assert origin not in (list, dict, set), f"{model.__name__}.{name}: use a tuple"


def _all_models(contract: type[BaseModel]) -> set[type[BaseModel]]:
    return {contract} | {
        leaf
        for _, _, leaf in _models_and_fields(contract)
        if isinstance(leaf, type) and issubclass(leaf, BaseModel)
    }


def test_credit_amounts_are_decimals():
    amounts = {
        (model.__name__, name)
        for contract in CONTRACTS
        for model, name, leaf in _models_and_fields(contract)
        if leaf is Decimal
    }
    assert {("Credits", "value"), ("RenewalCreditsPosted", "renewal_credits")} <= amounts
