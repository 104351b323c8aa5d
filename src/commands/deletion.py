"""Deletion commands (DL-1..DL-3): request, review, approve, execute, or reject on the way."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.command import Command, Handler, Result
from commands.ports import UnitOfWork
from ledger.domain.customer import Customer
from ledger.domain.deletion import DeletionRequest, Ground
from ledger.domain.errors import PermissionDeniedError
from ledger.domain.free_text import DELETION_DETAILS_PATH, DELETION_REJECTION_PATH


class RequestDeletion(Command):
    """File a request to erase a customer's personal data, with its ground (DL-1)."""

    name = "request-deletion"
    customer_id: UUID
    ground: Ground
    details: str = Field(min_length=1, max_length=2000)
    department: str = Field(min_length=1, max_length=100)


class ReviewDeletion(Command):
    """The requesting department's head agrees the request should go ahead."""

    name = "review-deletion"
    request_id: UUID


class ApproveDeletion(Command):
    """The head of customer-information management approves the reviewed request."""

    name = "approve-deletion"
    request_id: UUID


class ExecuteDeletion(Command):
    """A system administrator erases the customer: the data key is destroyed (DL-3)."""

    name = "execute-deletion"
    request_id: UUID


class RejectDeletion(Command):
    """Stop a deletion request at the step the actor is responsible for, with a reason."""

    name = "reject-deletion"
    request_id: UUID
    step: Literal["review", "approve", "execute"]
    reason: str = Field(min_length=1, max_length=2000)


def _request(uow: UnitOfWork, request_id: UUID) -> DeletionRequest:
    return uow.load(request_id, DeletionRequest, "deletion request")


def request_deletion(command: RequestDeletion, uow: UnitOfWork) -> Result:
    if uow.department is not None and command.department != uow.department:
        # DL-2: the requesting department files the request, and its head reviews it.
        raise PermissionDeniedError("a deletion request is filed for your own department",
                                    details={"department": uow.department})
    customer = uow.customer(command.customer_id)
    customer.check_not_erased()
    # Free text about the customer: sealed under its key, gone with its erasure.
    details = uow.personal_data.seal_text(str(customer.id), DELETION_DETAILS_PATH,
                                          command.details)
    request = DeletionRequest.request(
        customer_id=customer.id, ground=command.ground, details=details,
        department=command.department, requested_by=uow.actor)
    uow.add(request)
    return {"request_id": str(request.id), "customer_id": str(customer.id)}


def review_deletion(command: ReviewDeletion, uow: UnitOfWork) -> Result:
    request = _request(uow, command.request_id)
    request.review(actor=uow.actor, roles=uow.roles, department=uow.department,
                   step_roles=uow.policy.deletion.step_roles)
    return {"request_id": str(request.id), "stage": str(request.stage)}


def approve_deletion(command: ApproveDeletion, uow: UnitOfWork) -> Result:
    request = _request(uow, command.request_id)
    request.approve(actor=uow.actor, roles=uow.roles, step_roles=uow.policy.deletion.step_roles)
    return {"request_id": str(request.id), "stage": str(request.stage)}


def execute_deletion(command: ExecuteDeletion, uow: UnitOfWork) -> Result:
    request = _request(uow, command.request_id)
    step_roles = uow.policy.deletion.step_roles
    request.check_step("execute", uow.actor, uow.roles, step_roles)
    customer = uow.load(UUID(request.customer_id), Customer, "customer")
    # DL-5: filed and approved it may be, but not executed while a hold is in force.
    customer.check_no_hold_in_force(uow.today())
    key_id = uow.personal_data.key_id(request.customer_id)
    customer.erase(request_id=str(request.id), ground=request.ground)
    request.execute(actor=uow.actor, roles=uow.roles, key_id=key_id, step_roles=step_roles)
    # The key goes only once the erasure is durable, and before the command returns, so the
    # next read finds it gone: through the one function the erasure follower applies logged
    # erasures with (``ledger.erasures``), which catches up if this process dies in between.
    uow.on_commit(lambda: uow.personal_data.destroy_key(request.customer_id))
    return {"request_id": str(request.id), "customer_id": request.customer_id,
            "key_id": key_id, "stage": str(request.stage)}


def reject_deletion(command: RejectDeletion, uow: UnitOfWork) -> Result:
    request = _request(uow, command.request_id)
    step_roles = uow.policy.deletion.step_roles
    request.check_step(command.step, uow.actor, uow.roles, step_roles)
    reason = uow.personal_data.seal_text(request.customer_id, DELETION_REJECTION_PATH,
                                         command.reason)
    request.reject(step=command.step, actor=uow.actor, roles=uow.roles, reason=reason,
                   step_roles=step_roles)
    return {"request_id": str(request.id), "stage": str(request.stage)}


HANDLERS: dict[type[Command], Handler] = {
    RequestDeletion: request_deletion,
    ReviewDeletion: review_deletion,
    ApproveDeletion: approve_deletion,
    ExecuteDeletion: execute_deletion,
    RejectDeletion: reject_deletion,
}
