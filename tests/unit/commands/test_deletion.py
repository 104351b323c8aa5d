"""The deletion commands through the real bus (DL-1..DL-3), on the in-memory write side:
given a customer and a request, when a step is taken by someone, then the request moves on,
or the step is refused with ``workflow_violation`` or ``permission_denied`` and the store is
byte-for-byte unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.bus import Actor, AllowAll, MessageBus
from commands.deletion import (
    ApproveDeletion,
    ExecuteDeletion,
    RejectDeletion,
    RequestDeletion,
    ReviewDeletion,
)
from commands.models import Command, ProposeChange, RecordReview, RegisterCustomer, VerifyChange
from commands.registry import ALL_HANDLERS
from ledger.domain.deletion import DeletionRequest, Ground
from ledger.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    WorkflowViolationError,
)
from tests.factories import make_profile
from tests.fakes import WriteSide
from tests.privacy_support import (
    CHECKER,
    CLERK,
    FINANCE_HEAD,
    HAPPENED_ON,
    INFO_HEAD,
    SALES_HEAD,
    SYSADMIN,
    change,
    erase,
    register,
    request_deletion,
    run,
)
from tests.store_snapshot import (
    only_a_denial_recorded,
    store_unchanged,
)

SALES_HEAD_AND_INFO_HEAD = Actor("zhao.lei", frozenset({"department_head", "info_mgmt_head"}),
                                 department="sales")
CLERK_AND_SALES_HEAD = Actor("wang.fang", frozenset({"info_specialist", "department_head"}),
                             department="sales")
INFO_HEAD_AND_SYSADMIN = Actor("sun.li", frozenset({"info_mgmt_head", "sysadmin"}))


def a_customer(ledger: WriteSide) -> str:
    return register(ledger, make_profile("zh_CN", seed=21))


def at_stage(ledger: WriteSide, stage: str) -> str:
    """Given a request for a new customer, taken as far as ``stage``."""
    request_id = request_deletion(ledger, a_customer(ledger))
    steps = [("reviewed", ReviewDeletion, SALES_HEAD), ("approved", ApproveDeletion, INFO_HEAD),
             ("executed", ExecuteDeletion, SYSADMIN)]
    for reached, command, actor in steps:
        if stage in ("requested", "rejected"):
            break
        run(ledger, command(request_id=UUID(request_id)), actor)
        if reached == stage:
            break
    if stage == "rejected":
        run(ledger, RejectDeletion(request_id=UUID(request_id), step="review",
                                   reason="the customer renewed"), SALES_HEAD)
    return request_id


def refused(ledger: WriteSide, command: Command, actor: Actor, error: type[Exception],
            bus: MessageBus | None = None) -> None:
    """When ``actor`` runs ``command``, then ``error``, and the store is unchanged but for
    the audit record a permission denial writes, whichever check refused."""
    unchanged = (only_a_denial_recorded if error is PermissionDeniedError
                 else store_unchanged)
    with unchanged(ledger.store), pytest.raises(error):
        (bus or ledger.bus).execute(command, actor)


def stage_of(ledger: WriteSide, request_id: str) -> str:
    request = ledger.store.repository.get(UUID(request_id))
    assert isinstance(request, DeletionRequest)
    return request.stage.value


def step(name: str, request_id: str) -> Command:
    commands: dict[str, Callable[[], Command]] = {
        "review": lambda: ReviewDeletion(request_id=UUID(request_id)),
        "approve": lambda: ApproveDeletion(request_id=UUID(request_id)),
        "execute": lambda: ExecuteDeletion(request_id=UUID(request_id)),
    }
    return commands[name]()


RIGHT_ACTOR = {"review": SALES_HEAD, "approve": INFO_HEAD, "execute": SYSADMIN}


# The workflow ---------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "decider"), [
    ("review", SALES_HEAD), ("approve", INFO_HEAD), ("execute", SYSADMIN)])
def test_a_rejection_at_any_step_ends_the_request_and_keeps_the_customer(
        ledger: WriteSide, at: str, decider: Actor) -> None:
    customer_id = a_customer(ledger)
    request_id = request_deletion(ledger, customer_id)
    for earlier in ("review", "approve", "execute")[: ("review", "approve", "execute").index(at)]:
        run(ledger, step(earlier, request_id), RIGHT_ACTOR[earlier])
    run(ledger, RejectDeletion(request_id=UUID(request_id), step=at,  # type: ignore[arg-type]
                               reason="still an active customer"), decider)
    assert stage_of(ledger, request_id) == "rejected"
    assert ledger.keys.data_key(customer_id) is not None
    change(ledger, customer_id, {"basic.legal_representative": "欧阳翠花"})


def test_a_request_for_an_unknown_customer_is_not_found(ledger: WriteSide) -> None:
    refused(ledger, RequestDeletion(customer_id=uuid4(), ground=Ground.LEGAL_OBLIGATION,
                                    details="x", department="sales"), CLERK, NotFoundError)


# Refusals that write nothing ----------------------------------------------------------

@pytest.mark.parametrize(("stage", "attempt"), [
    ("requested", "approve"), ("requested", "execute"), ("reviewed", "review"),
    ("reviewed", "execute"), ("approved", "review"), ("approved", "approve"),
    ("executed", "execute"), ("executed", "approve"), ("rejected", "review"),
    ("rejected", "approve"), ("rejected", "execute"),
])
def test_a_step_out_of_order_is_a_workflow_violation(ledger: WriteSide, stage: str,
                                                     attempt: str) -> None:
    request_id = at_stage(ledger, stage)
    refused(ledger, step(attempt, request_id), RIGHT_ACTOR[attempt], WorkflowViolationError)


@pytest.mark.parametrize(("stage", "at"), [
    ("reviewed", "review"), ("requested", "approve"), ("approved", "approve"),
    ("executed", "execute"), ("rejected", "review")])
def test_a_rejection_out_of_order_is_a_workflow_violation(ledger: WriteSide, stage: str,
                                                          at: str) -> None:
    request_id = at_stage(ledger, stage)
    refused(ledger, RejectDeletion(request_id=UUID(request_id), step=at,  # type: ignore[arg-type]
                                   reason="no"), RIGHT_ACTOR[at], WorkflowViolationError)


def test_a_head_of_another_department_may_not_review(ledger: WriteSide) -> None:
    request_id = at_stage(ledger, "requested")
    refused(ledger, step("review", request_id), FINANCE_HEAD, PermissionDeniedError)
    nowhere = Actor("kong.jie", frozenset({"department_head"}))
    refused(ledger, step("review", request_id), nowhere, PermissionDeniedError)


@pytest.mark.parametrize(("stage", "at", "actor"), [
    ("requested", "review", SYSADMIN), ("requested", "review", INFO_HEAD),
    ("reviewed", "approve", SALES_HEAD), ("reviewed", "approve", SYSADMIN),
    ("approved", "execute", SALES_HEAD), ("approved", "execute", INFO_HEAD),
])
def test_a_rejection_by_the_wrong_role_for_that_step_is_permission_denied(
        ledger: WriteSide, stage: str, at: str, actor: Actor) -> None:
    """The role table lets all three heads reject; the request decides at which step."""
    request_id = at_stage(ledger, stage)
    refused(ledger, RejectDeletion(request_id=UUID(request_id), step=at,  # type: ignore[arg-type]
                                   reason="no"), actor, PermissionDeniedError)


@pytest.mark.parametrize(("stage", "attempt", "actor"), [
    ("requested", "review", INFO_HEAD), ("requested", "review", SYSADMIN),
    ("reviewed", "approve", SALES_HEAD), ("reviewed", "approve", SYSADMIN),
    ("approved", "execute", SALES_HEAD), ("approved", "execute", INFO_HEAD),
    ("approved", "execute", CLERK),
])
def test_the_request_refuses_the_wrong_role_even_if_the_role_table_allowed_it(
        ledger: WriteSide, stage: str, attempt: str, actor: Actor) -> None:
    permissive = MessageBus(ledger.store, ledger.policy, ALL_HANDLERS, authoriser=AllowAll(),
                            clock=ledger.bus.clock, personal_data=ledger.protector)
    request_id = at_stage(ledger, stage)
    refused(ledger, step(attempt, request_id), actor, PermissionDeniedError, permissive)


@pytest.mark.parametrize(("stage", "attempt", "actor"), [
    ("requested", "review", CLERK), ("reviewed", "approve", SALES_HEAD),
    ("approved", "execute", INFO_HEAD)])
def test_the_role_table_refuses_the_wrong_role_and_records_only_the_denial(
        ledger: WriteSide, stage: str, attempt: str, actor: Actor) -> None:
    request_id = at_stage(ledger, stage)
    with only_a_denial_recorded(ledger.store), pytest.raises(PermissionDeniedError):
        ledger.bus.execute(step(attempt, request_id), actor)
    assert stage_of(ledger, request_id) == stage


def test_the_requester_may_not_review_their_own_request(ledger: WriteSide) -> None:
    request_id = request_deletion(ledger, a_customer(ledger), by=CLERK_AND_SALES_HEAD)
    refused(ledger, step("review", request_id), CLERK_AND_SALES_HEAD, WorkflowViolationError)


def test_the_reviewer_may_not_also_approve(ledger: WriteSide) -> None:
    request_id = request_deletion(ledger, a_customer(ledger))
    run(ledger, step("review", request_id), SALES_HEAD_AND_INFO_HEAD)
    refused(ledger, step("approve", request_id), SALES_HEAD_AND_INFO_HEAD,
            WorkflowViolationError)
    refused(ledger, RejectDeletion(request_id=UUID(request_id), step="approve", reason="no"),
            SALES_HEAD_AND_INFO_HEAD, WorkflowViolationError)


def test_the_approver_may_not_also_execute(ledger: WriteSide) -> None:
    request_id = at_stage(ledger, "reviewed")
    run(ledger, step("approve", request_id), INFO_HEAD_AND_SYSADMIN)
    refused(ledger, step("execute", request_id), INFO_HEAD_AND_SYSADMIN, WorkflowViolationError)
    assert stage_of(ledger, request_id) == "approved"


# Executing twice ---------------------------------------------------------------------

def test_executing_an_executed_request_again_is_refused(ledger: WriteSide) -> None:
    request_id = at_stage(ledger, "executed")
    refused(ledger, step("execute", request_id), SYSADMIN, WorkflowViolationError)
    other_admin = Actor("he.ming", frozenset({"sysadmin"}))
    refused(ledger, step("execute", request_id), other_admin, WorkflowViolationError)


def test_a_retried_execution_returns_the_first_outcome_and_writes_nothing(ledger: WriteSide
                                                                          ) -> None:
    request_id = at_stage(ledger, "approved")
    command = step("execute", request_id)
    first = run(ledger, command, SYSADMIN)
    with store_unchanged(ledger.store):
        again = run(ledger, command, SYSADMIN)
    assert again["replayed"] and again["result"] == first["result"]


def test_a_second_request_for_an_erased_customer_cannot_be_executed(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    first, second = (request_deletion(ledger, customer_id) for _ in range(2))
    for request_id in (first, second):
        run(ledger, step("review", request_id), SALES_HEAD)
        run(ledger, step("approve", request_id), INFO_HEAD)
    run(ledger, step("execute", first), SYSADMIN)
    refused(ledger, step("execute", second), SYSADMIN, WorkflowViolationError)
    refused(ledger, RequestDeletion(customer_id=UUID(customer_id), ground=Ground.LEGAL_OBLIGATION,
                                    details="again", department="sales"), CLERK,
            WorkflowViolationError)


def test_an_erased_customer_takes_no_more_changes_or_reviews(ledger: WriteSide) -> None:
    customer_id = a_customer(ledger)
    pending = change(ledger, customer_id, {"business.scale": "large"}, verify=False)
    erase(ledger, customer_id)
    for command, actor in (
        (ProposeChange(customer_id=UUID(customer_id), changes={"business.scale": "small"},
                       happened_on=HAPPENED_ON), CLERK),
        (VerifyChange(customer_id=UUID(customer_id), proposal_id=pending), CHECKER),
        (RecordReview(customer_id=UUID(customer_id)), CHECKER),
    ):
        refused(ledger, command, actor, WorkflowViolationError)
    refused(ledger, RegisterCustomer(profile=make_profile(seed=2), customer_id=UUID(customer_id)),
            CLERK, ConflictError)


def test_the_key_is_kept_when_the_erasure_is_not_saved(ledger: WriteSide,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    customer_id = a_customer(ledger)
    request_id = request_deletion(ledger, customer_id)
    run(ledger, step("review", request_id), SALES_HEAD)
    run(ledger, step("approve", request_id), INFO_HEAD)

    def failing_save(*_: Any, **__: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(ledger.store, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        run(ledger, step("execute", request_id), SYSADMIN)
    assert ledger.keys.data_key(customer_id) is not None
    assert not ledger.keys.is_erased(customer_id)
