"""The deletion request on its own, no store (DL-1, DL-2): given its events, when a step is
taken, then a new event or an error, and an error never leaves an event behind."""

from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.domain.deletion import DeletionRequest, Ground, Stage, StepRoles
from ledger.domain.errors import PermissionDeniedError, WorkflowViolationError

# The policy's default roles for the three steps.
STEP_ROLES = StepRoles(review="department_head", approve="info_mgmt_head", execute="sysadmin")
HEAD, INFO, ADMIN = (frozenset({STEP_ROLES.review}), frozenset({STEP_ROLES.approve}),
                     frozenset({STEP_ROLES.execute}))
EVERY_ROLE = HEAD | INFO | ADMIN
STEP_ARGUMENTS: dict[str, dict[str, object]] = {
    "review": {"department": "sales"}, "approve": {}, "execute": {"key_id": None}}


def requested() -> DeletionRequest:
    """Given a request filed by the sales clerk, already saved."""
    request = DeletionRequest.request(
        customer_id=uuid4(), ground=Ground.ERRONEOUS_OR_DUPLICATE,
        details="entered twice by mistake", department="sales", requested_by="clerk")
    request.collect_events()
    return request


def reviewed() -> DeletionRequest:
    request = requested()
    request.review(actor="head", roles=HEAD, department="sales", step_roles=STEP_ROLES)
    request.collect_events()
    return request


def approved() -> DeletionRequest:
    request = reviewed()
    request.approve(actor="info", roles=INFO, step_roles=STEP_ROLES)
    request.collect_events()
    return request


def executed() -> DeletionRequest:
    request = approved()
    request.execute(actor="admin", roles=ADMIN, key_id="k1", step_roles=STEP_ROLES)
    request.collect_events()
    return request


def refused(request: DeletionRequest, error: type[Exception], method: str, *,
            step_roles: StepRoles = STEP_ROLES, **kwargs: object) -> None:
    """When ``method`` is called, then ``error``, and no event is pending."""
    with pytest.raises(error):
        getattr(request, method)(**kwargs, step_roles=step_roles)
    assert request.collect_events() == []


def test_a_request_records_customer_ground_department_and_requester() -> None:
    request = DeletionRequest.request(customer_id=uuid4(), ground=Ground.LEGAL_OBLIGATION,
                                      details="court order 2026-17", department="finance",
                                      requested_by="clerk")
    (event,) = request.collect_events()
    assert isinstance(event, DeletionRequest.Requested)
    assert (event.ground, event.department, event.requested_by) == (
        "legal_obligation", "finance", "clerk")
    assert request.stage == Stage.REQUESTED and request.is_open


def test_the_four_steps_in_order_each_record_who_took_them() -> None:
    request = executed()
    assert request.stage == Stage.EXECUTED and not request.is_open
    assert request.participants == {"clerk": "requested", "head": "reviewed",
                                    "info": "approved", "admin": "executed"}


@pytest.mark.parametrize(("given", "step", "kwargs"), [
    (requested, "approve", {"actor": "info", "roles": INFO}),
    (requested, "execute", {"actor": "admin", "roles": ADMIN, "key_id": None}),
    (reviewed, "review", {"actor": "head2", "roles": HEAD, "department": "sales"}),
    (reviewed, "execute", {"actor": "admin", "roles": ADMIN, "key_id": None}),
    (approved, "approve", {"actor": "info2", "roles": INFO}),
    (executed, "execute", {"actor": "admin2", "roles": ADMIN, "key_id": None}),
    (executed, "reject", {"step": "execute", "actor": "admin2", "roles": ADMIN,
                          "reason": "too late"}),
])
def test_a_step_out_of_order_is_a_workflow_violation(given: object, step: str,
                                                     kwargs: dict[str, object]) -> None:
    refused(given(), WorkflowViolationError, step, **kwargs)  # type: ignore[operator]


@pytest.mark.parametrize(("given", "step", "kwargs"), [
    (requested, "review", {"actor": "x", "roles": EVERY_ROLE - HEAD, "department": "sales"}),
    (reviewed, "approve", {"actor": "x", "roles": EVERY_ROLE - INFO}),
    (approved, "execute", {"actor": "x", "roles": EVERY_ROLE - ADMIN, "key_id": None}),
    (requested, "reject", {"step": "review", "actor": "x", "roles": INFO | ADMIN,
                           "reason": "no"}),
    (reviewed, "reject", {"step": "approve", "actor": "x", "roles": HEAD | ADMIN,
                          "reason": "no"}),
])
def test_a_step_by_the_wrong_role_is_permission_denied(given: object, step: str,
                                                       kwargs: dict[str, object]) -> None:
    refused(given(), PermissionDeniedError, step, **kwargs)  # type: ignore[operator]


@pytest.mark.parametrize("department", ["finance", None])
def test_only_the_head_of_the_requesting_department_may_review(department: str | None
                                                               ) -> None:
    refused(requested(), PermissionDeniedError, "review", actor="head", roles=HEAD,
            department=department)


@pytest.mark.parametrize(("given", "step", "kwargs"), [
    (requested, "review", {"actor": "clerk", "roles": HEAD, "department": "sales"}),
    (reviewed, "approve", {"actor": "head", "roles": INFO}),
    (approved, "execute", {"actor": "info", "roles": ADMIN, "key_id": None}),
    (approved, "execute", {"actor": "clerk", "roles": ADMIN, "key_id": None}),
    (reviewed, "reject", {"step": "approve", "actor": "head", "roles": INFO,
                          "reason": "changed my mind"}),
])
def test_no_person_acts_in_two_roles_on_one_request(given: object, step: str,
                                                    kwargs: dict[str, object]) -> None:
    refused(given(), WorkflowViolationError, step, **kwargs)  # type: ignore[operator]


@pytest.mark.parametrize(("given", "step", "roles"), [
    (requested, "review", HEAD), (reviewed, "approve", INFO), (approved, "execute", ADMIN)])
def test_each_step_may_reject_with_a_reason_which_ends_the_request(
        given: object, step: str, roles: frozenset[str]) -> None:
    request = given()  # type: ignore[operator]
    request.reject(step=step, actor="decider", roles=roles, reason="the contract continues",
                   step_roles=STEP_ROLES)
    (event,) = request.collect_events()
    assert isinstance(event, DeletionRequest.Rejected)
    assert (event.step, event.reason, request.stage) == (
        step, "the contract continues", Stage.REJECTED)
    refused(request, WorkflowViolationError, step, actor="later", roles=EVERY_ROLE,
            **STEP_ARGUMENTS[step])


def test_an_unknown_step_cannot_be_rejected() -> None:
    refused(requested(), WorkflowViolationError, "reject", step="archive", actor="x",
            roles=EVERY_ROLE, reason="no")


def test_replaying_the_events_gives_the_same_request() -> None:
    request = DeletionRequest.request(customer_id=uuid4(), ground=Ground.RELATIONSHIP_ENDED,
                                      details="ended", department="sales", requested_by="c")
    request.review(actor="h", roles=HEAD, department="sales", step_roles=STEP_ROLES)
    request.approve(actor="i", roles=INFO, step_roles=STEP_ROLES)
    request.execute(actor="a", roles=ADMIN, key_id="k", step_roles=STEP_ROLES)
    replayed = None
    for event in request.collect_events():
        replayed = event.mutate(replayed)
    assert replayed is not None and replayed.as_dict() == request.as_dict()


def test_the_roles_given_decide_who_takes_each_step() -> None:
    """The domain names no role: a policy that has auditors approve makes them the
    approvers, and the head of customer-information management no longer is one."""
    audited = StepRoles(review="department_head", approve="auditor", execute="sysadmin")
    refused(reviewed(), PermissionDeniedError, "approve", actor="info", roles=INFO,
            step_roles=audited)
    request = reviewed()
    request.approve(actor="an.auditor", roles=frozenset({"auditor"}), step_roles=audited)
    (event,) = request.collect_events()
    assert isinstance(event, DeletionRequest.Approved) and request.stage is Stage.APPROVED
