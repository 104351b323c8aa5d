"""Command models: what a caller asks the ledger to do, named in the imperative."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.documented import ChangeSetBody, ProfileBody
from ledger.domain.customer import ReviewOutcome
from ledger.domain.profile import without_invisible


def new_command_id() -> str:
    return str(uuid4())


class Command(BaseModel):
    """Base of every command: an id for idempotent retries and optional audit context."""

    # Stripped, so a reason of only spaces is as missing as no reason.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    name: ClassVar[str]

    command_id: str = Field(default_factory=new_command_id, min_length=1, max_length=100)
    correlation_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("*", mode="after")
    @classmethod
    def check_visible_text(cls, value: Any) -> Any:
        """Every text a command carries follows the entry rule's character part (CI-4)."""
        return without_invisible(value) if isinstance(value, str) else value

    def fingerprint_payload(self) -> dict[str, Any]:
        """The content that identifies a retry: everything but the ids that label it."""
        return self.model_dump(mode="json", exclude={"command_id", "correlation_id"})


class RegisterCustomer(Command):
    """Register a new customer with a complete profile (CI-1..CI-4)."""

    name = "register-customer"
    profile: ProfileBody
    customer_id: UUID | None = None


class ProposeChange(Command):
    """Propose new values for any fields of one customer, to be verified (UP-3, UP-4)."""

    name = "propose-change"
    customer_id: UUID
    changes: ChangeSetBody
    happened_on: date
    expected_version: int | None = Field(default=None, ge=1)


class VerifyChange(Command):
    """Accept a pending change proposal; its changes apply atomically."""

    name = "verify-change"
    customer_id: UUID
    proposal_id: str = Field(min_length=1, max_length=100)
    expected_version: int | None = Field(default=None, ge=1)


class RejectChange(Command):
    """Reject a pending change proposal, giving the reason."""

    name = "reject-change"
    customer_id: UUID
    proposal_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    expected_version: int | None = Field(default=None, ge=1)


class RecordReview(Command):
    """Record the quarterly review of one customer (UP-1)."""

    name = "record-review"
    customer_id: UUID
    outcome: ReviewOutcome = ReviewOutcome.CONFIRMED
    reviewed_on: date | None = None
    expected_version: int | None = Field(default=None, ge=1)


COMMANDS: dict[str, type[Command]] = {
    cls.name: cls
    for cls in (RegisterCustomer, ProposeChange, VerifyChange, RejectChange, RecordReview)
}


class Outcome(BaseModel):
    """What a command answers: its write, and where in the log it landed."""

    model_config = ConfigDict(extra="allow")
    command_id: str
    command: str
    status: str = Field(description="accepted")
    aggregate_id: str | None = Field(description="The record the command decided on.")
    version: int | None = Field(description="That record's version after the command.")
    result: dict[str, Any] = Field(description="What the command reports, by command "
                                               "(a proposal_id, a request_id, ...).")
    replayed: bool = Field(description="True when a retry answered the earlier outcome.")
    position: int = Field(description="The event position of the write: a read's "
                                      "min_position for read-your-writes.")
