"""The policy's permission table applied by the bus (AC-1, OP-1): every role against every
command and query, generated from the policy; audited denials; self-service; masking."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, ValidationError

from commands.actor import Actor
from commands.customers import ProposeChange, RegisterCustomer
from commands.registry import ALL_COMMANDS
from ledger.domain.access import AccessRecord
from ledger.domain.errors import PermissionDeniedError
from ledger.policy import load_policy
from ledger.policy_access import ROLES
from projections.queries import GetCustomer
from service.bootstrap import Ledger
from service.query_routes import QUERY_CLASSES
from tests.accounts import ADMIN, ONE_TIME, PASSWORD, create, open_account
from tests.conftest import ALICE
from tests.factories import make_profile

POLICY = load_policy().access
OPERATIONS: dict[str, type[BaseModel]] = {**ALL_COMMANDS, **QUERY_CLASSES}


def sample_values(customer_id: UUID, proposal_id: str) -> dict[str, Any]:
    """A plausible value for every field an operation may ask for."""
    return {
        "customer_id": str(customer_id), "proposal_id": proposal_id, "profile": make_profile(),
        "changes": {"basic.fax": "+862112345678"}, "happened_on": "2026-11-01",
        "username": "target.user", "employee_id": f"E-{uuid4().hex[:8]}",
        "department": "sales", "role": "customer_service", "initial_password": ONE_TIME,
        "current_password": ONE_TIME, "new_password": PASSWORD,
        "one_time_password": "Fresh-Start#9931", "reason": "permission matrix",
        "name_prefix": "a", "request_id": str(uuid4()), "ground": "erroneous_or_duplicate",
        "details": "matrix", "step": "review", "phone": "+8613800138000",
    }


def operation(name: str, values: dict[str, Any]) -> BaseModel:
    """The operation built from the sample values; unvalidated if a sample does not fit, so
    the bus still reaches its authoriser (which runs before any handler)."""
    model = OPERATIONS[name]
    fields = {key: values[key] for key in model.model_fields if key in values}
    try:
        return model.model_validate(fields)
    except ValidationError:
        return model.model_construct(**fields)


def run(ledger: Ledger, name: str, values: dict[str, Any], actor: Actor) -> Exception | None:
    message = operation(name, values)
    try:
        if name in ALL_COMMANDS:
            ledger.bus.execute(message, actor)  # type: ignore[arg-type]
        else:
            ledger.bus.ask(message, actor)
    except Exception as error:  # any refusal but a permission denial is fine here
        return error
    return None


def cleared_for_phones(role: str) -> bool:
    return any("basic.phone" in POLICY.sensitive_fields[level]
               for level in POLICY.clearance.get(role, []))


def last_event(ledger: Ledger) -> Any:
    head = ledger.store.head_position()
    (notification,) = ledger.store.read_log(head - 1, 1)
    return ledger.store.mapper.to_domain_event(notification)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_operation_as_the_policy_table_says(
        ledger: Ledger, role: str) -> None:
    customer_id = UUID(ledger.bus.execute(RegisterCustomer(profile=make_profile()), ALICE)
                       ["aggregate_id"])
    proposal_id = ledger.bus.execute(ProposeChange(
        customer_id=customer_id, changes={"basic.fax": "+862187654321"},
        happened_on="2026-11-01"), ALICE)["result"]["proposal_id"]
    create(ledger, "target.user")
    ledger.runner.catch_up()
    actor = Actor(f"matrix.{role}", frozenset({role}), "192.0.2.7", department="sales")
    allowed = set(POLICY.permissions[role])

    for name in sorted(OPERATIONS):
        values = sample_values(customer_id, proposal_id)
        outcome = run(ledger, name, values, actor)
        if name in allowed:
            if isinstance(outcome, PermissionDeniedError):
                # The table allows the search; the role's clearance refuses its criterion.
                assert outcome.details["criterion"] == "phone", (role, name, outcome)
                assert not cleared_for_phones(role), (role, name)
            continue
        assert isinstance(outcome, PermissionDeniedError), (role, name, outcome)
        denial = last_event(ledger)
        assert isinstance(denial, AccessRecord.PermissionDenied), (role, name)
        target = values["customer_id"] if "customer_id" in OPERATIONS[name].model_fields \
            else denial.target
        assert (denial.operation, denial.target, denial.roles) == (name, target, [role])
        assert (denial.meta["actor"], denial.meta["client_address"]) == (actor.id, "192.0.2.7")


@pytest.mark.parametrize("role", ROLES)
def test_any_account_may_serve_itself(ledger: Ledger, role: str) -> None:
    me = open_account(ledger, "self.user", role)
    ledger.runner.catch_up()
    assert ledger.bus.ask(operation("get-account", {"username": me.id}), me)
    ledger.bus.execute_named("change-password", {
        "username": me.id, "current_password": PASSWORD,
        "new_password": "Another-Harbour#7731"}, me)
    ledger.bus.execute_named("report-compromise", {"username": me.id}, me)


def test_an_unknown_account_acting_in_process_is_refused_and_audited(ledger: Ledger) -> None:
    stranger = ledger.access.identity.actor_for("nobody")
    assert stranger.roles == frozenset()
    with pytest.raises(PermissionDeniedError):
        ledger.bus.execute(RegisterCustomer(profile=make_profile()), stranger)
    assert last_event(ledger).meta["actor"] == "nobody"


def test_bootstrap_installs_the_policy_authoriser(ledger: Ledger) -> None:
    with pytest.raises(PermissionDeniedError):
        ledger.bus.execute(RegisterCustomer(profile=make_profile()), Actor("no.roles"))
    ledger.bus.execute_named("create-account", {
        "username": "via.admin", "employee_id": "E-9", "department": "it",
        "initial_password": ONE_TIME}, ADMIN)


def test_sales_and_finance_see_the_same_customer_masked_differently(ledger: Ledger) -> None:
    profile = make_profile(seed=5)
    customer_id = ledger.bus.execute(RegisterCustomer(profile=profile), ALICE)["aggregate_id"]
    ledger.runner.catch_up()
    sales = open_account(ledger, "li.na", "sales")
    finance = open_account(ledger, "qian.hui", "finance", department="finance")

    as_sales = ledger.bus.ask(GetCustomer(customer_id=customer_id), sales)["customer"]
    as_finance = ledger.bus.ask(GetCustomer(customer_id=customer_id), finance)["customer"]

    def hidden_for(role: str) -> set[str]:
        return {path for level, paths in POLICY.sensitive_fields.items()
                if level not in POLICY.clearance.get(role, []) for path in paths}
    present = {"basic.phone", "basic.email", "contacts", "credit", "needs.price_expectation",
               "needs.functional_needs", "other.special_requirements",
               "basic.legal_representative", "basic.address"}
    assert set(as_sales["masked_fields"]) == hidden_for("sales") & present
    assert set(as_finance["masked_fields"]) == hidden_for("finance") & present
    phone = as_sales["profile"]["basic"]["phone"]
    assert phone.startswith("+86") and "*" not in phone
    assert as_finance["profile"]["basic"]["phone"] == f"+86******{phone[-4:]}"
    assert as_finance["profile"]["credit"]["rating"] == profile["credit"]["rating"]
    assert as_sales["profile"]["credit"]["rating"] == "***"
    assert as_sales["profile"]["basic"]["name"] == as_finance["profile"]["basic"]["name"]
    # A natural person's data: sales, who deal with the customer, read it; finance does not.
    assert as_sales["profile"]["basic"]["legal_representative"] == (
        profile["basic"]["legal_representative"])
    assert as_sales["profile"]["basic"]["address"]["street"] == (
        profile["basic"]["address"]["street"])
    assert as_finance["profile"]["basic"]["legal_representative"] == "***"
    assert set(as_finance["profile"]["basic"]["address"].values()) <= {"***", None}


def test_a_specialist_reads_everything_unmasked(ledger: Ledger) -> None:
    customer_id = ledger.bus.execute(RegisterCustomer(profile=make_profile()), ALICE)[
        "aggregate_id"]
    ledger.runner.catch_up()
    seen = ledger.bus.ask(GetCustomer(customer_id=customer_id), ALICE)["customer"]
    assert seen["masked_fields"] == []
